// A mosaic: colour pictures of one size side by side in rows, white between them, each optionally enlarged
// (nearest) and labelled in its top-left corner. For pictures that are images themselves (a channel's
// optimised image), where grid.hpp draws activations.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "detail/font.hpp"
#include "error.hpp"
#include "grid.hpp"
#include "image8.hpp"

namespace fmviz {

struct MosaicOptions {
  std::size_t columns = 8;  ///< pictures per row
  std::size_t zoom = 1;     ///< each pixel drawn as zoom x zoom
  std::size_t gap = 4;      ///< white pixels between pictures and around them
};

/// The pictures (all of one size, grey or colour) in rows of options.columns; labels[i], when given and not
/// empty, is written in picture i's corner. Throws fmviz::Error for no pictures, mixed sizes or a picture too large.
inline Image8 mosaic(const std::vector<Image8>& pictures, const MosaicOptions& options = {}, const std::vector<std::string>& labels = {}) {
  if (pictures.empty()) throw Error({}, "mosaic", "no pictures");
  if (options.columns == 0 || options.zoom == 0 || options.zoom > 64 || options.gap > 256)
    throw Error({}, "mosaic", "columns must be at least 1, zoom 1 to 64 and gap at most 256");
  const std::size_t w = pictures.front().width, h = pictures.front().height;
  for (const Image8& p : pictures)
    if (p.width != w || p.height != h || p.channels < 1 || p.pixels.size() != p.width * p.height * p.channels)
      throw Error({}, "mosaic", "the pictures must all be " + std::to_string(w) + " x " + std::to_string(h) + " and well formed");
  const std::size_t columns = std::min(options.columns, pictures.size()), rows = (pictures.size() + columns - 1) / columns;
  const std::size_t cw = w * options.zoom, ch = h * options.zoom, g = options.gap;
  detail::check_picture_size(cw, ch, "mosaic");
  detail::check_picture_size(columns * (cw + g) + g, rows * (ch + g) + g, "mosaic");
  Image8 out(columns * (cw + g) + g, rows * (ch + g) + g, 3, 255);
  const std::size_t scale = std::max<std::size_t>(1, cw / 64);  // labels grow with the pictures
  for (std::size_t i = 0; i < pictures.size(); ++i) {
    const Image8& p = pictures[i];
    const std::size_t x0 = g + (i % columns) * (cw + g), y0 = g + (i / columns) * (ch + g);
    for (std::size_t y = 0; y < ch; ++y)
      for (std::size_t x = 0; x < cw; ++x) {
        const std::uint8_t* src = p.pixel(x / options.zoom, y / options.zoom);
        std::uint8_t* dst = out.pixel(x0 + x, y0 + y);
        for (std::size_t c = 0; c < 3; ++c) dst[c] = src[p.channels >= 3 ? c : 0];
      }
    if (i < labels.size() && !labels[i].empty()) {
      // White text on a black box, so it reads on any picture.
      const std::size_t tw = detail::text_width(labels[i], scale) + 2 * scale, th = detail::text_height(scale) + 2 * scale;
      for (std::size_t y = 0; y < std::min(th, ch); ++y)
        for (std::size_t x = 0; x < std::min(tw, cw); ++x) {
          std::uint8_t* dst = out.pixel(x0 + x, y0 + y);
          dst[0] = dst[1] = dst[2] = 0;
        }
      detail::draw_text(out, x0 + scale, y0 + scale, labels[i], scale, {255, 255, 255}, x0, y0, x0 + cw, y0 + ch);
    }
  }
  return out;
}

}  // namespace fmviz
