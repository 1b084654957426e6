// pybind11 bindings of udmt._cuda. Takes raw device pointers (e.g. torch.Tensor.data_ptr()) so that
// frames stay on the GPU between kernels; the Python side owns the memory.
#include <pybind11/pybind11.h>

#include <cstdint>

#include "crop.cuh"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "udmt CUDA kernels (device pointers in, asynchronous on the default stream)";
  m.def("device_count", &udmt::cuda::device_count, "Number of visible CUDA devices (0 without a driver).");
  m.def(
      "crop_resize",
      [](std::uintptr_t frame, int height, int width, std::uintptr_t centres, std::uintptr_t sides, int n, int size,
         std::uintptr_t out) {
        py::gil_scoped_release release;
        udmt::cuda::crop_resize(reinterpret_cast<const std::uint8_t*>(frame), height, width,
                                reinterpret_cast<const float*>(centres), reinterpret_cast<const float*>(sides), n,
                                size, reinterpret_cast<float*>(out));
      },
      py::arg("frame"), py::arg("height"), py::arg("width"), py::arg("centres"), py::arg("sides"), py::arg("n"),
      py::arg("size"), py::arg("out"));
}
