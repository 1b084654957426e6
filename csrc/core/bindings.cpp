// pybind11 bindings of udmt._core. Kernels release the GIL; inputs are C-contiguous arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <complex>
#include <optional>
#include <string>
#include <stdexcept>
#include <vector>

#include "assignment.hpp"
#include "blobs.hpp"
#include "crop.hpp"
#include "dcf.hpp"
#include "downscale.hpp"
#include "fft.hpp"

namespace py = pybind11;
template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

namespace {

py::array_t<float> crop_resize(carray<std::uint8_t> frame, carray<float> centres, carray<float> sides,
                               int size) {
  if (frame.ndim() != 2) throw std::invalid_argument("frame must be 2-D (H, W) uint8");
  if (centres.ndim() != 2 || centres.shape(1) != 2) throw std::invalid_argument("centres must be (n, 2)");
  const auto n = static_cast<int>(centres.shape(0));
  if (sides.ndim() != 1 || sides.shape(0) != n) throw std::invalid_argument("sides must be (n,)");
  if (size <= 0) throw std::invalid_argument("size must be positive");
  py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(size), static_cast<py::ssize_t>(size)});
  const auto* f = frame.data();
  const auto* c = centres.data();
  const auto* s = sides.data();
  auto* o = out.mutable_data();
  const int h = static_cast<int>(frame.shape(0)), w = static_cast<int>(frame.shape(1));
  {
    py::gil_scoped_release release;
    udmt::crop_resize(f, h, w, c, s, n, size, o);
  }
  return out;
}

py::array_t<float> block_mean(carray<std::uint8_t> frame, int factor) {
  if (frame.ndim() != 2) throw std::invalid_argument("frame must be 2-D (H, W) uint8");
  if (factor < 1) throw std::invalid_argument("factor must be at least 1");
  const int h = static_cast<int>(frame.shape(0)), w = static_cast<int>(frame.shape(1));
  if (h < factor || w < factor) throw std::invalid_argument("the frame is smaller than one block");
  py::array_t<float> out({static_cast<py::ssize_t>(h / factor), static_cast<py::ssize_t>(w / factor)});
  const auto* f = frame.data();
  auto* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    udmt::block_mean(f, h, w, factor, o);
  }
  return out;
}

py::tuple label_blobs(carray<std::uint8_t> mask, carray<float> diff, double seed, double min_area) {
  if (mask.ndim() != 2 || diff.ndim() != 2 || mask.shape(0) != diff.shape(0) || mask.shape(1) != diff.shape(1)) {
    throw std::invalid_argument("mask and diff must be 2-D arrays of one shape");
  }
  const int h = static_cast<int>(mask.shape(0)), w = static_cast<int>(mask.shape(1));
  py::array_t<std::int32_t> labels({static_cast<py::ssize_t>(h), static_cast<py::ssize_t>(w)});
  const auto* m = mask.data();
  const auto* d = diff.data();
  auto* l = labels.mutable_data();
  std::vector<udmt::blobs::Blob> kept;
  {
    py::gil_scoped_release release;
    kept = udmt::blobs::label(m, d, h, w, seed, min_area, l);
  }
  const auto k = static_cast<py::ssize_t>(kept.size());
  py::array_t<double> areas(k), centroids({k, static_cast<py::ssize_t>(2)});
  py::array_t<std::int32_t> boxes({k, static_cast<py::ssize_t>(4)});
  auto* a = areas.mutable_data();
  auto* c = centroids.mutable_data();
  auto* b = boxes.mutable_data();
  for (py::ssize_t i = 0; i < k; ++i) {
    const auto& blob = kept[i];
    a[i] = blob.area;
    c[2 * i] = blob.weighted_x / blob.weight;
    c[2 * i + 1] = blob.weighted_y / blob.weight;
    b[4 * i] = blob.y0;
    b[4 * i + 1] = blob.y1 + 1;
    b[4 * i + 2] = blob.x0;
    b[4 * i + 3] = blob.x1 + 1;
  }
  return py::make_tuple(labels, areas, centroids, boxes);
}

