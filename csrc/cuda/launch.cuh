#pragma once
// What every udmt._cuda launcher shares: the stream type and the check after a launch.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace udmt::cuda {

// Launch errors (bad configuration, no device) become C++ exceptions, which pybind11 raises as RuntimeError.
inline void check_launch(const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(kernel) + ": " + cudaGetErrorString(err));
}

}  // namespace udmt::cuda
