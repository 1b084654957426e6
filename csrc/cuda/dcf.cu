#include "dcf.cuh"

#include "fft_block.cuh"
#include "launch.cuh"

namespace udmt::cuda {

namespace {

using fft_block::cconj;
using fft_block::cmul;

constexpr int kThreads = 256;

// Signed numpy frequency (cycles per sample) of row `ky` of an M-row spectrum: fftfreq puts M/2 at −1/2.
__device__ inline float row_frequency(int ky, int m) { return static_cast<float>(ky < m / 2 ? ky : ky - m) / m; }

__global__ void learn_kernel(const float2* spectra, const float2* yf, const float* offsets, const float* eta,
                             int animals, int channels, int m, float2* num, float* den) {
  const int k = m / 2 + 1, bins = m * k;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= animals * bins) return;
  const int a = t / bins, f = t % bins;
  const int ky = f / k, kx = f % k;
  float2 label = cconj(yf[f]);
  if (offsets != nullptr) {  // conj(Ŷ e^{-iφ}) = conj(Ŷ) e^{iφ}, φ = 2π(kx dx + ky dy)
    float s, c;
    sincospif(2.0f * (static_cast<float>(kx) / m * offsets[2 * a] + row_frequency(ky, m) * offsets[2 * a + 1]), &s, &c);
    label = cmul(label, make_float2(c, s));
  }
  const float rate = eta == nullptr ? 1.0f : eta[a];
  const float keep = 1.0f - rate;
  float energy = 0.0f;
  for (int ch = 0; ch < channels; ++ch) {
    const long long i = (static_cast<long long>(a) * channels + ch) * bins + f;
    const float2 x = spectra[i];
    const float2 fresh = cmul(label, x);
    energy += x.x * x.x + x.y * x.y;
    num[i] = eta == nullptr ? fresh : make_float2(keep * num[i].x + rate * fresh.x, keep * num[i].y + rate * fresh.y);
  }
  const long long j = static_cast<long long>(a) * bins + f;
  den[j] = eta == nullptr ? energy : keep * den[j] + rate * energy;
}

__global__ void response_kernel(const float2* num, const float* den, const float2* anchor_num,
                                const float* anchor_den, const float2* spectra, float lam, float w_running,
                                float w_anchor, int animals, int channels, int m, float2* out) {
  const int k = m / 2 + 1, bins = m * k;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= animals * bins) return;
  const int a = t / bins, f = t % bins;
  float2 running = make_float2(0.0f, 0.0f), anchor = make_float2(0.0f, 0.0f);
  for (int ch = 0; ch < channels; ++ch) {
    const long long i = (static_cast<long long>(a) * channels + ch) * bins + f;
    const float2 z = spectra[i];
    const float2 r = cmul(cconj(num[i]), z), q = cmul(cconj(anchor_num[i]), z);
    running = make_float2(running.x + r.x, running.y + r.y);
    anchor = make_float2(anchor.x + q.x, anchor.y + q.y);
  }
  const float wr = w_running / (den[t] + lam), wa = w_anchor / (anchor_den[t] + lam);
  out[t] = make_float2(wr * running.x + wa * anchor.x, wr * running.y + wa * anchor.y);
}

