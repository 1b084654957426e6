#include "blobs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace udmt::blobs {

namespace {

// Union–find over provisional labels; the smaller label always becomes the root, so a component's root is the
// label of its first pixel in raster order.
struct Forest {
  std::vector<std::int32_t> parent{0};

  std::int32_t add() {
    const auto label = static_cast<std::int32_t>(parent.size());
    parent.push_back(label);
    return label;
  }

  std::int32_t root(std::int32_t a) {
    while (parent[a] != a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  }

  void unite(std::int32_t a, std::int32_t b) {
    a = root(a);
    b = root(b);
    if (a < b) parent[b] = a;
    if (b < a) parent[a] = b;
  }
};

}  // namespace

std::vector<Blob> label(const std::uint8_t* mask, const float* diff, int h, int w, double seed, double min_area,
                        std::int32_t* labels) {
  Forest forest;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const std::ptrdiff_t i = static_cast<std::ptrdiff_t>(y) * w + x;
      if (mask[i] == 0) {
        labels[i] = 0;
        continue;
      }
      const std::int32_t up = y > 0 ? labels[i - w] : 0, left = x > 0 ? labels[i - 1] : 0;
      if (up == 0 && left == 0) {
        labels[i] = forest.add();
      } else if (up != 0 && left != 0) {
        labels[i] = std::min(up, left);
        if (up != left) forest.unite(up, left);
      } else {
        labels[i] = up != 0 ? up : left;
      }
    }
  }
  // Components in order of their roots (= of their first pixels): scipy's numbering.
  const auto provisional = static_cast<std::int32_t>(forest.parent.size());
  std::vector<std::int32_t> component(provisional, 0);
  std::int32_t count = 0;
  for (std::int32_t p = 1; p < provisional; ++p) {
    const std::int32_t r = forest.root(p);
    component[p] = r == p ? ++count : component[r];
  }
  std::vector<Blob> found(count + 1);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const std::ptrdiff_t i = static_cast<std::ptrdiff_t>(y) * w + x;
      if (labels[i] == 0) continue;
      const std::int32_t c = component[labels[i]];
      labels[i] = c;
      Blob& b = found[c];
      if (b.area == 0.0) {
        b.y0 = b.y1 = y;
        b.x0 = b.x1 = x;
      }
      b.area += 1.0;
      b.seeded = b.seeded || static_cast<double>(diff[i]) > seed;
      const double weight = std::max(static_cast<double>(diff[i]), 0.0);
      b.weight += weight;
      b.weighted_x += weight * x;
      b.weighted_y += weight * y;
      b.y1 = y;
      b.x0 = std::min(b.x0, x);
      b.x1 = std::max(b.x1, x);
    }
  }
  std::vector<std::int32_t> renumber(count + 1, 0);
  std::vector<Blob> kept;
  for (std::int32_t c = 1; c <= count; ++c) {
    if (found[c].area >= min_area && found[c].seeded) {
      kept.push_back(found[c]);
      renumber[c] = static_cast<std::int32_t>(kept.size());
    }
  }
  if (static_cast<std::int32_t>(kept.size()) < count) {
    for (std::ptrdiff_t i = 0, total = static_cast<std::ptrdiff_t>(h) * w; i < total; ++i) labels[i] = renumber[labels[i]];
  }
  return kept;
}

namespace {

// The k-means rule: the centre of least squared distance over size (the first on ties).
int nearest_by_size(double px, double py, const double* centres, const double* sizes, int k) {
  int nearest = 0;
  double best = std::numeric_limits<double>::infinity();
  for (int c = 0; c < k; ++c) {
    const double dx = px - centres[2 * c], dy = py - centres[2 * c + 1];
    const double d2 = (dx * dx + dy * dy) / sizes[c];
    if (d2 < best) {
      best = d2;
      nearest = c;
    }
  }
  return nearest;
}

}  // namespace

void split(const std::int64_t* x, const std::int64_t* y, const double* weight, int n, int k, int iterations,
           const double* sizes, double* centres) {
  std::vector<double> sums(3 * static_cast<std::size_t>(k));
  for (int it = 0; it < iterations; ++it) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int i = 0; i < n; ++i) {
      const double px = static_cast<double>(x[i]), py = static_cast<double>(y[i]);
      const int nearest = nearest_by_size(px, py, centres, sizes, k);
      sums[3 * nearest] += weight[i];
      sums[3 * nearest + 1] += weight[i] * px;
      sums[3 * nearest + 2] += weight[i] * py;
    }
    for (int c = 0; c < k; ++c) {
      if (sums[3 * c] > 0.0) {
        centres[2 * c] = sums[3 * c + 1] / sums[3 * c];
        centres[2 * c + 1] = sums[3 * c + 2] / sums[3 * c];
      }
    }
  }
}

