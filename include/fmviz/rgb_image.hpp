// RgbImage: a picture as RGB floats in [0, 1], what decoding gives and resizing and normalisation take; and its
// 8-bit copy (to_image8), for writing it out or drawing over it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "error.hpp"
#include "image8.hpp"

namespace fmviz {

/// A decoded image: interleaved RGB, row by row from the top, values in [0, 1].
struct RgbImage {
  std::size_t width = 0, height = 0;
  std::vector<float> pixels;  // width * height * 3
};

namespace detail {

/// Throws unless `img` is a non-empty RGB image whose pixel count matches its size; `what` names the caller.
inline void check_image(const RgbImage& img, const char* what) {
  if (img.width == 0 || img.height == 0)
    throw Error({}, "image", std::string(what) + ": empty image (" + std::to_string(img.width) + " x " + std::to_string(img.height) + ")");
  if (img.pixels.size() / 3 / img.width / img.height != 1 || img.pixels.size() != img.width * img.height * 3)
    throw Error({}, "image", std::string(what) + ": " + std::to_string(img.pixels.size()) + " values do not make a " +
                                 std::to_string(img.width) + " x " + std::to_string(img.height) + " RGB image");
}

}  // namespace detail

/// The image as 8-bit RGB (rounded, clamped to [0, 255]): for writing it out or drawing over it.
inline Image8 to_image8(const RgbImage& img) {
  detail::check_image(img, "to_image8");
  Image8 out(img.width, img.height, 3);
  for (std::size_t i = 0; i < out.pixels.size(); ++i) {
    const float v = img.pixels[i];
    out.pixels[i] = static_cast<std::uint8_t>(v > 0.0f ? (v < 1.0f ? v * 255.0f + 0.5f : 255.0f) : 0.0f);
  }
  return out;
}

}  // namespace fmviz