// Block-wide argmax (first index among equal values) of one map; every thread gets the result.
__device__ void block_argmax(const float* map, int count, float* best_value, int* best_index) {
  __shared__ float values[kThreads];
  __shared__ int indices[kThreads];
  float v = -INFINITY;
  int idx = count;  // stays past the end only for a map without a number above -inf
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    if (map[i] > v) { v = map[i]; idx = i; }  // strided ascending: the first maximum of this thread's share
  }
  values[threadIdx.x] = v;
  indices[threadIdx.x] = idx;
  __syncthreads();
  for (int width = blockDim.x / 2; width > 0; width >>= 1) {
    if (threadIdx.x < width) {
      const float ov = values[threadIdx.x + width];
      const int oi = indices[threadIdx.x + width];
      if (ov > values[threadIdx.x] || (ov == values[threadIdx.x] && oi < indices[threadIdx.x])) {
        values[threadIdx.x] = ov;
        indices[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  *best_value = values[0];
  *best_index = indices[0] < count ? indices[0] : 0;
  __syncthreads();
}

__device__ double block_sum(double v) {
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (int width = blockDim.x / 2; width > 0; width >>= 1) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  const double total = partial[0];
  __syncthreads();
  return total;
}

__device__ inline float parabolic(float c, float minus, float plus) {
  const float denom = minus - 2.0f * c + plus;
  return fabsf(denom) > 1e-12f ? 0.5f * (minus - plus) / denom : 0.0f;
}

__global__ void peak_psr_kernel(const float* response, int m, int exclude, float* offset, float* psr) {
  const float* map = response + static_cast<long long>(blockIdx.x) * m * m;
  float peak;
  int index;
  block_argmax(map, m * m, &peak, &index);
  const int py = index / m, px = index % m;
  const int lo_y = max(py - exclude, 0), hi_y = min(py + exclude, m - 1) + 1;
  const int lo_x = max(px - exclude, 0), hi_x = min(px + exclude, m - 1) + 1;
  double sum = 0.0, sum_sq = 0.0;
  for (int i = threadIdx.x; i < m * m; i += blockDim.x) {
    const int y = i / m, x = i % m;
    if (y >= lo_y && y < hi_y && x >= lo_x && x < hi_x) continue;
    const double r = map[i];
    sum += r;
    sum_sq += r * r;
  }
  sum = block_sum(sum);
  sum_sq = block_sum(sum_sq);
  if (threadIdx.x != 0) return;
  const float dx = parabolic(peak, map[py * m + (px + m - 1) % m], map[py * m + (px + 1) % m]);
  const float dy = parabolic(peak, map[((py + m - 1) % m) * m + px], map[((py + 1) % m) * m + px]);
  offset[2 * blockIdx.x] = px + fminf(fmaxf(dx, -0.5f), 0.5f) - m / 2;
  offset[2 * blockIdx.x + 1] = py + fminf(fmaxf(dy, -0.5f), 0.5f) - m / 2;
  const double count = static_cast<double>(m * m - (hi_y - lo_y) * (hi_x - lo_x));
  const double mean = sum / count, variance = fmax(sum_sq / count - mean * mean, 0.0);
  psr[blockIdx.x] = static_cast<float>((peak - mean) / (sqrt(variance) + 1e-9));
}

int blocks_for(int items) { return (items + kThreads - 1) / kThreads; }

}  // namespace

void dcf_learn(const float2* spectra, const float2* yf, const float* offsets, const float* eta, int animals,
               int channels, int side, float2* num, float* den, cudaStream_t stream) {
  const int items = animals * side * (side / 2 + 1);
  if (items == 0) return;
  learn_kernel<<<blocks_for(items), kThreads, 0, stream>>>(spectra, yf, offsets, eta, animals, channels, side, num, den);
  check_launch("dcf_learn");
}

void dcf_response(const float2* num, const float* den, const float2* anchor_num, const float* anchor_den,
                  const float2* spectra, float lam, float w_running, float w_anchor, int animals, int channels,
                  int side, float2* out, cudaStream_t stream) {
  const int items = animals * side * (side / 2 + 1);
  if (items == 0) return;
  response_kernel<<<blocks_for(items), kThreads, 0, stream>>>(num, den, anchor_num, anchor_den, spectra, lam,
                                                               w_running, w_anchor, animals, channels, side, out);
  check_launch("dcf_response");
}

void peak_psr(const float* response, int maps, int side, int exclude, float* offset, float* psr, cudaStream_t stream) {
  if (maps == 0) return;
  peak_psr_kernel<<<maps, kThreads, 0, stream>>>(response, side, exclude, offset, psr);
  check_launch("peak_psr");
}

}  // namespace udmt::cuda