namespace {

constexpr double kNoAxis = 1e-9;  // px² per unit weight: below it the pixels have no principal axis

// Weighted sums of each animal's pixels: w, wx, wy, wxx, wyy, wxy.
struct Moments {
  double w = 0.0, x = 0.0, y = 0.0, xx = 0.0, yy = 0.0, xy = 0.0;
  void add(double weight, double px, double py) {
    w += weight;
    x += weight * px;
    y += weight * py;
    xx += weight * px * px;
    yy += weight * py * py;
    xy += weight * px * py;
  }
  // Principal axis of the pixels about (cx, cy); `otherwise` where they have none (a point, or a round spread).
  double angle(double cx, double cy, double otherwise) const {
    const double sxx = xx - 2.0 * cx * x + cx * cx * w, syy = yy - 2.0 * cy * y + cy * cy * w;
    const double sxy = xy - cx * y - cy * x + cx * cy * w;
    if (std::hypot(2.0 * sxy, sxx - syy) <= kNoAxis * w) return otherwise;
    return 0.5 * std::atan2(2.0 * sxy, sxx - syy);
  }
};

// The pixels of one shared blob and the animals' body Gaussians (inverse variances along and across × size,
// and the log-determinant minus twice the log share of the sizes).
struct ShapedBlob {
  const std::int64_t* x;
  const std::int64_t* y;
  const double* weight;
  int n, k;
  std::vector<double> inv_along, inv_across, offset;

  // Each pixel given to the animal of least cost (the first on ties; written to `owner`), its weighted sums added
  // to that animal's; returns the weighted total of the least costs.
  double assign(const double* centres, const double* angles, std::vector<Moments>& cells,
                std::vector<int>& owner) const {
    std::vector<double> cosine(k), sine(k);
    for (int c = 0; c < k; ++c) {
      cosine[c] = std::cos(angles[c]);
      sine[c] = std::sin(angles[c]);
    }
    std::fill(cells.begin(), cells.end(), Moments{});
    double total = 0.0;
    for (int i = 0; i < n; ++i) {
      const double px = static_cast<double>(x[i]), py = static_cast<double>(y[i]);
      int nearest = 0;
      double best = std::numeric_limits<double>::infinity();
      for (int c = 0; c < k; ++c) {
        const double dx = px - centres[2 * c], dy = py - centres[2 * c + 1];
        const double u = dx * cosine[c] + dy * sine[c], v = dy * cosine[c] - dx * sine[c];
        const double cost = u * u * inv_along[c] + v * v * inv_across[c] + offset[c];
        if (cost < best) {
          best = cost;
          nearest = c;
        }
      }
      cells[nearest].add(weight[i], px, py);
      owner[i] = nearest;
      total += weight[i] * best;
    }
    return total;
  }

  // Hard EM from (centres, angles), both updated, until no pixel changes animal (a fixed point) or `iterations`
  // rounds; returns the fit's cost.
  double fit(int iterations, double* centres, double* angles) const {
    std::vector<Moments> cells(static_cast<std::size_t>(k));
    std::vector<int> owner(static_cast<std::size_t>(n), -1), before;
    for (int it = 0; it < iterations; ++it) {
      before = owner;
      assign(centres, angles, cells, owner);
      if (owner == before) break;
      for (int c = 0; c < k; ++c) {
        if (cells[c].w > 0.0) {
          centres[2 * c] = cells[c].x / cells[c].w;
          centres[2 * c + 1] = cells[c].y / cells[c].w;
          angles[c] = cells[c].angle(centres[2 * c], centres[2 * c + 1], angles[c]);
        }
      }
    }
    return assign(centres, angles, cells, owner);
  }
};

}  // namespace

void split_shaped(const std::int64_t* x, const std::int64_t* y, const double* weight, int n, int k, int iterations,
                  const double* sizes, double major, double minor, double* centres, double* angles) {
  ShapedBlob blob{x, y, weight, n, k, std::vector<double>(k), std::vector<double>(k), std::vector<double>(k)};
  double total = 0.0;
  for (int c = 0; c < k; ++c) total += sizes[c];
  for (int c = 0; c < k; ++c) {
    blob.inv_along[c] = 1.0 / (major * sizes[c]);
    blob.inv_across[c] = 1.0 / (minor * sizes[c]);
    blob.offset[c] = std::log(major * sizes[c] * minor * sizes[c]) - 2.0 * std::log(sizes[c] / total);
  }
  std::vector<Moments> cells(static_cast<std::size_t>(k));
  for (int i = 0; i < n; ++i) {  // the k-means cells' axes
    const double px = static_cast<double>(x[i]), py = static_cast<double>(y[i]);
    cells[nearest_by_size(px, py, centres, sizes, k)].add(weight[i], px, py);
  }
  std::vector<double> cell_axes(k), given(angles, angles + k);
  bool any_given = false;
  for (int c = 0; c < k; ++c) {
    cell_axes[c] = cells[c].angle(centres[2 * c], centres[2 * c + 1], 0.0);
    any_given = any_given || !std::isnan(given[c]);
    if (std::isnan(given[c])) given[c] = cell_axes[c];
  }
  // From the axes given (the frame before), and where some were given also from the k-means cells' axes: hard EM
  // finds a local optimum, and a wrong axis carried from the frame before would hold itself; the better fit wins.
  std::vector<double> from_given(centres, centres + 2 * k);
  const double given_cost = blob.fit(iterations, from_given.data(), given.data());
  if (any_given) {
    std::vector<double> from_cells(centres, centres + 2 * k);
    if (blob.fit(iterations, from_cells.data(), cell_axes.data()) < given_cost) {
      std::copy(from_cells.begin(), from_cells.end(), centres);
      std::copy(cell_axes.begin(), cell_axes.end(), angles);
      return;
    }
  }
  std::copy(from_given.begin(), from_given.end(), centres);
  std::copy(given.begin(), given.end(), angles);
}

}  // namespace udmt::blobs
