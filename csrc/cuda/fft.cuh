#pragma once
// Power-of-two 2-D FFTs of small planes (side M = 8 … 64), one thread block per plane, all in shared memory
// (no cuFFT: the build machines lack it). Same layout and scaling as numpy.fft.rfft2 / irfft2 on (M, M) planes:
// spectra are (M, M/2 + 1) complex64, the inverse divides by M² and, like a c2r transform, ignores the imaginary
// parts of the DC and Nyquist columns.
#include <cuda_runtime.h>

namespace udmt::cuda {

constexpr int kMaxSide = 64;  // M*M complex values must fit in a block's shared memory (32 KB at 64)

// True for a side the kernels accept.
bool fft_side_ok(int side);

// planes × (M, M) float32 → planes × (M, M/2+1) complex64 (interleaved float2).
void rfft2(const float* x, int planes, int side, float2* out, cudaStream_t stream);

// planes × (M, M/2+1) complex64 → planes × (M, M) float32.
void irfft2(const float2* spectrum, int planes, int side, float* out, cudaStream_t stream);

}  // namespace udmt::cuda
