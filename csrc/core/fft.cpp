#include "fft.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "simd.hpp"

namespace udmt::fft {
namespace {

int log2_exact(int n) {
  if (n <= 0 || (n & (n - 1)) != 0) return -1;
  int l = 0;
  while ((1 << l) < n) ++l;
  return l;
}

// exp(-2πi j/n) for every power of two n <= kMaxSize, computed once in double precision.
class TwiddleCache {
 public:
  TwiddleCache() {
    for (int l = 0; (1 << l) <= kMaxSize; ++l) {
      const int n = 1 << l;
      offsets_.push_back(data_.size());
      for (int j = 0; j < n; ++j) data_.push_back(static_cast<float>(std::cos(2.0 * M_PI * j / n)));
      for (int j = 0; j < n; ++j) data_.push_back(static_cast<float>(-std::sin(2.0 * M_PI * j / n)));
    }
  }
  const float* get(int n) const { return data_.data() + offsets_[log2_exact(n)]; }

 private:
  std::vector<float> data_;
  std::vector<std::size_t> offsets_;
};

const float* twiddles(int n) {
  static const TwiddleCache cache;  // thread-safe one-time initialisation
  return cache.get(n);
}

// Number of Stockham stages for a length-n transform: radix-4 while possible, one radix-2 if log2(n) is odd.
int stage_count(int n) {
  int count = 0;
  for (; n >= 4; n /= 4) ++count;
  return count + (n == 2 ? 1 : 0);
}

// One Stockham radix-4 stage over a block of vectors: element j of the transform is the vector at offset j*l.
// len: current sub-transform length, s = n/len: how many sub-transforms; tw: twiddles of the full length n.
template <bool Inverse>
inline void radix4_stage(int n, int len, std::size_t l, const float* tw, const float* xr, const float* xi,
                         float* yr, float* yi) {
  const int q = len / 4, s = n / len;
  const std::size_t b = static_cast<std::size_t>(s) * l;
  for (int p = 0; p < q; ++p) {
    const int j1 = p * s, j2 = 2 * p * s, j3 = 3 * p * s;
    const float sign = Inverse ? -1.0f : 1.0f;
    const float w1r = tw[j1], w1i = sign * tw[n + j1];
    const float w2r = tw[j2], w2i = sign * tw[n + j2];
    const float w3r = tw[j3], w3i = sign * tw[n + j3];
    const float* __restrict ar = xr + p * b;
    const float* __restrict ai = xi + p * b;
    const float* __restrict br = xr + (p + q) * b;
    const float* __restrict bi = xi + (p + q) * b;
    const float* __restrict cr = xr + (p + 2 * q) * b;
    const float* __restrict ci = xi + (p + 2 * q) * b;
    const float* __restrict dr = xr + (p + 3 * q) * b;
    const float* __restrict di = xi + (p + 3 * q) * b;
    float* __restrict y0r = yr + (4 * p) * b;
    float* __restrict y0i = yi + (4 * p) * b;
    float* __restrict y1r = yr + (4 * p + 1) * b;
    float* __restrict y1i = yi + (4 * p + 1) * b;
    float* __restrict y2r = yr + (4 * p + 2) * b;
    float* __restrict y2i = yi + (4 * p + 2) * b;
    float* __restrict y3r = yr + (4 * p + 3) * b;
    float* __restrict y3i = yi + (4 * p + 3) * b;
#pragma GCC ivdep
    for (std::size_t t = 0; t < b; ++t) {
      const float apcr = ar[t] + cr[t], apci = ai[t] + ci[t];
      const float amcr = ar[t] - cr[t], amci = ai[t] - ci[t];
      const float bpdr = br[t] + dr[t], bpdi = bi[t] + di[t];
      const float bmdr = br[t] - dr[t], bmdi = bi[t] - di[t];
      // j*(b - d) with j = i for the forward transform and -i for the inverse.
      const float jr = Inverse ? bmdi : -bmdi, ji = Inverse ? -bmdr : bmdr;
      y0r[t] = apcr + bpdr;
      y0i[t] = apci + bpdi;
      const float t1r = amcr - jr, t1i = amci - ji;
      y1r[t] = w1r * t1r - w1i * t1i;
      y1i[t] = w1r * t1i + w1i * t1r;
      const float t2r = apcr - bpdr, t2i = apci - bpdi;
      y2r[t] = w2r * t2r - w2i * t2i;
      y2i[t] = w2r * t2i + w2i * t2r;
      const float t3r = amcr + jr, t3i = amci + ji;
      y3r[t] = w3r * t3r - w3i * t3i;
      y3i[t] = w3r * t3i + w3i * t3r;
    }
  }
}

// The last stage of an odd-log2 length: plain butterflies (the twiddle is 1).
inline void radix2_stage(std::size_t b, const float* xr, const float* xi, float* yr, float* yi) {
  const float* __restrict ar = xr;
  const float* __restrict ai = xi;
  const float* __restrict br = xr + b;
  const float* __restrict bi = xi + b;
  float* __restrict y0r = yr;
  float* __restrict y0i = yi;
  float* __restrict y1r = yr + b;
  float* __restrict y1i = yi + b;
#pragma GCC ivdep
  for (std::size_t t = 0; t < b; ++t) {
    y0r[t] = ar[t] + br[t];
    y0i[t] = ai[t] + bi[t];
    y1r[t] = ar[t] - br[t];
    y1i[t] = ai[t] - bi[t];
  }
}

// Length-n complex FFT along the slow axis of an n × l block held in pair 0 of (re[], im[]), ping-ponging with
// pair 1 (Stockham: natural order in and out, no bit reversal). Returns which pair holds the result.
template <bool Inverse>
inline int fft_columns(int n, std::size_t l, const float* tw, float* const re[2], float* const im[2]) {
  int cur = 0, len = n;
  for (; len >= 4; len /= 4, cur ^= 1) radix4_stage<Inverse>(n, len, l, tw, re[cur], im[cur], re[cur ^ 1], im[cur ^ 1]);
  if (len == 2) {
    radix2_stage(static_cast<std::size_t>(n / 2) * l, re[cur], im[cur], re[cur ^ 1], im[cur ^ 1]);
    cur ^= 1;
  }
  return cur;
}

// Rows of x (times the window) packed as complex pairs z[j] = x[2j] + i x[2j+1] and transposed: out is m × h.
// Rows go in blocks of 8 so that the transposed writes fill whole cache lines.
template <bool Windowed>
inline void pack_rows(const Plan& p, const float* x, const float* window, float* zr, float* zi) {
  const std::size_t h = p.h, w = p.w, m = p.m, block = h < 8 ? h : 8;
  for (std::size_t row0 = 0; row0 < h; row0 += block) {
    for (std::size_t j = 0; j < m; ++j) {
      for (std::size_t r = 0; r < block; ++r) {
        const std::size_t src = (row0 + r) * w + 2 * j;
        zr[j * h + row0 + r] = Windowed ? x[src] * window[src] : x[src];
        zi[j * h + row0 + r] = Windowed ? x[src + 1] * window[src + 1] : x[src + 1];
      }
    }
  }
}

// Spectra of the packed rows (m × h) -> half spectra of the real rows, written transposed (h × k).
inline void unpack_real_rows(const Plan& p, const float* zr, const float* zi, float* outr, float* outi) {
  const std::size_t h = p.h, k = p.k, m = p.m;
  for (std::size_t row = 0; row < h; ++row) {  // bins 0 and w/2 are real
    outr[row * k] = zr[row] + zi[row];
    outi[row * k] = 0.0f;
    outr[row * k + m] = zr[row] - zi[row];
    outi[row * k + m] = 0.0f;
  }
  for (std::size_t j = 1; j < m; ++j) {
    const float c = p.tw_w[j], s = p.tw_w[p.w + j];  // exp(-2πi j/w)
    const float* __restrict ar = zr + j * h;
    const float* __restrict ai = zi + j * h;
    const float* __restrict br = zr + (m - j) * h;
    const float* __restrict bi = zi + (m - j) * h;
#pragma GCC ivdep
    for (std::size_t row = 0; row < h; ++row) {
      // even part E = (Z[j] + conj Z[m-j]) / 2, odd part O = (Z[j] - conj Z[m-j]) / 2i, X = E + w^j O
      const float er = 0.5f * (ar[row] + br[row]), ei = 0.5f * (ai[row] - bi[row]);
      const float or_ = 0.5f * (ai[row] + bi[row]), oi = -0.5f * (ar[row] - br[row]);
      outr[row * k + j] = er + c * or_ - s * oi;
      outi[row * k + j] = ei + c * oi + s * or_;
    }
  }
}

// Inverse of unpack_real_rows (times `scale`): half spectra of real rows (h × k) -> packed spectra (m × h).
inline void pack_half_rows(const Plan& p, const float* xr, const float* xi, float scale, float* zr, float* zi) {
  const std::size_t h = p.h, k = p.k, m = p.m;
  for (std::size_t row = 0; row < h; ++row) {  // imaginary parts of bins 0 and w/2 are ignored (as numpy does)
    const float a = xr[row * k], b = xr[row * k + m];
    zr[row] = scale * (a + b);
    zi[row] = scale * (a - b);
  }
  for (std::size_t j = 1; j < m; ++j) {
    const float c = p.tw_w[j], s = p.tw_w[p.w + j];
    float* __restrict outr = zr + j * h;
    float* __restrict outi = zi + j * h;
    for (std::size_t row = 0; row < h; ++row) {
      const float ar = xr[row * k + j], ai = xi[row * k + j];
      const float br = xr[row * k + m - j], bi = xi[row * k + m - j];
      // E = X[j] + conj X[m-j], O = (X[j] - conj X[m-j]) conj(w^j), Z = E + i O
      const float er = ar + br, ei = ai - bi;
      const float dr = ar - br, di = ai + bi;
      const float or_ = dr * c + di * s, oi = di * c - dr * s;
      outr[row] = scale * (er - oi);
      outi[row] = scale * (ei + or_);
    }
  }
}

// Packed complex rows after the inverse transform (m × h) -> real rows of x (h × w).
inline void unpack_rows(const Plan& p, const float* zr, const float* zi, float* x) {
  for (int row = 0; row < p.h; ++row) {
    float* __restrict xr = x + static_cast<std::size_t>(row) * p.w;
    for (int j = 0; j < p.m; ++j) {
      xr[2 * j] = zr[static_cast<std::size_t>(j) * p.h + row];
      xr[2 * j + 1] = zi[static_cast<std::size_t>(j) * p.h + row];
    }
  }
}

inline void forward_impl(const Plan& p, const float* x, const float* window, float* re, float* im, float* scratch) {
  const std::size_t hk = p.spectrum_size();
  float* const sr[2] = {scratch, scratch + 2 * hk};
  float* const si[2] = {scratch + hk, scratch + 3 * hk};
  if (window != nullptr) {
    pack_rows<true>(p, x, window, sr[0], si[0]);
  } else {
    pack_rows<false>(p, x, nullptr, sr[0], si[0]);
  }
  const int rows_done = fft_columns<false>(p.m, p.h, p.tw_m, sr, si);
  // Unpack into whichever buffer makes the column pass end in (re, im).
  float* free_r = sr[rows_done ^ 1];
  float* free_i = si[rows_done ^ 1];
  const bool even = stage_count(p.h) % 2 == 0;
  float* const cr[2] = {even ? re : free_r, even ? free_r : re};
  float* const ci[2] = {even ? im : free_i, even ? free_i : im};
  unpack_real_rows(p, sr[rows_done], si[rows_done], cr[0], ci[0]);
  fft_columns<false>(p.h, p.k, p.tw_h, cr, ci);
}

inline void inverse_impl(const Plan& p, float* re, float* im, float* x, float* scratch) {
  const std::size_t hk = p.spectrum_size();
  float* const cr[2] = {re, scratch};
  float* const ci[2] = {im, scratch + hk};
  const int cols_done = fft_columns<true>(p.h, p.k, p.tw_h, cr, ci);
  float* const rr[2] = {cr[cols_done ^ 1], scratch + 2 * hk};
  float* const ri[2] = {ci[cols_done ^ 1], scratch + 3 * hk};
  pack_half_rows(p, cr[cols_done], ci[cols_done], 1.0f / (static_cast<float>(p.h) * p.w), rr[0], ri[0]);
  const int rows_done = fft_columns<true>(p.m, p.h, p.tw_m, rr, ri);
  unpack_rows(p, rr[rows_done], ri[rows_done], x);
}

UDMT_MULTIVERSION void forward_interleaved(const Plan& p, const float* x, std::complex<float>* out, float* buf) {
  const std::size_t hk = p.spectrum_size();
  float* re = buf + p.scratch_size();
  float* im = re + hk;
  forward_impl(p, x, nullptr, re, im, buf);
  float* __restrict o = reinterpret_cast<float*>(out);
  for (std::size_t j = 0; j < hk; ++j) {
    o[2 * j] = re[j];
    o[2 * j + 1] = im[j];
  }
}

UDMT_MULTIVERSION void inverse_interleaved(const Plan& p, const std::complex<float>* in, float* x, float* buf) {
  const std::size_t hk = p.spectrum_size();
  float* __restrict re = buf + p.scratch_size();
  float* __restrict im = re + hk;
  const float* __restrict c = reinterpret_cast<const float*>(in);
  for (std::size_t j = 0; j < hk; ++j) {
    re[j] = c[2 * j];
    im[j] = c[2 * j + 1];
  }
  inverse_impl(p, re, im, x, buf);
}

}  // namespace

Plan make_plan(int h, int w) {
  if (log2_exact(h) < 0 || log2_exact(w) < 1 || h > kMaxSize || w > kMaxSize) {
    throw std::invalid_argument("FFT plane must be H x W with powers of two 1 <= H <= " + std::to_string(kMaxSize) +
                                " and 2 <= W <= " + std::to_string(kMaxSize) + ", got " + std::to_string(h) + " x " +
                                std::to_string(w));
  }
  Plan p;
  p.h = h;
  p.w = w;
  p.m = w / 2;
  p.k = w / 2 + 1;
  p.tw_h = twiddles(h);
  p.tw_m = twiddles(p.m);
  p.tw_w = twiddles(w);
  return p;
}

UDMT_MULTIVERSION void forward_plane(const Plan& plan, const float* x, const float* window, float* re, float* im,
                                     float* scratch) {
  forward_impl(plan, x, window, re, im, scratch);
}

UDMT_MULTIVERSION void inverse_plane(const Plan& plan, float* re, float* im, float* x, float* scratch) {
  inverse_impl(plan, re, im, x, scratch);
}

void rfft2(const float* x, std::int64_t planes, int h, int w, std::complex<float>* out) {
  const Plan plan = make_plan(h, w);
  const std::size_t hw = static_cast<std::size_t>(h) * w, hk = plan.spectrum_size();
#pragma omp parallel if (planes > 1)
  {
    std::vector<float> buf(plan.scratch_size() + 2 * hk);
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < planes; ++b) forward_interleaved(plan, x + b * hw, out + b * hk, buf.data());
  }
}

void irfft2(const std::complex<float>* in, std::int64_t planes, int h, int w, float* out) {
  const Plan plan = make_plan(h, w);
  const std::size_t hw = static_cast<std::size_t>(h) * w, hk = plan.spectrum_size();
#pragma omp parallel if (planes > 1)
  {
    std::vector<float> buf(plan.scratch_size() + 2 * hk);
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < planes; ++b) inverse_interleaved(plan, in + b * hk, out + b * hw, buf.data());
  }
}

}  // namespace udmt::fft