void check_split_arguments(const carray<std::int64_t>& x, const carray<std::int64_t>& y,
                           const carray<double>& weights, const carray<double>& starts, const carray<double>& sizes) {
  const auto n = x.size();
  if (x.ndim() != 1 || y.ndim() != 1 || weights.ndim() != 1 || y.size() != n || weights.size() != n) {
    throw std::invalid_argument("x, y and weights must be 1-D arrays of one length");
  }
  if (starts.ndim() != 2 || starts.shape(1) != 2) throw std::invalid_argument("starts must be (k, 2)");
  if (sizes.ndim() != 1 || sizes.shape(0) != starts.shape(0)) throw std::invalid_argument("sizes must be (k,)");
  for (py::ssize_t c = 0; c < sizes.shape(0); ++c) {
    if (!(sizes.data()[c] > 0.0)) throw std::invalid_argument("sizes must be positive");
  }
}

py::array_t<double> split_blob(carray<std::int64_t> x, carray<std::int64_t> y, carray<double> weights,
                               carray<double> starts, carray<double> sizes, int iterations) {
  check_split_arguments(x, y, weights, starts, sizes);
  py::array_t<double> centres({starts.shape(0), static_cast<py::ssize_t>(2)});
  std::copy(starts.data(), starts.data() + starts.size(), centres.mutable_data());
  auto* out = centres.mutable_data();
  const int n = static_cast<int>(x.size()), k = static_cast<int>(starts.shape(0));
  {
    py::gil_scoped_release release;
    udmt::blobs::split(x.data(), y.data(), weights.data(), n, k, iterations, sizes.data(), out);
  }
  return centres;
}

py::tuple split_blob_shaped(carray<std::int64_t> x, carray<std::int64_t> y, carray<double> weights,
                            carray<double> starts, carray<double> sizes, carray<double> axes_before, int iterations,
                            int shaped_iterations, double major, double minor) {
  check_split_arguments(x, y, weights, starts, sizes);
  if (!(major > 0.0) || !(minor > 0.0)) throw std::invalid_argument("the body's variances must be positive");
  const auto k = starts.shape(0);
  if (axes_before.ndim() != 1 || axes_before.shape(0) != k) throw std::invalid_argument("angles must be (k,)");
  py::array_t<double> centres({k, static_cast<py::ssize_t>(2)});
  py::array_t<double> angles(k);
  std::copy(starts.data(), starts.data() + starts.size(), centres.mutable_data());
  std::copy(axes_before.data(), axes_before.data() + k, angles.mutable_data());
  auto* out = centres.mutable_data();
  auto* axes = angles.mutable_data();
  const int n = static_cast<int>(x.size());
  {
    py::gil_scoped_release release;
    udmt::blobs::split(x.data(), y.data(), weights.data(), n, static_cast<int>(k), iterations, sizes.data(), out);
    udmt::blobs::split_shaped(x.data(), y.data(), weights.data(), n, static_cast<int>(k), shaped_iterations,
                              sizes.data(), major, minor, out, axes);
  }
  return py::make_tuple(centres, angles);
}

// Leading dimensions of an (..., H, W) array flattened into one plane count.
std::int64_t plane_count(const py::array& a) {
  std::int64_t planes = 1;
  for (py::ssize_t d = 0; d + 2 < a.ndim(); ++d) planes *= a.shape(d);
  return planes;
}

py::array_t<std::complex<float>> rfft2(carray<float> x) {
  if (x.ndim() < 2) throw std::invalid_argument("rfft2 needs an array of shape (..., H, W)");
  const int h = static_cast<int>(x.shape(x.ndim() - 2)), w = static_cast<int>(x.shape(x.ndim() - 1));
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  shape.back() = w / 2 + 1;
  udmt::fft::make_plan(h, w);  // validate the size while we hold the GIL
  py::array_t<std::complex<float>> out(shape);
  const float* src = x.data();
  auto* dst = out.mutable_data();
  const std::int64_t planes = plane_count(x);
  {
    py::gil_scoped_release release;
    udmt::fft::rfft2(src, planes, h, w, dst);
  }
  return out;
}

