#pragma once
#include <cstdint>

namespace udmt {

// Batched crop-and-resize of square search windows from one uint8 frame.
// centres: n × (x, y) in pixel-centre coordinates; sides: n source side lengths (pixels);
// out: n × size × size float32, bilinear, borders replicated.
void crop_resize(const std::uint8_t* frame, int height, int width, const float* centres,
                 const float* sides, int n, int size, float* out);

}  // namespace udmt
