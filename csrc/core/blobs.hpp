#pragma once
// Foreground blobs of one frame at working resolution (every frame of a recording passes here).
#include <cstdint>
#include <vector>

namespace udmt::blobs {

// One kept component: its area, the sums behind its centroid (weights = max(diff, 0)) and its bounding box
// (inclusive rows y0..y1 and columns x0..x1).
struct Blob {
  double area = 0.0, weight = 0.0, weighted_x = 0.0, weighted_y = 0.0;
  int y0 = 0, y1 = -1, x0 = 0, x1 = -1;
  bool seeded = false;  // some pixel's diff exceeds the seed level
};

// 4-connected components of `mask` (h × w, nonzero = foreground) numbered like scipy.ndimage.label (raster
// order of each component's first pixel), keeping those with area >= min_area and a pixel of diff > seed,
// renumbered 1..k in the same order. Writes the final labels (0 = background) and returns the kept blobs.
// Sums run in raster order in double precision, as numpy's bincount does.
std::vector<Blob> label(const std::uint8_t* mask, const float* diff, int h, int w, double seed, double min_area,
                        std::int32_t* labels);

// Weighted k-means of one blob's pixels (x, y, weight) into k centres started at `centres` (x, y pairs, updated
// in place) of relative areas `sizes`: each iteration gives every pixel to the centre of least squared distance
// over size (the first on ties; a rat's centre reaches as far as its body does) and moves each centre that
// received weight to its pixels' weighted mean.
void split(const std::int64_t* x, const std::int64_t* y, const double* weight, int n, int k, int iterations,
           const double* sizes, double* centres);

// Refines a `split` of the same pixels (centres as it left them) with each animal's body shape: every centre
// becomes a Gaussian of variances (major, minor) × its size along its own body axis. Each round gives every pixel
// to the animal of least Mahalanobis distance plus log-determinant minus twice the log share of the sizes (the
// first on ties), then moves each animal that received weight to its pixels' weighted mean and turns its axis to
// their principal axis (hard EM), until no pixel changes animal or `iterations` rounds have run. It starts from `angles` (radians, k values; NaN: unknown,
// then the axis of the pixels the k-means gave the animal) and, where any was given, also from the k-means
// pixels' axes alone, and keeps the fit of least total cost (the given start on ties). Two bodies lying across
// each other are told apart by their directions, where k-means would cut the pair into halves of both. Writes
// the centres and the axes.
void split_shaped(const std::int64_t* x, const std::int64_t* y, const double* weight, int n, int k, int iterations,
                  const double* sizes, double major, double minor, double* centres, double* angles);

}  // namespace udmt::blobs
