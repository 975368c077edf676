// Which image format a file holds, from its first bytes (never from its name).
#pragma once

#include <cstddef>
#include <cstring>

namespace fmviz {
namespace detail {

enum class ImageFormat {
  jpeg,
  png,
  bmp,
  gif,
  psd,
  refused_hdr,  // Radiance HDR: stb_image's reader can loop forever on a crafted file
  refused_pnm,  // PNM: stb_image's header parser overflows on crafted numbers
  refused_pic,  // Softimage PIC: rare, and not fuzzed upstream
  other,        // maybe TGA, which has no signature: left to stb_image to recognise
};

inline bool starts_with(const unsigned char* data, std::size_t size, const char* magic, std::size_t n) noexcept {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

inline ImageFormat sniff_format(const unsigned char* data, std::size_t size) noexcept {
  // Any 0xFF first: stb_image takes a JPEG start marker behind any number of 0xFF fill bytes, so such a file
  // must never reach it (libjpeg reads only files that start exactly with the marker, and says so).
  if (size >= 1 && data[0] == 0xFF) return ImageFormat::jpeg;
  if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) return ImageFormat::png;
  if (starts_with(data, size, "BM", 2)) return ImageFormat::bmp;
  if (starts_with(data, size, "GIF8", 4)) return ImageFormat::gif;
  if (starts_with(data, size, "8BPS", 4)) return ImageFormat::psd;
  if (starts_with(data, size, "#?", 2)) return ImageFormat::refused_hdr;
  if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7') return ImageFormat::refused_pnm;
  if (starts_with(data, size, "\x53\x80\xF6\x34", 4)) return ImageFormat::refused_pic;
  return ImageFormat::other;
}

/// The format's name as messages use it.
inline const char* format_name(ImageFormat f) noexcept {
  switch (f) {
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::png: return "PNG";
    case ImageFormat::bmp: return "BMP";
    case ImageFormat::gif: return "GIF";
    case ImageFormat::psd: return "PSD";
    case ImageFormat::refused_hdr: return "Radiance HDR";
    case ImageFormat::refused_pnm: return "PNM";
    case ImageFormat::refused_pic: return "Softimage PIC";
    case ImageFormat::other: return "TGA";
  }
  return "?";
}

/// What read_image accepts, for messages.
constexpr const char* supported_formats = "JPEG, PNG, BMP, GIF, PSD and TGA";

}  // namespace detail
}  // namespace fmviz
