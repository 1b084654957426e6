// pybind11 bindings of udmt._cuda. Every kernel takes raw device pointers (torch.Tensor.data_ptr()) and the
// CUDA stream to run on (torch.cuda.current_stream().cuda_stream), so frames and filter state stay on the GPU
// between kernels and the launches are ordered with torch's own work; the Python side (udmt.kernels.cuda) owns
// the memory and checks shapes and dtypes. Launch errors raise RuntimeError.
#include <pybind11/pybind11.h>

#include <cstdint>

#include "assignment.cuh"
#include "crop.cuh"
#include "dcf.cuh"
#include "fft.cuh"

namespace py = pybind11;
using Ptr = std::uintptr_t;

namespace {

template <typename T>
T* as(Ptr p) {
  return reinterpret_cast<T*>(p);
}

cudaStream_t stream_of(Ptr s) { return reinterpret_cast<cudaStream_t>(s); }

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  using namespace udmt::cuda;
  m.doc() = "udmt CUDA kernels (device pointers in, asynchronous on the given stream)";
  m.attr("max_fft_side") = kMaxSide;
  m.attr("max_assignment_columns") = kMaxColumns;
  m.def("device_count", &device_count, "Number of visible CUDA devices (0 without a driver).");
  m.def(
      "crop_resize",
      [](Ptr frame, int height, int width, Ptr centres, Ptr sides, int n, int size, Ptr out, Ptr stream) {
        py::gil_scoped_release release;
        crop_resize(as<const std::uint8_t>(frame), height, width, as<const float>(centres), as<const float>(sides),
                    n, size, as<float>(out), stream_of(stream));
      },
      py::arg("frame"), py::arg("height"), py::arg("width"), py::arg("centres"), py::arg("sides"), py::arg("n"),
      py::arg("size"), py::arg("out"), py::arg("stream"));
  m.def(
      "rfft2",
      [](Ptr x, int planes, int side, Ptr out, Ptr stream) {
        py::gil_scoped_release release;
        rfft2(as<const float>(x), planes, side, as<float2>(out), stream_of(stream));
      },
      py::arg("x"), py::arg("planes"), py::arg("side"), py::arg("out"), py::arg("stream"));
  m.def(
      "irfft2",
      [](Ptr spectrum, int planes, int side, Ptr out, Ptr stream) {
        py::gil_scoped_release release;
        irfft2(as<const float2>(spectrum), planes, side, as<float>(out), stream_of(stream));
      },
      py::arg("spectrum"), py::arg("planes"), py::arg("side"), py::arg("out"), py::arg("stream"));
  m.def(
      "dcf_learn",
      [](Ptr spectra, Ptr yf, Ptr offsets, Ptr eta, int animals, int channels, int side, Ptr num, Ptr den,
         Ptr stream) {
        py::gil_scoped_release release;
        dcf_learn(as<const float2>(spectra), as<const float2>(yf), as<const float>(offsets), as<const float>(eta),
                  animals, channels, side, as<float2>(num), as<float>(den), stream_of(stream));
      },
      py::arg("spectra"), py::arg("yf"), py::arg("offsets"), py::arg("eta"), py::arg("animals"), py::arg("channels"),
      py::arg("side"), py::arg("num"), py::arg("den"), py::arg("stream"));
  m.def(
      "dcf_response",
      [](Ptr num, Ptr den, Ptr anchor_num, Ptr anchor_den, Ptr spectra, float lam, float w_running, float w_anchor,
         int animals, int channels, int side, Ptr out, Ptr stream) {
        py::gil_scoped_release release;
        dcf_response(as<const float2>(num), as<const float>(den), as<const float2>(anchor_num),
                     as<const float>(anchor_den), as<const float2>(spectra), lam, w_running, w_anchor, animals,
                     channels, side, as<float2>(out), stream_of(stream));
      },
      py::arg("num"), py::arg("den"), py::arg("anchor_num"), py::arg("anchor_den"), py::arg("spectra"),
      py::arg("lam"), py::arg("w_running"), py::arg("w_anchor"), py::arg("animals"), py::arg("channels"),
      py::arg("side"), py::arg("out"), py::arg("stream"));
  m.def(
      "peak_psr",
      [](Ptr response, int maps, int side, int exclude, Ptr offset, Ptr psr, Ptr stream) {
        py::gil_scoped_release release;
        peak_psr(as<const float>(response), maps, side, exclude, as<float>(offset), as<float>(psr), stream_of(stream));
      },
      py::arg("response"), py::arg("maps"), py::arg("side"), py::arg("exclude"), py::arg("offset"), py::arg("psr"),
      py::arg("stream"));
  m.def(
      "linear_sum_assignment_batch",
      [](Ptr costs, int batch, int rows, int columns, Ptr cols, Ptr status, Ptr stream) {
        py::gil_scoped_release release;
        linear_sum_assignment_batch(as<const double>(costs), batch, rows, columns, as<std::int64_t>(cols),
                                    as<std::int32_t>(status), stream_of(stream));
      },
      py::arg("costs"), py::arg("batch"), py::arg("rows"), py::arg("columns"), py::arg("cols"), py::arg("status"),
      py::arg("stream"));
}
