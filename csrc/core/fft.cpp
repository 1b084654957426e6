#include "fft.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "simd.hpp"
#include "transpose.hpp"

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

// Number of Stockham stages for a length-n transform: radix-8 while possible, then one radix-4 or radix-2.
// (fft_columns must follow the same plan.)
int stage_count(int n) {
  int count = 0;
  for (; n >= 8; n /= 8) ++count;
  return count + (n > 1 ? 1 : 0);
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

// Lanes of the stage loops: one float, or (where GCC vector extensions exist) eight.
template <class T>
inline T load_lanes(const float* p) {
  if constexpr (std::is_same_v<T, float>) {
    return *p;
  } else {
    return simd::load8(p);
  }
}

template <class T>
inline void store_lanes(float* p, const T& v) {
  if constexpr (std::is_same_v<T, float>) {
    *p = v;
  } else {
    simd::store8(p, v);
  }
}

// Radix-8 butterflies for the lanes starting at t of one p (see radix8_stage): inputs x[t + r·step], outputs
// y[t + r·b], twiddles w[r] = (wr[r], wi[r]).
template <bool Inverse, class T>
inline void radix8_lanes(const float* x0r, const float* x0i, std::size_t step, float* y0r, float* y0i,
                         std::size_t b, const float* wr, const float* wi, std::size_t t) {
  const float h = 0.70710678118654752f;  // cos(π/4)
  auto in_r = [&](int r) { return load_lanes<T>(x0r + t + r * step); };
  auto in_i = [&](int r) { return load_lanes<T>(x0i + t + r * step); };
  // Length-4 DFTs of the even (e) and odd (o) inputs; m(x) = -i x forward, +i x inverse.
  const T a02r = in_r(0) + in_r(4), a02i = in_i(0) + in_i(4), s02r = in_r(0) - in_r(4), s02i = in_i(0) - in_i(4);
  const T a13r = in_r(2) + in_r(6), a13i = in_i(2) + in_i(6), s13r = in_r(2) - in_r(6), s13i = in_i(2) - in_i(6);
  const T c02r = in_r(1) + in_r(5), c02i = in_i(1) + in_i(5), d02r = in_r(1) - in_r(5), d02i = in_i(1) - in_i(5);
  const T c13r = in_r(3) + in_r(7), c13i = in_i(3) + in_i(7), d13r = in_r(3) - in_r(7), d13i = in_i(3) - in_i(7);
  const T ms13r = Inverse ? -s13i : s13i, ms13i = Inverse ? s13r : -s13r;
  const T md13r = Inverse ? -d13i : d13i, md13i = Inverse ? d13r : -d13r;
  const T e0r = a02r + a13r, e0i = a02i + a13i, e2r = a02r - a13r, e2i = a02i - a13i;
  const T e1r = s02r + ms13r, e1i = s02i + ms13i, e3r = s02r - ms13r, e3i = s02i - ms13i;
  const T o0r = c02r + c13r, o0i = c02i + c13i, o2r = c02r - c13r, o2i = c02i - c13i;
  const T o1r = d02r + md13r, o1i = d02i + md13i, o3r = d02r - md13r, o3i = d02i - md13i;
  // ω^k O_k with ω = exp(∓2πi/8): ω = h(1 ∓ i), ω² = ∓i, ω³ = h(-1 ∓ i).
  const T p1r = Inverse ? h * (o1r - o1i) : h * (o1r + o1i);
  const T p1i = Inverse ? h * (o1i + o1r) : h * (o1i - o1r);
  const T p2r = Inverse ? -o2i : o2i, p2i = Inverse ? o2r : -o2r;
  const T p3r = Inverse ? -h * (o3r + o3i) : h * (o3i - o3r);
  const T p3i = Inverse ? h * (o3r - o3i) : -h * (o3r + o3i);
  store_lanes(y0r + t, e0r + o0r);
  store_lanes(y0i + t, e0i + o0i);
  auto out = [&](int r, const T& vr, const T& vi) {
    store_lanes(y0r + t + r * b, wr[r] * vr - wi[r] * vi);
    store_lanes(y0i + t + r * b, wr[r] * vi + wi[r] * vr);
  };
  out(1, e1r + p1r, e1i + p1i);
  out(2, e2r + p2r, e2i + p2i);
  out(3, e3r + p3r, e3i + p3i);
  out(4, e0r - o0r, e0i - o0i);
  out(5, e1r - p1r, e1i - p1i);
  out(6, e2r - p2r, e2i - p2i);
  out(7, e3r - p3r, e3i - p3i);
}

// One Stockham radix-8 stage (same layout as radix4_stage): a length-8 DFT as two length-4 DFTs of the even and
// odd inputs joined by the eighth roots of unity. Radix 8 makes a 64-point transform two passes over the block
// instead of three. The lanes go eight at a time; a block width that is not a multiple of 8 (33 columns of a
// 64-wide plane's half spectrum) ends with an overlapping group, which rewrites the same values since the stage
// reads x and writes y.
template <bool Inverse>
inline void radix8_stage(int n, int len, std::size_t l, const float* tw, const float* xr, const float* xi,
                         float* yr, float* yi) {
  const int q = len / 8, s = n / len;
  const std::size_t b = static_cast<std::size_t>(s) * l, step = static_cast<std::size_t>(q) * b;
  const float sign = Inverse ? -1.0f : 1.0f;  // imaginary parts of the twiddles change sign
  for (int p = 0; p < q; ++p) {
    float wr[8], wi[8];
    for (int r = 0; r < 8; ++r) {
      wr[r] = tw[r * p * s];
      wi[r] = sign * tw[n + r * p * s];
    }
    const float* x0r = xr + p * b;
    const float* x0i = xi + p * b;
    float* y0r = yr + (8 * p) * b;
    float* y0i = yi + (8 * p) * b;
#if UDMT_HAVE_BLOCK_TRANSPOSE
    if (b >= 8) {
      std::size_t t = 0;
      for (; t + 8 <= b; t += 8) radix8_lanes<Inverse, simd::v8f>(x0r, x0i, step, y0r, y0i, b, wr, wi, t);
      if (t < b) radix8_lanes<Inverse, simd::v8f>(x0r, x0i, step, y0r, y0i, b, wr, wi, b - 8);
      continue;
    }
#endif
    for (std::size_t t = 0; t < b; ++t) radix8_lanes<Inverse, float>(x0r, x0i, step, y0r, y0i, b, wr, wi, t);
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
  for (; len >= 8; len /= 8, cur ^= 1) radix8_stage<Inverse>(n, len, l, tw, re[cur], im[cur], re[cur ^ 1], im[cur ^ 1]);
  if (len == 4) {
    radix4_stage<Inverse>(n, len, l, tw, re[cur], im[cur], re[cur ^ 1], im[cur ^ 1]);
    cur ^= 1;
  } else if (len == 2) {
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

#if UDMT_HAVE_BLOCK_TRANSPOSE
// Block forms of pack_rows and unpack_real_rows for planes whose h and m are multiples of 8: the same values,
// moved through 8 × 8 register transposes instead of strided scalar stores.
inline bool blocked(const Plan& p) { return p.h % 8 == 0 && p.m % 8 == 0; }

template <bool Windowed>
inline void pack_rows_blocked(const Plan& p, const float* x, const float* window, float* zr, float* zi) {
  using namespace udmt::simd;
  const std::size_t h = p.h, w = p.w, m = p.m;
  for (std::size_t row0 = 0; row0 < h; row0 += 8) {
    for (std::size_t j0 = 0; j0 < m; j0 += 8) {
      v8f re[8], im[8];
      for (std::size_t r = 0; r < 8; ++r) {
        const std::size_t src = (row0 + r) * w + 2 * j0;
        v8f a = load8(x + src), b = load8(x + src + 8);
        if (Windowed) {
          a *= load8(window + src);
          b *= load8(window + src + 8);
        }
        re[r] = even_lanes(a, b);
        im[r] = odd_lanes(a, b);
      }
      transpose8(re);
      transpose8(im);
      for (std::size_t j = 0; j < 8; ++j) {
        store8(zr + (j0 + j) * h + row0, re[j]);
        store8(zi + (j0 + j) * h + row0, im[j]);
      }
    }
  }
}

inline void unpack_real_rows_blocked(const Plan& p, const float* zr, const float* zi, float* outr, float* outi) {
  using namespace udmt::simd;
  const std::size_t h = p.h, k = p.k, m = p.m;
  for (std::size_t row = 0; row < h; ++row) {  // bin w/2 is real; bins 0 .. m-1 below (bin 0 by the general rule)
    outr[row * k + m] = zr[row] - zi[row];
    outi[row * k + m] = 0.0f;
  }
  for (std::size_t j0 = 0; j0 < m; j0 += 8) {
    for (std::size_t row0 = 0; row0 < h; row0 += 8) {
      v8f xr[8], xi[8];
      for (std::size_t jj = 0; jj < 8; ++jj) {
        const std::size_t j = j0 + jj, mj = j == 0 ? 0 : m - j;  // Z is periodic: Z[m] = Z[0]
        const float c = p.tw_w[j], s = p.tw_w[p.w + j];  // exp(-2πi j/w)
        const v8f ar = load8(zr + j * h + row0), ai = load8(zi + j * h + row0);
        const v8f br = load8(zr + mj * h + row0), bi = load8(zi + mj * h + row0);
        const v8f er = 0.5f * (ar + br), ei = 0.5f * (ai - bi);
        const v8f or_ = 0.5f * (ai + bi), oi = -0.5f * (ar - br);
        xr[jj] = er + c * or_ - s * oi;
        xi[jj] = ei + c * oi + s * or_;
      }
      transpose8(xr);
      transpose8(xi);
      for (std::size_t r = 0; r < 8; ++r) {
        store8(outr + (row0 + r) * k + j0, xr[r]);
        store8(outi + (row0 + r) * k + j0, xi[r]);
      }
    }
  }
}
#else
inline bool blocked(const Plan&) { return false; }
#endif

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
  if (blocked(p)) {
#if UDMT_HAVE_BLOCK_TRANSPOSE
    if (window != nullptr) {
      pack_rows_blocked<true>(p, x, window, sr[0], si[0]);
    } else {
      pack_rows_blocked<false>(p, x, nullptr, sr[0], si[0]);
    }
#endif
  } else if (window != nullptr) {
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
  if (blocked(p)) {
#if UDMT_HAVE_BLOCK_TRANSPOSE
    unpack_real_rows_blocked(p, sr[rows_done], si[rows_done], cr[0], ci[0]);
#endif
  } else {
    unpack_real_rows(p, sr[rows_done], si[rows_done], cr[0], ci[0]);
  }
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
