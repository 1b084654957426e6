#include "downscale.hpp"

#include <cstddef>
#include <vector>

namespace udmt {

void block_mean(const std::uint8_t* frame, int height, int width, int factor, float* out) {
  const int h = height / factor, w = width / factor, used = w * factor;
  const double scale = 1.0 / static_cast<double>(factor * factor);
#pragma omp parallel if (static_cast<std::int64_t>(h) * used * factor > (1 << 20))
  {
    std::vector<std::uint32_t> column(static_cast<std::size_t>(used));  // one block row, summed down
#pragma omp for schedule(static)
    for (int i = 0; i < h; ++i) {
      const std::uint8_t* row = frame + static_cast<std::ptrdiff_t>(i) * factor * width;
      for (int x = 0; x < used; ++x) column[x] = row[x];
      for (int r = 1; r < factor; ++r) {  // contiguous adds: the compiler vectorises them
        row += width;
        for (int x = 0; x < used; ++x) column[x] += row[x];
      }
      float* dst = out + static_cast<std::ptrdiff_t>(i) * w;
      for (int j = 0; j < w; ++j) {
        std::uint32_t sum = 0;
        for (int k = 0; k < factor; ++k) sum += column[j * factor + k];
        dst[j] = static_cast<float>(static_cast<double>(sum) * scale);  // one rounding, as the reference
      }
    }
  }
}

}  // namespace udmt
