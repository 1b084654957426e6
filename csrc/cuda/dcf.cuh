#pragma once
// Correlation-filter maths of the tracker on the GPU (the CPU contract: csrc/core/dcf.hpp and udmt.track).
// Spectra are rfft2 half planes (M, K = M/2 + 1) of complex64; A animals, C channels.
#include <cuda_runtime.h>

namespace udmt::cuda {

// Filters for animals whose label is moved by offsets[a] = (dx, dy) map pixels (null: centred):
//   new_num[a, c] = conj(Ŷ · ramp_a) · X̂[a, c],  new_den[a] = Σ_c |X̂[a, c]|²,  ramp_a = e^{-2πi(kx dx + ky dy)}
// with numpy's frequencies (ky of row M/2 is −1/2). eta null: num, den = new; else blended in place,
// num ← (1 − η_a) num + η_a new_num (den likewise).
void dcf_learn(const float2* spectra, const float2* yf, const float* offsets, const float* eta, int animals,
               int channels, int side, float2* num, float* den, cudaStream_t stream);

// Spectrum of the blended response of two filter banks (running and anchor) to features Ẑ:
//   out[a] = w_running · Σ_c conj(num[a, c]) Ẑ[a, c] / (den[a] + λ) + w_anchor · (the same with the anchor bank)
void dcf_response(const float2* num, const float* den, const float2* anchor_num, const float* anchor_den,
                  const float2* spectra, float lam, float w_running, float w_anchor, int animals, int channels,
                  int side, float2* out, cudaStream_t stream);

// Per (M, M) map: offset (x, y) from the map centre of the sub-pixel peak (integer argmax, first of ties, plus a
// parabola through its circular neighbours, clipped to ±½) and the peak-to-sidelobe ratio over the map outside
// the (2·exclude+1)² square around the peak (clipped at the borders). Same as udmt.track.peak_and_psr.
void peak_psr(const float* response, int maps, int side, int exclude, float* offset, float* psr, cudaStream_t stream);

}  // namespace udmt::cuda
