// overlay: one channel of an activation (or the mean of all channels), upsampled bilinearly to a photo's
// size, colour-mapped and alpha-blended over the photo.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "colormap.hpp"
#include "error.hpp"
#include "grid.hpp"
#include "image8.hpp"
#include "rgb_image.hpp"
#include "stats.hpp"
#include "tensor.hpp"

namespace fmviz {

struct OverlayOptions {
  std::optional<std::size_t> channel;    ///< the channel shown; none: the mean over all channels
  Colormap colormap = Colormap::turbo;
  double alpha = 0.5;                    ///< weight of the colour map: 0 shows only the photo, 1 only the map
  double clip_percent = 0.0;             ///< as GridOptions::clip_percent
  std::optional<ValueRange> range;       ///< fixed values for the map's ends; none: the shown map's own min and max
};

namespace detail {

/// The H x W map an overlay shows: one channel, or the mean over the channels.
template <typename T>
std::vector<float> overlay_map(const Tensor<T>& activation, const std::optional<std::size_t>& channel) {
  const Dims d = activation_dims(activation, "activation");
  const std::size_t plane = d.h * d.w;
  std::vector<float> map(plane);
  if (channel) {
    if (*channel >= d.c)
      throw Error({}, "channel", "channel " + std::to_string(*channel) + " does not exist: this layer has channels 0-" + std::to_string(d.c - 1));
    const T* p = activation.data() + *channel * plane;
    for (std::size_t i = 0; i < plane; ++i) map[i] = static_cast<float>(p[i]);
    return map;
  }
  std::vector<double> sum(plane, 0.0);
  for (std::size_t c = 0; c < d.c; ++c) {
    const T* p = activation.data() + c * plane;
    for (std::size_t i = 0; i < plane; ++i) sum[i] += static_cast<double>(p[i]);
  }
  for (std::size_t i = 0; i < plane; ++i) map[i] = static_cast<float>(sum[i] / static_cast<double>(d.c));
  return map;
}

/// Bilinear interpolation taps of PyTorch's interpolate(mode="bilinear", align_corners=False) without
/// antialiasing: output i samples input (i + 0.5) * in / out - 0.5, clamped to the edges.
struct LinearTaps {
  std::vector<std::size_t> i0, i1;
  std::vector<double> f;
};

inline LinearTaps linear_taps(std::size_t in, std::size_t out) {
  LinearTaps t;
  t.i0.resize(out);
  t.i1.resize(out);
  t.f.resize(out);
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (std::size_t i = 0; i < out; ++i) {
    double src = (static_cast<double>(i) + 0.5) * scale - 0.5;
    if (src < 0.0) src = 0.0;
    const std::size_t a = std::min(static_cast<std::size_t>(src), in - 1);
    t.i0[i] = a;
    t.i1[i] = std::min(a + 1, in - 1);
    t.f[i] = src - static_cast<double>(a);
  }
  return t;
}

}  // namespace detail

/// Upsamples an h x w map (row-major) to width x height, bilinear as above.
inline std::vector<float> upsample_bilinear(const std::vector<float>& map, std::size_t w, std::size_t h, std::size_t width,
                                            std::size_t height) {
  if (w == 0 || h == 0 || map.size() != w * h || width == 0 || height == 0)
    throw Error({}, "upsample", "cannot resize a " + std::to_string(w) + " x " + std::to_string(h) + " map of " +
                                    std::to_string(map.size()) + " values to " + std::to_string(width) + " x " + std::to_string(height));
  const detail::LinearTaps tx = detail::linear_taps(w, width), ty = detail::linear_taps(h, height);
  std::vector<float> out(width * height);
  for (std::size_t y = 0; y < height; ++y) {
    const float* r0 = &map[ty.i0[y] * w];
    const float* r1 = &map[ty.i1[y] * w];
    const double fy = ty.f[y];
    for (std::size_t x = 0; x < width; ++x) {
      const double fx = tx.f[x];
      const double top = r0[tx.i0[x]] + fx * (static_cast<double>(r0[tx.i1[x]]) - r0[tx.i0[x]]);
      const double bottom = r1[tx.i0[x]] + fx * (static_cast<double>(r1[tx.i1[x]]) - r1[tx.i0[x]]);
      out[y * width + x] = static_cast<float>(top + fy * (bottom - top));
    }
  }
  return out;
}

/// The activation map over the photo: an RGB image of the photo's size. The map (one channel, or the
/// channel mean) is scaled to its own min and max (or options.range; symmetric about zero for the
/// diverging map), upsampled bilinearly, coloured, and blended as (1 - alpha) * photo + alpha * colour.
/// A grey photo is shown as RGB; an alpha channel is ignored.
template <typename T>
Image8 overlay(const Image8& photo, const Tensor<T>& activation, const OverlayOptions& options = {}) {
  if (photo.width == 0 || photo.height == 0 || photo.channels < 1 || photo.channels > 4 ||
      photo.pixels.size() != photo.width * photo.height * photo.channels)
    throw Error({}, "photo", "not a valid image (" + std::to_string(photo.width) + " x " + std::to_string(photo.height) + " x " +
                                 std::to_string(photo.channels) + ")");
  if (!(options.alpha >= 0.0 && options.alpha <= 1.0))
    throw Error({}, "alpha", "must be between 0 and 1, got " + std::to_string(options.alpha));
  detail::check_picture_size(photo.width, photo.height, "overlay");
  const detail::Dims d = detail::activation_dims(activation, "activation");
  const std::vector<float> map = detail::overlay_map(activation, options.channel);
  ValueRange range = options.range ? *options.range : detail::range_of<float>({{map.data(), map.size()}}, options.clip_percent);
  if (options.colormap == Colormap::diverging) range = detail::symmetric(range);
  const detail::Normaliser norm(range, options.colormap);
  const std::vector<float> big = upsample_bilinear(map, d.w, d.h, photo.width, photo.height);

  Image8 out(photo.width, photo.height, 3);
  const double a = options.alpha;
  const bool colour = photo.channels >= 3;
  for (std::size_t i = 0; i < big.size(); ++i) {
    const auto rgb = colormap_rgb(options.colormap, norm(static_cast<double>(big[i])));
    const std::uint8_t* p = &photo.pixels[i * photo.channels];
    for (std::size_t k = 0; k < 3; ++k) {
      const double v = (1.0 - a) * p[colour ? k : 0] + a * rgb[k];
      out.pixels[3 * i + k] = static_cast<std::uint8_t>(std::min(255.0, v + 0.5));
    }
  }
  return out;
}

/// The same for a photo as read_image returns it (RGB floats in [0, 1]).
template <typename T>
Image8 overlay(const RgbImage& photo, const Tensor<T>& activation, const OverlayOptions& options = {}) {
  return overlay(to_image8(photo), activation, options);
}

}  // namespace fmviz
