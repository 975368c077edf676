// Image input: decode a file (decoders/), resize it (antialiased bilinear) and normalise it into a 1x3xHxW tensor.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "decoders/format.hpp"
#include "decoders/jpeg.hpp"
#include "decoders/png.hpp"
#include "decoders/stb.hpp"
#include "detail/mapped_file.hpp"
#include "detail/parallel.hpp"
#include "error.hpp"
#include "image8.hpp"
#include "tensor.hpp"

namespace fmviz {

/// A decoded image: interleaved RGB, row by row from the top, values in [0, 1].
struct RgbImage {
  std::size_t width = 0, height = 0;
  std::vector<float> pixels;  // width * height * 3
};

/// How pixels are turned into network input.
enum class Preset {
  torchvision,  ///< RGB, (v - mean) / std with ImageNet mean 0.485 0.456 0.406 and std 0.229 0.224 0.225
  caffe,        ///< BGR, 0-255 scale minus the mean B 103.939 G 116.779 R 123.68 (the original VGG release)
};

struct ImageOptions {
  std::size_t size = 224;                 ///< resize to size x size; 0 keeps the image's own size
  Preset preset = Preset::torchvision;
  std::size_t max_pixels = 100'000'000;   ///< refuse larger images (width * height) before decoding them
};

namespace detail {

inline void check_image(const RgbImage& img, const char* what) {
  if (img.width == 0 || img.height == 0)
    throw Error({}, "image", std::string(what) + ": empty image (" + std::to_string(img.width) + " x " + std::to_string(img.height) + ")");
  if (img.pixels.size() / 3 / img.width / img.height != 1 || img.pixels.size() != img.width * img.height * 3)
    throw Error({}, "image", std::string(what) + ": " + std::to_string(img.pixels.size()) + " values do not make a " +
                                 std::to_string(img.width) + " x " + std::to_string(img.height) + " RGB image");
}

/// The antialiased bilinear (triangle) filter of PyTorch's interpolate(antialias=True), which is
/// PIL's bilinear resampling: for each output index, the first input index and the normalised weights.
/// The geometry is computed in float with PyTorch's operations and roundings (its CPU kernel does so
/// for float tensors): in double, the centres of the last output pixels of a 600 -> 224 resize move by
/// about 3e-5 pixels, enough to change the result by 1e-5.
struct ResampleTaps {
  std::vector<std::size_t> first;  // per output index
  std::vector<std::size_t> count;  // per output index
  std::size_t stride = 0;          // weights per output index (at least the largest count)
  std::vector<float> weights;      // out_size * stride
};

inline ResampleTaps resample_taps(std::size_t in_size, std::size_t out_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const float support = scale >= 1.0f ? scale : 1.0f;  // triangle half-width 1, stretched when downscaling
  const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
  ResampleTaps taps;
  taps.stride = static_cast<std::size_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(out_size * taps.stride, 0.0f);
  const auto in = static_cast<std::int64_t>(in_size);
  for (std::size_t i = 0; i < out_size; ++i) {
    // As PyTorch: the product in double, rounded to float (which also keeps a compiler from fusing it).
    const float center = static_cast<float>(static_cast<double>(scale) * (static_cast<double>(i) + 0.5));
    const std::int64_t xmin = std::max<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(center - support) + 0.5), 0);
    const std::int64_t xmax = std::min<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(center + support) + 0.5), in);
    const std::size_t n = std::min(static_cast<std::size_t>(std::max<std::int64_t>(xmax - xmin, 0)), taps.stride);
    float* w = &taps.weights[i * taps.stride];
    float total = 0.0f;
    for (std::size_t j = 0; j < n; ++j) {
      const float pos = static_cast<float>(static_cast<std::int64_t>(j) + xmin) - center;
      const float x = std::fabs(static_cast<float>((static_cast<double>(pos) + 0.5) * static_cast<double>(invscale)));
      w[j] = x < 1.0f ? 1.0f - x : 0.0f;
      total += w[j];
    }
    if (total != 0.0f)
      for (std::size_t j = 0; j < n; ++j) w[j] /= total;
    taps.first[i] = static_cast<std::size_t>(xmin);
    taps.count[i] = n;
  }
  return taps;
}

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