py::array_t<float> irfft2(carray<std::complex<float>> spectrum) {
  if (spectrum.ndim() < 2) throw std::invalid_argument("irfft2 needs an array of shape (..., H, W/2+1)");
  const int h = static_cast<int>(spectrum.shape(spectrum.ndim() - 2));
  const int w = 2 * (static_cast<int>(spectrum.shape(spectrum.ndim() - 1)) - 1);
  std::vector<py::ssize_t> shape(spectrum.shape(), spectrum.shape() + spectrum.ndim());
  shape.back() = w;
  udmt::fft::make_plan(h, w);
  py::array_t<float> out(shape);
  const auto* src = spectrum.data();
  float* dst = out.mutable_data();
  const std::int64_t planes = plane_count(spectrum);
  {
    py::gil_scoped_release release;
    udmt::fft::irfft2(src, planes, h, w, dst);
  }
  return out;
}

// ---- DCF -------------------------------------------------------------------------------------------------
using cfloat = std::complex<float>;
// In-place arguments must already have the right dtype and layout: a silent copy would drop the update.
template <typename T>
using inplace = py::array_t<T, py::array::c_style>;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

void require_shape(const py::array& a, std::vector<py::ssize_t> shape, const char* name) {
  require(a.ndim() == static_cast<py::ssize_t>(shape.size()) &&
              std::equal(shape.begin(), shape.end(), a.shape()),
          std::string(name) + " has the wrong shape");
}

// Shape of the features (A, C, H, W) checked against the filter state and the optional window/label.
udmt::dcf::Shape dcf_shape(const py::array& feats, const py::array& num, const py::array& den,
                           const std::optional<carray<float>>& window, const carray<cfloat>* yf) {
  require(feats.ndim() == 4, "features must be (A, C, H, W)");
  udmt::dcf::Shape s{static_cast<int>(feats.shape(0)), static_cast<int>(feats.shape(1)),
                     static_cast<int>(feats.shape(2)), static_cast<int>(feats.shape(3))};
  udmt::fft::make_plan(s.h, s.w);
  const py::ssize_t k = s.w / 2 + 1;
  require_shape(num, {s.animals, s.channels, s.h, k}, "num");
  require_shape(den, {s.animals, s.h, k}, "den");
  if (window) require_shape(*window, {s.h, s.w}, "window");
  if (yf != nullptr) require_shape(*yf, {s.h, k}, "yf");
  return s;
}

const float* window_ptr(const std::optional<carray<float>>& window) { return window ? window->data() : nullptr; }

py::tuple dcf_learn(carray<float> x, carray<cfloat> yf, std::optional<carray<float>> window) {
  require(x.ndim() == 4, "features must be (A, C, H, W)");
  const py::ssize_t a = x.shape(0), c = x.shape(1), h = x.shape(2), w = x.shape(3);
  inplace<cfloat> num({a, c, h, w / 2 + 1});
  inplace<float> den({a, h, w / 2 + 1});
  const auto s = dcf_shape(x, num, den, window, &yf);
  auto* n = num.mutable_data();
  auto* d = den.mutable_data();
  {
    py::gil_scoped_release release;
    udmt::dcf::learn(s, x.data(), window_ptr(window), yf.data(), n, d);
  }
  return py::make_tuple(num, den);
}

void dcf_update(inplace<cfloat> num, inplace<float> den, carray<float> x, carray<cfloat> yf, carray<float> eta,
                std::optional<carray<float>> window) {
  const auto s = dcf_shape(x, num, den, window, &yf);
  require_shape(eta, {s.animals}, "eta");
  auto* n = num.mutable_data();
  auto* d = den.mutable_data();
  py::gil_scoped_release release;
  udmt::dcf::update(s, x.data(), window_ptr(window), yf.data(), eta.data(), n, d);
}

