// filter_grid: a conv layer's filters (its weights) as enlarged patches: conv1_1's 3-input filters as
// colour patches, deeper layers one input channel at a time.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "channels.hpp"
#include "colormap.hpp"
#include "error.hpp"
#include "grid.hpp"
#include "layers/conv2d.hpp"
#include "stats.hpp"
#include "tensor.hpp"

namespace fmviz {

struct FilterGridOptions {
  ChannelSelection filters = ChannelSelection::all();  ///< which filters (output channels); top K is refused
  std::optional<std::size_t> input_channel;   ///< none: colour patches when the layer has 3 inputs, else input channel 0
  bool bgr = false;                           ///< the 3 inputs are B, G, R (Caffe weights, Preset::caffe): drawn as R, G, B
  std::size_t scale = 8;                      ///< each weight becomes a scale x scale square
  std::size_t columns = 8;
  std::size_t padding = 1;
  std::array<std::uint8_t, 3> border{255, 255, 255};
  NormScope scope = NormScope::layer;         ///< layer: one range over every filter's drawn weights; channel: each filter its own; network is refused
  Colormap colormap = Colormap::grey;         ///< for one-input-channel patches (diverging: zero is white); colour patches ignore it
  bool labels = false;                        ///< filter index in each patch (legible from scale 4 or so)
};

/// Draws the filters of `conv`. Grid::channels lists the filters shown; Grid::ranges their weight ranges.
template <typename T>
Grid filter_grid(const Conv2d<T>& conv, const FilterGridOptions& options = {}) {
  const Tensor<T>& w = conv.weight();
  const std::size_t outs = w.dim(0), ins = w.dim(1), kh = w.dim(2), kw = w.dim(3), patch = kh * kw;
  if (options.filters.kind == ChannelSelection::Kind::top)
    throw Error({}, "filters", "top K is not a choice of filters: use N, all or a list");
  if (options.scope == NormScope::network) throw Error({}, "scope", "filters are scaled per layer or per filter, not per network");
  if (options.scale == 0 || options.scale > 1024) throw Error({}, "scale", "must be 1 to 1024, got " + std::to_string(options.scale));
  if (options.input_channel && *options.input_channel >= ins)
    throw Error({}, "input_channel", "input channel " + std::to_string(*options.input_channel) + " does not exist: this layer has 0-" +
                                         std::to_string(ins - 1));
  const bool rgb = !options.input_channel && ins == 3;
  const std::size_t planes = rgb ? 3 : 1;
  const std::size_t in0 = options.input_channel.value_or(0);
  const bool diverging = !rgb && options.colormap == Colormap::diverging;

  // The drawn values, filter by filter: (outs, planes, kh, kw); RGB planes in R, G, B order.
  std::vector<T> drawn(outs * planes * patch);
  for (std::size_t o = 0; o < outs; ++o)
    for (std::size_t p = 0; p < planes; ++p) {
      const std::size_t i = rgb ? (options.bgr ? 2 - p : p) : in0;
      const T* src = w.data() + (o * ins + i) * patch;
      std::copy(src, src + patch, drawn.begin() + static_cast<std::ptrdiff_t>((o * planes + p) * patch));
    }
  const std::size_t per = planes * patch;
  std::vector<ValueRange> ranges(outs);
  const ValueRange layer = detail::range_of<T>({{drawn.data(), drawn.size()}}, 0.0);
  for (std::size_t o = 0; o < outs; ++o) {
    ValueRange r = options.scope == NormScope::layer ? layer : detail::range_of<T>({{drawn.data() + o * per, per}}, 0.0);
    ranges[o] = diverging ? detail::symmetric(r) : r;
  }

  // Each plane scaled to [0, 1] (to [-1, 1] by max |w| for the diverging map), then drawn by make_grid
  // with that fixed range: once for one-channel patches, once per colour component for RGB ones.
  GridOptions go;
  go.columns = options.columns;
  go.padding = options.padding;
  go.min_cell = options.scale * std::min(kh, kw);
  go.scope = NormScope::network;
  go.network_range = diverging ? ValueRange{-1.0f, 1.0f} : ValueRange{0.0f, 1.0f};
  go.colormap = rgb ? Colormap::grey : options.colormap;
  go.labels = options.labels;
  go.channels = options.filters;
  Grid result;
  for (std::size_t p = 0; p < planes; ++p) {
    Tensor<float> t({outs, kh, kw});
    for (std::size_t o = 0; o < outs; ++o) {
      const detail::Normaliser norm(ranges[o], Colormap::grey);
      const T* src = drawn.data() + o * per + p * patch;
      float* dst = t.data() + o * patch;
      for (std::size_t i = 0; i < patch; ++i) {
        const double v = static_cast<double>(src[i]);
        const double m = static_cast<double>(ranges[o].hi);
        dst[i] = static_cast<float>(diverging ? (m > 0.0 ? v / m : 0.0) : norm(v));
      }
    }
    if (rgb) go.border = {options.border[p], options.border[p], options.border[p]};
    else go.border = options.border;
    Grid g = make_grid(t, go);
    if (p == 0) {
      result = std::move(g);
      if (rgb) {
        Image8 colour(result.image.width, result.image.height, 3);
        for (std::size_t i = 0; i < result.image.pixels.size(); ++i) colour.pixels[3 * i] = result.image.pixels[i];
        result.image = std::move(colour);
      }
    } else {
      for (std::size_t i = 0; i < g.image.pixels.size(); ++i) result.image.pixels[3 * i + p] = g.image.pixels[i];
    }
  }
  result.ranges.clear();
  for (std::size_t o : result.channels) result.ranges.push_back(ranges[o]);
  result.range = result.ranges[0];
  for (const ValueRange& r : result.ranges) {
    result.range.lo = std::min(result.range.lo, r.lo);
    result.range.hi = std::max(result.range.hi, r.hi);
  }
  return result;
}

}  // namespace fmviz
