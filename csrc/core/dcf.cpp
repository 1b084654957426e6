#include "dcf.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fft.hpp"
#include "simd.hpp"

namespace udmt::dcf {
namespace {

// What one pass over an animal does; null pointers switch parts off.
struct Step {
  const float* z = nullptr;  // detect on these features (C planes) ...
  const float* x = nullptr;  // ... and/or learn from these (C planes)
  const float* window = nullptr;
  const float* yf = nullptr;  // label spectrum, interleaved (H*K complex)
  float lam = 0.f, eta = 1.f;
  bool replace = false;  // learn: overwrite num/den instead of blending
  int psr_radius = 5;
};

// Per-thread buffers: FFT scratch, one split spectrum, the detection accumulator, Σ|X̂|², one response.
struct Buffers {
  explicit Buffers(const fft::Plan& p)
      : data(p.scratch_size() + 5 * p.spectrum_size() + static_cast<std::size_t>(p.h) * p.w) {}
  float* scratch() { return data.data(); }
  float* spectrum(const fft::Plan& p) { return data.data() + p.scratch_size(); }
  float* acc(const fft::Plan& p) { return spectrum(p) + 2 * p.spectrum_size(); }
  float* dsum(const fft::Plan& p) { return acc(p) + 2 * p.spectrum_size(); }
  float* response(const fft::Plan& p) { return dsum(p) + p.spectrum_size(); }
  std::vector<float> data;
};

float vertex_offset(float left, float centre, float right) {
  const float curvature = left - 2.0f * centre + right;
  return curvature < 0.0f ? 0.5f * (left - right) / curvature : 0.0f;
}

Peak find_peak(const float* r, int h, int w, int radius) {
  std::size_t best = 0;
  double sum = 0.0, sumsq = 0.0;
  const std::size_t n = static_cast<std::size_t>(h) * w;
  for (std::size_t i = 0; i < n; ++i) {
    if (r[i] > r[best]) best = i;
    sum += r[i];
    sumsq += static_cast<double>(r[i]) * r[i];
  }
  const int iy = static_cast<int>(best / w), ix = static_cast<int>(best % w);
  const float v = r[best];
  Peak pk;
  pk.ix = ix - w / 2;
  pk.iy = iy - h / 2;
  pk.value = v;
  const float* row = r + static_cast<std::size_t>(iy) * w;
  pk.dx = static_cast<float>(pk.ix) + vertex_offset(row[(ix + w - 1) % w], v, row[(ix + 1) % w]);
  pk.dy = static_cast<float>(pk.iy) +
          vertex_offset(r[static_cast<std::size_t>((iy + h - 1) % h) * w + ix], v,
                        r[static_cast<std::size_t>((iy + 1) % h) * w + ix]);
  // Sidelobe: everything outside the (2 radius + 1)² window around the peak (circular).
  double win_sum = 0.0, win_sumsq = 0.0;
  for (int oy = -radius; oy <= radius; ++oy) {
    const float* wrow = r + static_cast<std::size_t>(((iy + oy) % h + h) % h) * w;
    for (int ox = -radius; ox <= radius; ++ox) {
      const double val = wrow[((ix + ox) % w + w) % w];
      win_sum += val;
      win_sumsq += val * val;
    }
  }
  const double side_n = static_cast<double>(n) - static_cast<double>(2 * radius + 1) * (2 * radius + 1);
  const double mean = (sum - win_sum) / side_n;
  const double var = std::max((sumsq - win_sumsq) / side_n - mean * mean, 0.0);
  const double sd = std::sqrt(var);
  pk.psr = sd > 0.0 ? static_cast<float>((v - mean) / sd) : 0.0f;
  return pk;
}

// All of one animal's work: C forward FFTs for detection and/or C for learning, one inverse FFT.
UDMT_MULTIVERSION void animal_step(const fft::Plan& p, int channels, const Step& st, float* num, float* den,
                                   float* response, Peak* peak, Buffers& buf) {
  const std::size_t hk = p.spectrum_size(), hw = static_cast<std::size_t>(p.h) * p.w;
  float* __restrict fr = buf.spectrum(p);
  float* __restrict fi = fr + hk;
  float* __restrict accr = buf.acc(p);
  float* __restrict acci = accr + hk;
  float* __restrict dsum = buf.dsum(p);
  const float* __restrict y = st.yf;
  if (st.z != nullptr) std::fill(accr, accr + 2 * hk, 0.0f);
  if (st.x != nullptr) std::fill(dsum, dsum + hk, 0.0f);
  const float keep = 1.0f - st.eta, eta = st.eta;
  for (int c = 0; c < channels; ++c) {
    float* __restrict nc = num + 2 * hk * c;
    if (st.z != nullptr) {  // accumulate conj(num) Ẑ before num changes
      fft::forward_plane(p, st.z + hw * c, st.window, fr, fi, buf.scratch());
#pragma GCC ivdep
      for (std::size_t j = 0; j < hk; ++j) {
        accr[j] += nc[2 * j] * fr[j] + nc[2 * j + 1] * fi[j];
        acci[j] += nc[2 * j] * fi[j] - nc[2 * j + 1] * fr[j];
      }
    }
    if (st.x != nullptr) {
      fft::forward_plane(p, st.x + hw * c, st.window, fr, fi, buf.scratch());
#pragma GCC ivdep
      for (std::size_t j = 0; j < hk; ++j) {
        const float new_r = y[2 * j] * fr[j] + y[2 * j + 1] * fi[j];  // conj(Ŷ) X̂
        const float new_i = y[2 * j] * fi[j] - y[2 * j + 1] * fr[j];
        nc[2 * j] = st.replace ? new_r : keep * nc[2 * j] + eta * new_r;
        nc[2 * j + 1] = st.replace ? new_i : keep * nc[2 * j + 1] + eta * new_i;
        dsum[j] += fr[j] * fr[j] + fi[j] * fi[j];
      }
    }
  }
  if (st.z != nullptr) {
    for (std::size_t j = 0; j < hk; ++j) {
      const float inv = 1.0f / (den[j] + st.lam);
      accr[j] *= inv;
      acci[j] *= inv;
    }
    float* r = response != nullptr ? response : buf.response(p);
    fft::inverse_plane(p, accr, acci, r, buf.scratch());
    *peak = find_peak(r, p.h, p.w, st.psr_radius);
  }
  if (st.x != nullptr) {
    for (std::size_t j = 0; j < hk; ++j) den[j] = st.replace ? dsum[j] : keep * den[j] + eta * dsum[j];
  }
}

// Runs animal_step for every animal in parallel. `base` holds the parts shared by all animals.
void run(const Shape& s, const Step& base, const float* eta, float* num, float* den, float* response, Peak* peaks) {
  const fft::Plan p = fft::make_plan(s.h, s.w);
  const std::size_t hk = p.spectrum_size(), hw = static_cast<std::size_t>(s.h) * s.w;
  const std::size_t per_animal = static_cast<std::size_t>(s.channels) * hw;
#pragma omp parallel if (s.animals > 1)
  {
    Buffers buf(p);
#pragma omp for schedule(dynamic, 1)
    for (int a = 0; a < s.animals; ++a) {
      Step st = base;
      if (st.z != nullptr) st.z += a * per_animal;
      if (st.x != nullptr) st.x += a * per_animal;
      if (eta != nullptr) st.eta = eta[a];
      animal_step(p, s.channels, st, num + 2 * hk * s.channels * a, den + hk * a,
                  response != nullptr ? response + hw * a : nullptr, peaks != nullptr ? peaks + a : nullptr, buf);
    }
  }
}

float* as_floats(cfloat* c) { return reinterpret_cast<float*>(c); }
const float* as_floats(const cfloat* c) { return reinterpret_cast<const float*>(c); }

}  // namespace

void learn(const Shape& s, const float* x, const float* window, const cfloat* yf, cfloat* num, float* den) {
  Step st;
  st.x = x;
  st.window = window;
  st.yf = as_floats(yf);
  st.replace = true;
  run(s, st, nullptr, as_floats(num), den, nullptr, nullptr);
}

void update(const Shape& s, const float* x, const float* window, const cfloat* yf, const float* eta, cfloat* num,
            float* den) {
  Step st;
  st.x = x;
  st.window = window;
  st.yf = as_floats(yf);
  run(s, st, eta, as_floats(num), den, nullptr, nullptr);
}

void detect(const Shape& s, const cfloat* num, const float* den, const float* z, const float* window, float lam,
            int psr_radius, float* response, Peak* peaks) {
  Step st;
  st.z = z;
  st.window = window;
  st.lam = lam;
  st.psr_radius = psr_radius;
  // Detection only reads num/den; run() takes them mutable because update shares the path.
  run(s, st, nullptr, const_cast<float*>(as_floats(num)), const_cast<float*>(den), response, peaks);
}

void detect_update(const Shape& s, cfloat* num, float* den, const float* z, const float* x, const float* window,
                   const cfloat* yf, float lam, const float* eta, int psr_radius, float* response, Peak* peaks) {
  Step st;
  st.z = z;
  st.x = x;
  st.window = window;
  st.yf = as_floats(yf);
  st.lam = lam;
  st.psr_radius = psr_radius;
  run(s, st, eta, as_floats(num), den, response, peaks);
}

}  // namespace udmt::dcf
