// BMP, GIF (first frame), PSD and TGA through stb_image; JPEG and PNG too when fmviz is built without
// libjpeg / libpng (a fallback: stb_image's JPEG decoder is not hardened against crafted files, and its pixels
// differ from libjpeg's, hence from PIL's, by up to 3 levels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../detail/stb.hpp"
#include "../error.hpp"
#include "format.hpp"

namespace fmviz {
namespace detail {

/// Checks that a PSD holds all the pixel data its header promises (stb_image would read zeros past the end and
/// return a picture), and rewrites one of 4 or more channels (RGB + alpha or extra channels) in memory as RGB:
/// only the first three channels are kept, as PIL's convert("RGB") keeps them (stb_image would otherwise "remove
/// the white matte" with float-to-byte conversions that overflow on crafted alpha values). Returns the rewritten
/// file, or nothing when the file needs no rewrite or its header is not understood (stb_image then reports it).
inline std::vector<unsigned char> prepare_psd(const unsigned char* data, std::size_t size, const std::string& path) {
  const auto u16 = [&](std::size_t at) { return static_cast<std::size_t>(data[at] << 8 | data[at + 1]); };
  const auto u32 = [&](std::size_t at) {
    return std::size_t{data[at]} << 24 | std::size_t{data[at + 1]} << 16 | std::size_t{data[at + 2]} << 8 | data[at + 3];
  };
  constexpr std::size_t channels_at = 12, height_at = 14, width_at = 18, depth_at = 22;
  if (size < 26) return {};
  const std::size_t channels = u16(channels_at), height = u32(height_at), width = u32(width_at), depth = u16(depth_at);
  if (channels < 1 || channels > 16 || (depth != 8 && depth != 16) || width > (1u << 24) || height > (1u << 24)) return {};
  std::size_t at = 26;
  for (int section = 0; section < 3; ++section) {  // colour mode data, image resources, layers and masks
    if (size - at < 4) return {};
    const std::size_t length = u32(at);
    at += 4;
    if (length > size - at) return {};
    at += length;
  }
  if (size - at < 2) return {};
  const std::size_t compression = u16(at);
  at += 2;
  const std::size_t used = std::min<std::size_t>(channels, 3);  // the channels decoded once extra ones are dropped
  const auto truncated = [&] { return Error(path, "image", "cannot decode PSD: the file is truncated (premature end of data)"); };
  if (compression == 0) {
    if (width * height * (depth / 8) * used > size - at) throw truncated();
  } else if (compression == 1) {  // RLE: each row's byte count, channel after channel, then the rows
    if (height * channels * 2 > size - at) throw truncated();
    std::size_t bytes = 0;
    for (std::size_t row = 0; row < height * used; ++row) bytes += u16(at + 2 * row);
    if (bytes > size - at - height * channels * 2) throw truncated();
  } else {
    return {};
  }
  if (channels <= 3) return {};
  std::vector<unsigned char> out(data, data + size);
  out[channels_at] = 0;
  out[channels_at + 1] = 3;
  if (compression == 1) {
    const std::size_t keep = height * 3 * 2, all = height * channels * 2;
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(at + keep), out.begin() + static_cast<std::ptrdiff_t>(at + all));
  }
  return out;
}

struct StbFree {
  void operator()(void* p) const noexcept { stbi_image_free(p); }
};

/// Decodes with stb_image into `rgb` (resized to width x height x 3, values in [0, 1]); `check_size` sees the
/// width and height (and throws to refuse them) before any pixel is decoded.
template <typename CheckSize>
void stb_decode(const unsigned char* data, std::size_t size, ImageFormat format, const std::string& path,
                std::size_t& width, std::size_t& height, std::vector<float>& rgb, CheckSize check_size) {
  std::vector<unsigned char> rewritten;
  if (format == ImageFormat::psd) {
    rewritten = prepare_psd(data, size, path);
    if (!rewritten.empty()) data = rewritten.data(), size = rewritten.size();
  }
  const auto reason = [&] {
    if (format == ImageFormat::other) return std::string("unknown format (fmviz reads ") + supported_formats + ")";
    return std::string("cannot decode ") + format_name(format) + ": " + (stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  };
  if (size > static_cast<std::size_t>(INT32_MAX)) throw Error(path, "image", "the file is larger than 2 GiB");
  const int n = static_cast<int>(size);
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data, n, &w, &h, &channels)) throw Error(path, "image", reason());
  check_size(static_cast<std::size_t>(w > 0 ? w : 0), static_cast<std::size_t>(h > 0 ? h : 0));
  const int expected_w = w, expected_h = h;
  const auto take = [&](auto* pixels) {
    if (!pixels) throw Error(path, "image", reason());
    std::unique_ptr<void, StbFree> owner(pixels);
    if (w != expected_w || h != expected_h)
      throw Error(path, "image", "cannot decode " + std::string(format_name(format)) + ": the decoded size differs from the header's");
    width = static_cast<std::size_t>(w);
    height = static_cast<std::size_t>(h);
    rgb.resize(width * height * 3);
    constexpr bool sixteen = sizeof(*pixels) == 2;
    for (std::size_t i = 0; i < rgb.size(); ++i)
      rgb[i] = sixteen ? static_cast<float>(pixels[i] / 65535.0) : static_cast<float>(pixels[i]) / 255.0f;
  };
  if (stbi_is_16_bit_from_memory(data, n)) take(stbi_load_16_from_memory(data, n, &w, &h, &channels, 3));
  else take(stbi_load_from_memory(data, n, &w, &h, &channels, 3));
}

}  // namespace detail
}  // namespace fmviz
