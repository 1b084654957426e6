#pragma once
#include <cstdint>

namespace udmt::cuda {

// Number of CUDA devices visible (0 without a driver or device; never throws).
int device_count();

// Same contract as udmt::crop_resize, on device pointers, asynchronous on the default stream.
void crop_resize(const std::uint8_t* frame, int height, int width, const float* centres, const float* sides,
                 int n, int size, float* out);

}  // namespace udmt::cuda
