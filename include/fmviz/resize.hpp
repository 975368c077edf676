// Resizing: antialiased bilinear resampling of an RgbImage, as torchvision's Resize(antialias=True) does it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "detail/parallel.hpp"
#include "error.hpp"
#include "rgb_image.hpp"

namespace fmviz {
namespace detail {

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

}  // namespace detail

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

}  // namespace fmviz
