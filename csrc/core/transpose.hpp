#pragma once
// 8 × 8 float blocks transposed in registers (GCC vector extensions, compiled for whichever ISA the including
// function targets: one AVX register per row under x86-64-v3).
//
// The FFT's passes vectorise across rows, so packing real rows into columns and writing half spectra back into
// row-major order are transposes; done element by element with strided stores they took about half of a 64×64
// plane's time.
#include <cstring>

#if defined(__GNUC__) && !defined(__clang__)
#define UDMT_HAVE_BLOCK_TRANSPOSE 1

// These helpers are always inlined into functions compiled for one ISA; GCC's note that returning an AVX vector
// from a baseline-ISA function changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace udmt::simd {

using v8f = float __attribute__((vector_size(32)));
using v8i = int __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store8(float* p, const v8f& v) { std::memcpy(p, &v, sizeof v); }

// Even and odd lanes of the 16 floats a, b (real and imaginary parts of 8 interleaved complex values).
inline v8f even_lanes(const v8f& a, const v8f& b) { return __builtin_shuffle(a, b, v8i{0, 2, 4, 6, 8, 10, 12, 14}); }
inline v8f odd_lanes(const v8f& a, const v8f& b) { return __builtin_shuffle(a, b, v8i{1, 3, 5, 7, 9, 11, 13, 15}); }

// r[i][j] -> r[j][i] (the unpack / shuffle / 128-bit permute network of the classic AVX transpose).
inline void transpose8(v8f r[8]) {
  const v8i lo{0, 8, 1, 9, 4, 12, 5, 13}, hi{2, 10, 3, 11, 6, 14, 7, 15};
  const v8i pair_lo{0, 1, 8, 9, 4, 5, 12, 13}, pair_hi{2, 3, 10, 11, 6, 7, 14, 15};
  const v8i half_lo{0, 1, 2, 3, 8, 9, 10, 11}, half_hi{4, 5, 6, 7, 12, 13, 14, 15};
  v8f t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = __builtin_shuffle(r[2 * i], r[2 * i + 1], lo);
    t[2 * i + 1] = __builtin_shuffle(r[2 * i], r[2 * i + 1], hi);
  }
  for (int i = 0; i < 2; ++i) {
    s[4 * i] = __builtin_shuffle(t[4 * i], t[4 * i + 2], pair_lo);
    s[4 * i + 1] = __builtin_shuffle(t[4 * i], t[4 * i + 2], pair_hi);
    s[4 * i + 2] = __builtin_shuffle(t[4 * i + 1], t[4 * i + 3], pair_lo);
    s[4 * i + 3] = __builtin_shuffle(t[4 * i + 1], t[4 * i + 3], pair_hi);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = __builtin_shuffle(s[i], s[i + 4], half_lo);
    r[i + 4] = __builtin_shuffle(s[i], s[i + 4], half_hi);
  }
}

}  // namespace udmt::simd

#endif
