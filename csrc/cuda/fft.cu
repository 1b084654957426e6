#include "fft.cuh"

#include "fft_block.cuh"
#include "launch.cuh"

namespace udmt::cuda {

namespace {

using namespace fft_block;

constexpr int kThreads = 256;

int log2_of(int m) { return 31 - __builtin_clz(static_cast<unsigned>(m)); }

size_t shared_bytes(int m) { return sizeof(float2) * (static_cast<size_t>(m) * m + m / 2); }

__global__ void rfft2_kernel(const float* x, int m, int log2m, float2* out) {
  extern __shared__ float2 shared[];
  float2* tile = shared;
  float2* twiddle = shared + m * m;
  const float* plane = x + static_cast<long long>(blockIdx.x) * m * m;
  for (int t = threadIdx.x; t < m * m; t += blockDim.x) tile[t] = make_float2(plane[t], 0.0f);
  make_twiddles(twiddle, m);  // its barrier also publishes the tile
  dif(tile, twiddle, m, true, false);
  dif(tile, twiddle, m, false, false);
  const int k = m / 2 + 1;
  float2* spectrum = out + static_cast<long long>(blockIdx.x) * m * k;
  for (int t = threadIdx.x; t < m * k; t += blockDim.x) {
    const int ky = t / k, kx = t % k;
    spectrum[t] = tile[bit_reverse(ky, log2m) * m + bit_reverse(kx, log2m)];
  }
}

__global__ void irfft2_kernel(const float2* spectrum, int m, int log2m, float* out) {
  extern __shared__ float2 shared[];
  float2* tile = shared;
  float2* twiddle = shared + m * m;
  const int k = m / 2 + 1;
  const float2* half = spectrum + static_cast<long long>(blockIdx.x) * m * k;
  for (int t = threadIdx.x; t < m * m; t += blockDim.x) {
    const int ky = t / m, kx = t % m;
    tile[t] = kx < k ? half[ky * k + kx] : make_float2(0.0f, 0.0f);
  }
  make_twiddles(twiddle, m);
  // Inverse along the columns of the stored half (numpy's irfft2 order: ifft over rows first); the rest of
  // each row is its Hermitian extension, whose real part after the row transform is the c2r result (the
  // imaginary parts of the DC and Nyquist columns only reach the imaginary part, which is dropped).
  dif(tile, twiddle, m, false, true);
  for (int t = threadIdx.x; t < m * m; t += blockDim.x) {
    const int row = t / m, kx = t % m;
    if (kx >= k) tile[t] = cconj(tile[row * m + (m - kx)]);
  }
  __syncthreads();
  dif(tile, twiddle, m, true, true);
  const float scale = 1.0f / static_cast<float>(m * m);
  float* plane = out + static_cast<long long>(blockIdx.x) * m * m;
  for (int t = threadIdx.x; t < m * m; t += blockDim.x) {
    const int y = t / m, xx = t % m;
    plane[t] = tile[bit_reverse(y, log2m) * m + bit_reverse(xx, log2m)].x * scale;
  }
}

}  // namespace

bool fft_side_ok(int side) { return side >= 8 && side <= kMaxSide && (side & (side - 1)) == 0; }

void rfft2(const float* x, int planes, int side, float2* out, cudaStream_t stream) {
  if (!fft_side_ok(side)) throw std::invalid_argument("rfft2: side must be a power of two in [8, 64]");
  if (planes == 0) return;
  rfft2_kernel<<<planes, kThreads, shared_bytes(side), stream>>>(x, side, log2_of(side), out);
  check_launch("rfft2");
}

void irfft2(const float2* spectrum, int planes, int side, float* out, cudaStream_t stream) {
  if (!fft_side_ok(side)) throw std::invalid_argument("irfft2: side must be a power of two in [8, 64]");
  if (planes == 0) return;
  irfft2_kernel<<<planes, kThreads, shared_bytes(side), stream>>>(spectrum, side, log2_of(side), out);
  check_launch("irfft2");
}

}  // namespace udmt::cuda