// (offset (A, 2) float32, peak (A, 2) int32, value (A,), psr (A,), response (A, H, W) or None)
py::tuple peaks_to_arrays(const std::vector<udmt::dcf::Peak>& peaks, py::object response) {
  const auto a = static_cast<py::ssize_t>(peaks.size());
  py::array_t<float> offset({a, py::ssize_t{2}}), value(a), psr(a);
  py::array_t<std::int32_t> peak({a, py::ssize_t{2}});
  auto o = offset.mutable_unchecked<2>();
  auto p = peak.mutable_unchecked<2>();
  auto v = value.mutable_unchecked<1>();
  auto q = psr.mutable_unchecked<1>();
  for (py::ssize_t i = 0; i < a; ++i) {
    o(i, 0) = peaks[i].dx;
    o(i, 1) = peaks[i].dy;
    p(i, 0) = peaks[i].ix;
    p(i, 1) = peaks[i].iy;
    v(i) = peaks[i].value;
    q(i) = peaks[i].psr;
  }
  return py::make_tuple(offset, peak, value, psr, response);
}

void require_radius(const udmt::dcf::Shape& s, int psr_radius) {
  require(psr_radius >= 0 && 2 * psr_radius + 1 < std::min(s.h, s.w),
          "psr_radius must leave a sidelobe: 0 <= 2 * psr_radius + 1 < min(H, W)");
}

py::tuple dcf_detect(carray<cfloat> num, carray<float> den, carray<float> z, float lam,
                     std::optional<carray<float>> window, int psr_radius, bool return_response) {
  const auto s = dcf_shape(z, num, den, window, nullptr);
  require_radius(s, psr_radius);
  std::vector<udmt::dcf::Peak> peaks(s.animals);
  py::object response = py::none();
  float* r = nullptr;
  if (return_response) {
    py::array_t<float> resp({s.animals, s.h, s.w});
    r = resp.mutable_data();
    response = resp;
  }
  {
    py::gil_scoped_release release;
    udmt::dcf::detect(s, num.data(), den.data(), z.data(), window_ptr(window), lam, psr_radius, r, peaks.data());
  }
  return peaks_to_arrays(peaks, response);
}

py::tuple dcf_detect_update(inplace<cfloat> num, inplace<float> den, carray<float> z, carray<float> x,
                            carray<cfloat> yf, float lam, carray<float> eta, std::optional<carray<float>> window,
                            int psr_radius, bool return_response) {
  const auto s = dcf_shape(z, num, den, window, &yf);
  require_shape(x, {s.animals, s.channels, s.h, s.w}, "x");
  require_shape(eta, {s.animals}, "eta");
  require_radius(s, psr_radius);
  std::vector<udmt::dcf::Peak> peaks(s.animals);
  py::object response = py::none();
  float* r = nullptr;
  if (return_response) {
    py::array_t<float> resp({s.animals, s.h, s.w});
    r = resp.mutable_data();
    response = resp;
  }
  auto* n = num.mutable_data();
  auto* d = den.mutable_data();
  {
    py::gil_scoped_release release;
    udmt::dcf::detect_update(s, n, d, z.data(), x.data(), window_ptr(window), yf.data(), lam, eta.data(), psr_radius,
                             r, peaks.data());
  }
  return peaks_to_arrays(peaks, response);
}

// ---- linear assignment ------------------------------------------------------------------------------------
[[noreturn]] void raise_lsap(udmt::lsap::Status st, const std::string& where) {
  if (st == udmt::lsap::Status::invalid) {
    throw std::invalid_argument(where + "cost matrix contains NaN or -inf");
  }
  throw std::invalid_argument(where + "cost matrix is infeasible (some row or column has no allowed partner)");
}

py::tuple lsap(carray<double> cost) {
  require(cost.ndim() == 2, "cost matrix must be 2-D");
  const std::int64_t n = cost.shape(0), m = cost.shape(1), k = std::min(n, m);
  py::array_t<std::int64_t> rows(k), cols(k);
  auto* r = rows.mutable_data();
  auto* c = cols.mutable_data();
  udmt::lsap::Status st;
  {
    py::gil_scoped_release release;
    udmt::lsap::Workspace ws;
    st = udmt::lsap::solve(cost.data(), n, m, r, c, ws);
  }
  if (st != udmt::lsap::Status::ok) raise_lsap(st, "");
  return py::make_tuple(rows, cols);
}

