#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace udmt::cuda {

// Number of CUDA devices visible (0 without a driver or device; never throws).
int device_count();

// Same contract as udmt::crop_resize (csrc/core/crop.hpp), on device pointers, asynchronous on `stream`.
void crop_resize(const std::uint8_t* frame, int height, int width, const float* centres, const float* sides,
                 int n, int size, float* out, cudaStream_t stream);

}  // namespace udmt::cuda
