#include "crop.cuh"

#include "launch.cuh"

namespace udmt::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

namespace {

__global__ void crop_resize_kernel(const std::uint8_t* frame, int height, int width, const float* centres,
                                   const float* sides, int size, float* out) {
  const int k = blockIdx.z;
  const int i = blockIdx.y * blockDim.y + threadIdx.y;
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= size || j >= size) return;
  // The CPU kernel's arithmetic in its order, each operation rounded on its own (no fused multiply-adds), so
  // both give the same bits.
  const float scale = sides[k] / static_cast<float>(size);
  const float half_scale = __fmul_rn(0.5f, scale), half_side = __fmul_rn(0.5f, sides[k]);
  const float x_start = __fadd_rn(__fsub_rn(centres[2 * k], half_side), half_scale);
  const float y_start = __fadd_rn(__fsub_rn(centres[2 * k + 1], half_side), half_scale);
  const float sy = __fadd_rn(y_start, __fmul_rn(static_cast<float>(i), scale));
  const float sx = __fadd_rn(x_start, __fmul_rn(static_cast<float>(j), scale));
  const float fy0 = floorf(sy), fx0 = floorf(sx);
  const float wy = sy - fy0, wx = sx - fx0;
  const int y0 = min(max(static_cast<int>(fy0), 0), height - 1);
  const int y1 = min(max(static_cast<int>(fy0) + 1, 0), height - 1);
  const int x0 = min(max(static_cast<int>(fx0), 0), width - 1);
  const int x1 = min(max(static_cast<int>(fx0) + 1, 0), width - 1);
  const float a = frame[y0 * width + x0], b = frame[y0 * width + x1];
  const float c = frame[y1 * width + x0], d = frame[y1 * width + x1];
  const float top = __fadd_rn(a, __fmul_rn(wx, b - a)), bottom = __fadd_rn(c, __fmul_rn(wx, d - c));
  out[(static_cast<long long>(k) * size + i) * size + j] = __fadd_rn(top, __fmul_rn(wy, bottom - top));
}

}  // namespace

void crop_resize(const std::uint8_t* frame, int height, int width, const float* centres, const float* sides,
                 int n, int size, float* out, cudaStream_t stream) {
  if (n == 0) return;
  const dim3 block(16, 16);
  const dim3 grid((size + 15) / 16, (size + 15) / 16, n);
  crop_resize_kernel<<<grid, block, 0, stream>>>(frame, height, width, centres, sides, size, out);
  check_launch("crop_resize");
}

}  // namespace udmt::cuda