py::tuple lsap_batch(carray<double> costs) {
  require(costs.ndim() == 3, "costs must be (B, n, m)");
  const std::int64_t b = costs.shape(0), n = costs.shape(1), m = costs.shape(2), k = std::min(n, m);
  py::array_t<std::int64_t> rows({b, k}), cols({b, k});
  auto* r = rows.mutable_data();
  auto* c = cols.mutable_data();
  udmt::lsap::Status st;
  std::int64_t bad;
  {
    py::gil_scoped_release release;
    bad = udmt::lsap::solve_batch(costs.data(), b, n, m, r, c, &st);
  }
  if (bad >= 0) raise_lsap(st, "matrix " + std::to_string(bad) + " of the batch: ");
  return py::make_tuple(rows, cols);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "udmt CPU kernels (C++17, OpenMP)";
  m.def("block_mean", &block_mean, py::arg("frame"), py::arg("factor"),
        "Block mean of a uint8 frame over factor x factor pixels (float32; partial blocks dropped).");
  m.def("label_blobs", &label_blobs, py::arg("mask"), py::arg("diff"), py::arg("seed"), py::arg("min_area"),
        "4-connected components kept by area and seed: (labels, areas, centroids, boxes [y0, y1, x0, x1)).");
  m.def("split_blob", &split_blob, py::arg("x"), py::arg("y"), py::arg("weights"), py::arg("starts"),
        py::arg("sizes"), py::arg("iterations"), "Weighted k-means of one blob's pixels from the given centres.");
  m.def("split_blob_shaped", &split_blob_shaped, py::arg("x"), py::arg("y"), py::arg("weights"), py::arg("starts"),
        py::arg("sizes"), py::arg("angles"), py::arg("iterations"), py::arg("shaped_iterations"), py::arg("major"),
        py::arg("minor"), "split_blob, then refined with each animal's body shape: (centres, body-axis angles).");
  m.def("crop_resize", &crop_resize, py::arg("frame"), py::arg("centres"), py::arg("sides"), py::arg("size"),
        "Batched bilinear crop-and-resize of square windows (pixel-centre coordinates, borders replicated).");
  m.def("rfft2", &rfft2, py::arg("x"),
        "Real 2-D FFT over the last two axes (powers of two), numpy.fft.rfft2 layout and scaling.");
  m.def("irfft2", &irfft2, py::arg("spectrum"),
        "Inverse of rfft2: (..., H, W/2+1) complex64 -> (..., H, W) float32, scaled by 1/(H W).");
  m.def("dcf_learn", &dcf_learn, py::arg("x"), py::arg("yf"), py::arg("window") = py::none(),
        "New filters (num, den) from features (A, C, H, W).");
  m.def("dcf_update", &dcf_update, py::arg("num").noconvert(), py::arg("den").noconvert(), py::arg("x"),
        py::arg("yf"), py::arg("eta"), py::arg("window") = py::none(), "Running-average update in place.");
  m.def("dcf_detect", &dcf_detect, py::arg("num"), py::arg("den"), py::arg("z"), py::arg("lam"),
        py::arg("window") = py::none(), py::arg("psr_radius") = 5, py::arg("return_response") = false,
        "Response peaks of every animal: (offset, peak, value, psr, response|None).");
  m.def("dcf_detect_update", &dcf_detect_update, py::arg("num").noconvert(), py::arg("den").noconvert(),
        py::arg("z"), py::arg("x"), py::arg("yf"), py::arg("lam"), py::arg("eta"), py::arg("window") = py::none(),
        py::arg("psr_radius") = 5, py::arg("return_response") = false,
        "dcf_detect on z with the current filters, then dcf_update with x, in one pass.");
  m.def("linear_sum_assignment", &lsap, py::arg("cost"),
        "Optimal (rows, cols) of a dense float64 cost matrix; +inf marks forbidden pairs.");
  m.def("linear_sum_assignment_batch", &lsap_batch, py::arg("costs"),
        "linear_sum_assignment of every matrix of a (B, n, m) stack: (rows (B, k), cols (B, k)).");
}
