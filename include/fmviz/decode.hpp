// Image decoding: an image file (or its bytes) into RGB floats, whatever library reads its format (decoders/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "decoders/format.hpp"
#include "decoders/jpeg.hpp"
#include "decoders/png.hpp"
#include "decoders/stb.hpp"
#include "detail/mapped_file.hpp"
#include "error.hpp"
#include "rgb_image.hpp"

namespace fmviz {
namespace detail {

inline void check_pixel_count(const std::string& path, std::uint64_t w, std::uint64_t h, std::size_t max_pixels) {
  const std::uint64_t pixels = w * h;  // both below 2^32
  const std::string dims = std::to_string(w) + " x " + std::to_string(h);
  if (pixels == 0) throw Error(path, "size", "image is " + dims + " pixels, which is empty");
  if (pixels > max_pixels)
    throw Error(path, "size", "image is " + dims + " = " + std::to_string(pixels) + " pixels, more than the limit of " +
                                  std::to_string(max_pixels) + " (raise it with --max-pixels / ImageOptions::max_pixels)");
}

/// Decodes with a libjpeg / libpng decoder object: header, size check, pixels.
template <typename Decoder>
RgbImage decode_with(Decoder& decoder, const std::string& path, std::size_t max_pixels) {
  decoder.read_header();
  check_pixel_count(path, decoder.width(), decoder.height(), max_pixels);
  RgbImage img;
  img.width = decoder.width();
  img.height = decoder.height();
  img.pixels.resize(img.width * img.height * 3);
  decoder.decode(img.pixels.data());
  return img;
}

}  // namespace detail

/// Decodes an image held in memory into RGB floats in [0, 1]. The format comes from the first bytes: JPEG
/// (baseline, progressive; grey, RGB, CMYK, YCCK) and PNG (every bit depth and colour type, interlaced or not)
/// through libjpeg-turbo and libpng when fmviz is built with them (FMVIZ_HAVE_LIBJPEG / FMVIZ_HAVE_LIBPNG, set
/// by the CMake package when it finds them), else through stb_image; BMP, TGA, GIF (its first frame) and PSD
/// through stb_image. Grey becomes RGB and alpha is dropped, as PIL's convert("RGB") does; a JPEG gives PIL's
/// pixels exactly (with libjpeg); 16-bit files keep their precision. Radiance HDR and PNM are refused (stb_image's
/// readers of them are unsafe on crafted files). Images of more than `max_pixels` pixels are refused before they
/// are decoded. `name` is what errors quote (a path).
inline RgbImage decode_image(const unsigned char* data, std::size_t size, const std::string& name,
                             std::size_t max_pixels = 100'000'000) {
  if (size == 0) throw Error(name, "image", "cannot decode: the file is empty");
  const detail::ImageFormat format = detail::sniff_format(data, size);
  switch (format) {
    case detail::ImageFormat::refused_hdr:
    case detail::ImageFormat::refused_pnm:
    case detail::ImageFormat::refused_pic:
      throw Error(name, "image", std::string("unsupported format: ") + detail::format_name(format) + " (fmviz reads " +
                                     detail::supported_formats + ")");
#if defined(FMVIZ_HAVE_LIBJPEG)
    case detail::ImageFormat::jpeg: {
      detail::JpegDecoder decoder(data, size, name);
      return detail::decode_with(decoder, name, max_pixels);
    }
#endif
#if defined(FMVIZ_HAVE_LIBPNG)
    case detail::ImageFormat::png: {
      detail::PngDecoder decoder(data, size, name);
      return detail::decode_with(decoder, name, max_pixels);
    }
#endif
    default: break;
  }
  RgbImage img;
  detail::stb_decode(data, size, format, name, img.width, img.height, img.pixels,
                     [&](std::size_t w, std::size_t h) { detail::check_pixel_count(name, w, h, max_pixels); });
  return img;
}

/// Which library decodes which format in this build, e.g. "JPEG libjpeg, PNG libpng, BMP GIF PSD TGA stb_image".
inline std::string image_decoders() {
  std::string libraries, stb;
#if defined(FMVIZ_HAVE_LIBJPEG)
  libraries += "JPEG libjpeg, ";
#else
  stb += "JPEG ";
#endif
#if defined(FMVIZ_HAVE_LIBPNG)
  libraries += "PNG libpng, ";
#else
  stb += "PNG ";
#endif
  return libraries + stb + "BMP GIF PSD TGA stb_image";
}

/// Reads and decodes an image file: see decode_image.
inline RgbImage read_image(const std::string& path, std::size_t max_pixels = 100'000'000) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status))
    throw Error(path, "image", "cannot open: " + (ec ? ec.message() : std::string("no such file")));
  if (!std::filesystem::is_regular_file(status)) throw Error(path, "image", "cannot open: not a regular file");
  const detail::MappedFile file(path);
  return decode_image(file.data(), file.size(), path, max_pixels);
}

}  // namespace fmviz
