#include "blobs.hpp"

#include <algorithm>
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

void split(const std::int64_t* x, const std::int64_t* y, const double* weight, int n, int k, int iterations,
           const double* sizes, double* centres) {
  std::vector<double> sums(3 * static_cast<std::size_t>(k));
  for (int it = 0; it < iterations; ++it) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int i = 0; i < n; ++i) {
      const double px = static_cast<double>(x[i]), py = static_cast<double>(y[i]);
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

}  // namespace udmt::blobs
