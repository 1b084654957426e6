#pragma once
// Real 2-D FFT for power-of-two planes, written for small planes in large batches (DCF features).
//
// Layout conventions (identical to numpy.fft.rfft2 / irfft2 with norm="backward"):
//   forward: x (H, W) float32 -> X (H, K) complex, K = W/2 + 1,
//            X[k1, k2] = Σ x[n1, n2] e^{-2πi (k1 n1 / H + k2 n2 / W)}
//   inverse: X (H, K)          ->  x (H, W), scaled by 1/(H W); the imaginary parts of columns 0 and W/2 are ignored.
// Inside, spectra are kept "split": one H*K array of real parts and one of imaginary parts, row-major, so that
// every butterfly is a straight vector loop. Both passes run as Stockham FFTs (radix-8 stages, then one radix-4
// or radix-2 stage) along the slow axis of a block of vectors; rows of the real input are handled by transposing
// them into columns while packing pairs of reals into one complex value, in 8 × 8 register blocks where the plane
// allows (transpose.hpp).
#include <complex>
#include <cstddef>
#include <cstdint>

namespace udmt::fft {

constexpr int kMaxSize = 1024;

// One plane shape and its twiddle tables (owned by a process-wide cache, never freed).
struct Plan {
  int h = 0, w = 0;
  int m = 0;  // w / 2: length of the packed complex row transform
  int k = 0;  // w / 2 + 1: columns of the half spectrum
  const float *tw_h = nullptr, *tw_m = nullptr, *tw_w = nullptr;  // exp(-2πi j/n): n reals then n imaginaries

  std::size_t spectrum_size() const { return static_cast<std::size_t>(h) * k; }
  // Floats of scratch the plane transforms need (two split H*K buffers).
  std::size_t scratch_size() const { return 4 * spectrum_size(); }
};

// Throws std::invalid_argument unless h and w are powers of two in [1, kMaxSize] and [2, kMaxSize].
Plan make_plan(int h, int w);

// Forward transform of one plane, optionally multiplied by `window` (H*W, may be null) first.
// Writes the half spectrum split into re/im (H*K each).
void forward_plane(const Plan& plan, const float* x, const float* window, float* re, float* im, float* scratch);

// Inverse transform of one split half spectrum into x (H*W). Clobbers re/im.
void inverse_plane(const Plan& plan, float* re, float* im, float* x, float* scratch);

// Batched interleaved transforms (numpy layouts), OpenMP over planes. Call without the GIL.
void rfft2(const float* x, std::int64_t planes, int h, int w, std::complex<float>* out);
void irfft2(const std::complex<float>* in, std::int64_t planes, int h, int w, float* out);

}  // namespace udmt::fft
