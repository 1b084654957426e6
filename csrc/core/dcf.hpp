#pragma once
// Multi-channel discriminative correlation filter (DESIGN.md §2), all animals of a frame in one call.
//
// Per animal a, with X̂ = rfft2(window · x[a, c]) and Ŷ the label spectrum:
//   learn:  num[a, c] = conj(Ŷ) X̂[a, c]          den[a] = Σ_c |X̂[a, c]|²
//   update: num ← (1 − η_a) num + η_a num_new     den likewise
//   detect: R[a] = irfft2( Σ_c conj(num[a, c]) Ẑ[a, c] / (den[a] + λ) ), then peak, sub-pixel peak and PSR.
// Spectra use the rfft2 half layout (H, K = W/2 + 1); num is complex64 interleaved, den float32.
#include <complex>
#include <cstdint>

namespace udmt::dcf {

struct Shape {
  int animals = 0, channels = 0, h = 0, w = 0;
};

// Detection result of one animal; offsets are relative to the patch centre (W/2, H/2), in patch pixels.
struct Peak {
  int ix = 0, iy = 0;        // integer peak
  float dx = 0.f, dy = 0.f;  // integer peak + parabolic sub-pixel refinement
  float value = 0.f;         // response at the integer peak
  float psr = 0.f;           // (peak − mean(sidelobe)) / std(sidelobe); 0 for a flat sidelobe
};

using cfloat = std::complex<float>;

// Plane sizes that fft::make_plan rejects throw std::invalid_argument before any work.
// window (H*W) may be null (no window); response (A*H*W) may be null (not returned).
void learn(const Shape& s, const float* x, const float* window, const cfloat* yf, cfloat* num, float* den);
void update(const Shape& s, const float* x, const float* window, const cfloat* yf, const float* eta, cfloat* num,
            float* den);
void detect(const Shape& s, const cfloat* num, const float* den, const float* z, const float* window, float lam,
            int psr_radius, float* response, Peak* peaks);
// detect on z with the current filter, then update it with x: one pass over each animal's data.
void detect_update(const Shape& s, cfloat* num, float* den, const float* z, const float* x, const float* window,
                   const cfloat* yf, float lam, const float* eta, int psr_radius, float* response, Peak* peaks);

}  // namespace udmt::dcf
