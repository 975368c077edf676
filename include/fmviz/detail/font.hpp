// A tiny built-in 5x7 bitmap font (fmviz's own glyphs) for channel labels and colour-bar values:
// the digits, - + . e (numbers such as -1.5e+03) and the letters of "min" and "max".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../image8.hpp"

namespace fmviz::detail {

constexpr std::size_t glyph_width = 5, glyph_height = 7;
constexpr std::size_t glyph_advance = glyph_width + 1;  // one blank column between characters

/// The 7 rows of a character, 5 bits each (bit 4 = leftmost column); all zero for a blank or unknown one.
inline std::array<std::uint8_t, glyph_height> glyph(char c) noexcept {
  switch (c) {  // each row written as the 5 pixels it lights, left to right
    case '0': return {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110};
    case '1': return {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110};
    case '2': return {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111};
    case '3': return {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110};
    case '4': return {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010};
    case '5': return {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110};
    case '6': return {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110};
    case '7': return {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000};
    case '8': return {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110};
    case '9': return {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100};
    case '-': return {0b00000, 0b00000, 0b00000, 0b01110, 0b00000, 0b00000, 0b00000};
    case '+': return {0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000};
    case '.': return {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100};
    case 'e': return {0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110};
    case 'm': return {0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001};
    case 'i': return {0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110};
    case 'n': return {0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001};
    case 'a': return {0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111};
    case 'x': return {0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001};
    default: return {};
  }
}

/// Width in pixels of `text` drawn at `scale` (no trailing blank column).
inline std::size_t text_width(const std::string& text, std::size_t scale) noexcept {
  return text.empty() ? 0 : (text.size() * glyph_advance - 1) * scale;
}
inline std::size_t text_height(std::size_t scale) noexcept { return glyph_height * scale; }

/// Draws `text` with its top-left corner at (x, y), each font pixel a scale x scale square of colour
/// `rgb`, into an RGB image; pixels outside [x0, x1) x [y0, y1) (and outside the image) are not touched.
inline void draw_text(Image8& img, std::size_t x, std::size_t y, const std::string& text, std::size_t scale,
                      const std::array<std::uint8_t, 3>& rgb, std::size_t x0, std::size_t y0, std::size_t x1,
                      std::size_t y1) {
  x1 = x1 < img.width ? x1 : img.width;
  y1 = y1 < img.height ? y1 : img.height;
  for (std::size_t k = 0; k < text.size(); ++k) {
    const auto rows = glyph(text[k]);
    const std::size_t gx = x + k * glyph_advance * scale;
    for (std::size_t r = 0; r < glyph_height; ++r)
      for (std::size_t c = 0; c < glyph_width; ++c) {
        if (!(rows[r] >> (glyph_width - 1 - c) & 1u)) continue;
        for (std::size_t dy = 0; dy < scale; ++dy)
          for (std::size_t dx = 0; dx < scale; ++dx) {
            const std::size_t px = gx + c * scale + dx, py = y + r * scale + dy;
            if (px < x0 || px >= x1 || py < y0 || py >= y1) continue;
            std::uint8_t* p = img.pixel(px, py);
            for (std::size_t ch = 0; ch < 3 && ch < img.channels; ++ch) p[ch] = rgb[ch];
          }
      }
  }
}

}  // namespace fmviz::detail
