// Image8: an 8-bit picture (grey, grey+alpha, RGB or RGBA), row-major and interleaved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "error.hpp"

namespace fmviz {

struct Image8 {
  std::size_t width = 0, height = 0, channels = 3;
  std::vector<std::uint8_t> pixels;  // height * width * channels values

  Image8() = default;
  Image8(std::size_t w, std::size_t h, std::size_t c, std::uint8_t fill = 0) : width(w), height(h), channels(c) {
    if (c < 1 || c > 4) throw Error({}, "Image8", "channels must be 1 to 4, got " + std::to_string(c));
    pixels.assign(w * h * c, fill);
  }

  std::uint8_t* pixel(std::size_t x, std::size_t y) noexcept { return pixels.data() + (y * width + x) * channels; }
  const std::uint8_t* pixel(std::size_t x, std::size_t y) const noexcept { return pixels.data() + (y * width + x) * channels; }
};

}  // namespace fmviz