/// Resizes to width x height like torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
/// antialias=True), i.e. PIL's bilinear filter: a triangle filter that widens with the downscale
/// factor, applied horizontally then vertically. An axis whose size does not change is left as it is,
/// so an image already width x height comes back unchanged.
inline RgbImage resize_bilinear(const RgbImage& img, std::size_t width, std::size_t height) {
  detail::check_image(img, "resize_bilinear");
  if (width == 0 || height == 0)
    throw Error({}, "size", "cannot resize to " + std::to_string(width) + " x " + std::to_string(height));
  if (width == img.width && height == img.height) return img;
  // Rows (and, in the second pass, output rows) are independent: they are spread over threads.
  const auto worth_threads = [](std::size_t values) { return values > (std::size_t(1) << 16); };
  RgbImage horizontal;
  if (width != img.width) {
    const detail::ResampleTaps taps = detail::resample_taps(img.width, width);
    horizontal = {width, img.height, std::vector<float>(width * img.height * 3)};
    detail::parallel_for(img.height, [&](std::size_t y) {
      const float* row = &img.pixels[y * img.width * 3];
      float* dst = &horizontal.pixels[y * width * 3];
      for (std::size_t x = 0; x < width; ++x) {
        const float* wt = &taps.weights[x * taps.stride];
        const float* src = row + taps.first[x] * 3;
        double r = 0, g = 0, b = 0;
        for (std::size_t j = 0; j < taps.count[x]; ++j) {
          r += static_cast<double>(wt[j]) * src[3 * j];
          g += static_cast<double>(wt[j]) * src[3 * j + 1];
          b += static_cast<double>(wt[j]) * src[3 * j + 2];
        }
        dst[3 * x] = static_cast<float>(r);
        dst[3 * x + 1] = static_cast<float>(g);
        dst[3 * x + 2] = static_cast<float>(b);
      }
    }, worth_threads(horizontal.pixels.size() * taps.stride));
    if (height == img.height) return horizontal;
  }
  const RgbImage& cur = width != img.width ? horizontal : img;
  const detail::ResampleTaps taps = detail::resample_taps(cur.height, height);
  const std::size_t row_len = cur.width * 3;
  RgbImage out{cur.width, height, std::vector<float>(row_len * height)};
  detail::parallel_for(height, [&](std::size_t y) {
    const float* wt = &taps.weights[y * taps.stride];
    constexpr std::size_t piece = 256;  // sums of a piece of the row, on the stack: nothing here can throw
    double acc[piece];
    for (std::size_t k0 = 0; k0 < row_len; k0 += piece) {
      const std::size_t n = std::min(piece, row_len - k0);
      std::fill(acc, acc + n, 0.0);
      for (std::size_t j = 0; j < taps.count[y]; ++j) {
        const float* src = &cur.pixels[(taps.first[y] + j) * row_len + k0];
        for (std::size_t k = 0; k < n; ++k) acc[k] += static_cast<double>(wt[j]) * src[k];
      }
      float* dst = &out.pixels[y * row_len + k0];
      for (std::size_t k = 0; k < n; ++k) dst[k] = static_cast<float>(acc[k]);
    }
  }, worth_threads(out.pixels.size() * taps.stride));
  return out;
}

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

/// The image as a 1x3xHxW tensor, normalised for the network as `preset` says.
template <typename T>
Tensor<T> to_tensor(const RgbImage& img, Preset preset) {
  static_assert(std::is_floating_point_v<T>, "to_tensor makes floating-point tensors");
  detail::check_image(img, "to_tensor");
  const std::size_t plane = img.width * img.height;
  Tensor<T> t({1, 3, img.height, img.width});
  if (preset == Preset::torchvision) {
    static constexpr double mean[3] = {0.485, 0.456, 0.406};
    static constexpr double stdev[3] = {0.229, 0.224, 0.225};
    for (std::size_t c = 0; c < 3; ++c) {
      T* dst = t.data() + c * plane;
      const T m = static_cast<T>(mean[c]), s = static_cast<T>(stdev[c]);
      for (std::size_t i = 0; i < plane; ++i) dst[i] = (static_cast<T>(img.pixels[3 * i + c]) - m) / s;
    }
  } else {
    static constexpr double bgr_mean[3] = {103.939, 116.779, 123.68};
    for (std::size_t c = 0; c < 3; ++c) {  // output channel c is B, G, R: input channel 2 - c
      T* dst = t.data() + c * plane;
      const T m = static_cast<T>(bgr_mean[c]);
      for (std::size_t i = 0; i < plane; ++i) dst[i] = static_cast<T>(img.pixels[3 * i + (2 - c)]) * T(255) - m;
    }
  }
  return t;
}

/// Resizes (unless options.size is 0 or the image is already that size) and normalises.
template <typename T>
Tensor<T> preprocess(const RgbImage& img, const ImageOptions& options = {}) {
  if (options.size != 0 && (img.width != options.size || img.height != options.size))
    return to_tensor<T>(resize_bilinear(img, options.size, options.size), options.preset);
  return to_tensor<T>(img, options.preset);
}

/// read_image then preprocess: the network input for an image file.
template <typename T>
Tensor<T> load_image(const std::string& path, const ImageOptions& options = {}) {
  return preprocess<T>(read_image(path, options.max_pixels), options);
}

}  // namespace fmviz
