#pragma once
#include <cstdint>

namespace udmt {

// Block mean of a uint8 frame over factor × factor pixels: out is (height / factor) × (width / factor)
// float32; trailing rows and columns that do not fill a block are dropped. Sums are exact (integers) and
// scaled in double, then rounded once to float32: bit-equal to the numpy reference.
void block_mean(const std::uint8_t* frame, int height, int width, int factor, float* out);

}  // namespace udmt
