#include "crop.hpp"

#include <algorithm>
#include <cmath>

namespace udmt {

void crop_resize(const std::uint8_t* frame, int height, int width, const float* centres,
                 const float* sides, int n, int size, float* out) {
#pragma omp parallel for schedule(static) if (n * size * size > 65536)
  for (int k = 0; k < n; ++k) {
    const float scale = sides[k] / static_cast<float>(size);
    const float x_start = centres[2 * k] - 0.5f * sides[k] + 0.5f * scale;
    const float y_start = centres[2 * k + 1] - 0.5f * sides[k] + 0.5f * scale;
    float* dst = out + static_cast<std::ptrdiff_t>(k) * size * size;
    for (int i = 0; i < size; ++i) {
      const float sy = y_start + static_cast<float>(i) * scale;
      const float fy0 = std::floor(sy);
      const float wy = sy - fy0;
      const int y0 = std::clamp(static_cast<int>(fy0), 0, height - 1);
      const int y1 = std::clamp(static_cast<int>(fy0) + 1, 0, height - 1);
      const std::uint8_t* row0 = frame + static_cast<std::ptrdiff_t>(y0) * width;
      const std::uint8_t* row1 = frame + static_cast<std::ptrdiff_t>(y1) * width;
      for (int j = 0; j < size; ++j) {
        const float sx = x_start + static_cast<float>(j) * scale;
        const float fx0 = std::floor(sx);
        const float wx = sx - fx0;
        const int x0 = std::clamp(static_cast<int>(fx0), 0, width - 1);
        const int x1 = std::clamp(static_cast<int>(fx0) + 1, 0, width - 1);
        const float top = row0[x0] + wx * (static_cast<float>(row0[x1]) - row0[x0]);
        const float bottom = row1[x0] + wx * (static_cast<float>(row1[x1]) - row1[x0]);
        dst[i * size + j] = top + wy * (bottom - top);
      }
    }
  }
}

}  // namespace udmt
