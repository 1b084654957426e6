#pragma once
// Device side of the shared-memory FFT (fft.cuh): radix-2 decimation in frequency along the rows or the columns
// of an M × M complex tile, natural order in, bit-reversed order out, every thread of the block taking part.
#include <cuda_runtime.h>

namespace udmt::cuda::fft_block {

__device__ inline float2 cmul(float2 a, float2 b) { return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
__device__ inline float2 cadd(float2 a, float2 b) { return make_float2(a.x + b.x, a.y + b.y); }
__device__ inline float2 csub(float2 a, float2 b) { return make_float2(a.x - b.x, a.y - b.y); }
__device__ inline float2 cconj(float2 a) { return make_float2(a.x, -a.y); }

// Index i of an M-point transform read in bit-reversed order (log2m bits).
__device__ inline int bit_reverse(int i, int log2m) { return static_cast<int>(__brev(static_cast<unsigned>(i)) >> (32 - log2m)); }

// twiddle[t] = exp(-2πi t / M), t < M/2. Ends with a barrier.
__device__ inline void make_twiddles(float2* twiddle, int m) {
  for (int t = threadIdx.x; t < m / 2; t += blockDim.x) {
    float s, c;
    sincospif(2.0f * static_cast<float>(t) / static_cast<float>(m), &s, &c);
    twiddle[t] = make_float2(c, -s);
  }
  __syncthreads();
}

// In-place DIF FFT of every row (along_rows) or every column of the row-major M × M tile; inverse uses
// conjugate twiddles and does not scale. Position p of a transformed line holds frequency bit_reverse(p).
__device__ inline void dif(float2* tile, const float2* twiddle, int m, bool along_rows, bool inverse) {
  const int butterflies = m * (m / 2);  // per stage, over all lines
  for (int len = m; len >= 2; len >>= 1) {
    const int half = len >> 1;
    const int stride = m / len;  // twiddle index step at this stage
    for (int b = threadIdx.x; b < butterflies; b += blockDim.x) {
      const int line = b / (m / 2), within = b % (m / 2);
      const int k = within % half;
      const int i = (within / half) * len + k, j = i + half;
      const int ii = along_rows ? line * m + i : i * m + line;
      const int jj = along_rows ? line * m + j : j * m + line;
      const float2 w = inverse ? cconj(twiddle[k * stride]) : twiddle[k * stride];
      const float2 a = tile[ii], c = tile[jj];
      tile[ii] = cadd(a, c);
      tile[jj] = cmul(csub(a, c), w);
    }
    __syncthreads();
  }
}

}  // namespace udmt::cuda::fft_block
