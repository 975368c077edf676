// make_grid: one layer's activation (1,C,H,W) as a picture, chosen channels side by side in a grid.
//
// The defaults draw the classic tutorial's figure: the first 16 channels, 8 columns (so 2 rows), each
// channel min-max scaled on its own, grey, at its native size. Options choose other channels (a list,
// all, the top K by mean activation: channels.hpp), cell upscaling, a shared value range for the whole layer
// or the whole network (CNN Explainer's "module" and "global" scales; the ranges come from stats.hpp),
// percentile clipping, colour maps, channel-index labels and a colour bar. grid_size gives a picture's size
// before there are any values.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "channels.hpp"
#include "colormap.hpp"
#include "detail/font.hpp"
#include "detail/parallel.hpp"
#include "error.hpp"
#include "image8.hpp"
#include "stats.hpp"
#include "tensor.hpp"

namespace fmviz {

/// Over which values the colour map's ends are fitted.
enum class NormScope {
  channel,  ///< each channel its own min and max (the classic tutorial)
  layer,    ///< one range over all channels of the layer (all of them, not only those shown)
  network,  ///< one range over every recorded layer (GridOptions::network_range, see network_range())
};

/// "channel", "layer" or "network", as parse_norm_scope() reads it.
inline const char* to_string(NormScope scope) noexcept {
  switch (scope) {
    case NormScope::channel: return "channel";
    case NormScope::layer: return "layer";
    case NormScope::network: return "network";
  }
  return "?";
}

/// "channel", "layer" or "network"; throws fmviz::Error listing them.
inline NormScope parse_norm_scope(const std::string& name) {
  for (NormScope s : {NormScope::channel, NormScope::layer, NormScope::network})
    if (name == to_string(s)) return s;
  throw Error({}, "scope", "unknown normalisation scope \"" + name + "\" (accepted: channel, layer, network)");
}

namespace detail {

/// Maps values to [0, 1]: (v - lo) / (hi - lo). An empty range (hi <= lo) maps everything to 0
/// (the darkest colour), or to 0.5 (white) for the diverging map.
struct Normaliser {
  double lo, width, flat;
  Normaliser(ValueRange r, Colormap map)
      : lo(r.lo), width(static_cast<double>(r.hi) - r.lo), flat(map == Colormap::diverging ? 0.5 : 0.0) {}
  double operator()(double v) const noexcept { return width > 0.0 ? (v - lo) / width : flat; }
};

inline std::string format_value(float v) {
  if (v == 0.0f) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(v));
  return buf;
}

inline void fill_rect(Image8& img, std::size_t x0, std::size_t y0, std::size_t x1, std::size_t y1,
                      const std::array<std::uint8_t, 3>& rgb) {
  x1 = std::min(x1, img.width);
  y1 = std::min(y1, img.height);
  for (std::size_t y = y0; y < y1; ++y)
    for (std::size_t x = x0; x < x1; ++x) std::memcpy(img.pixel(x, y), rgb.data(), 3);
}

/// The one-channel copy of an RGB image whose pixels are all grey.
inline Image8 to_grey(const Image8& rgb) {
  Image8 g(rgb.width, rgb.height, 1);
  for (std::size_t i = 0; i < g.pixels.size(); ++i) g.pixels[i] = rgb.pixels[3 * i];
  return g;
}

constexpr std::size_t max_picture_pixels = std::size_t(1) << 28;

inline void check_picture_size(std::size_t w, std::size_t h, const char* what) {
  if (w == 0 || h == 0 || w > max_picture_pixels || h > max_picture_pixels / w)
    throw Error({}, what, "the picture would be " + std::to_string(w) + " x " + std::to_string(h) + " pixels, more than " +
                              std::to_string(max_picture_pixels) + " (use fewer channels or a smaller min_cell)");
}

}  // namespace detail

/// What make_grid draws and how; the defaults are the classic tutorial's figure.
struct GridOptions {
  ChannelSelection channels;                        ///< default: the first 16
  std::size_t columns = 8;                          ///< at most this many cells per row; rows follow
  std::size_t padding = 2;                          ///< pixels between cells and around the grid
  std::array<std::uint8_t, 3> border{255, 255, 255};  ///< colour of the padding (and of the colour bar's area)
  std::size_t min_cell = 0;                         ///< upscale cells (nearest, whole factors) until both sides reach this; 0: native size
  NormScope scope = NormScope::channel;
  double clip_percent = 0.0;                        ///< > 0: fit the range to the p-th and (100-p)-th percentiles instead of min and max
  std::optional<ValueRange> network_range;         ///< required by NormScope::network; see network_range()
  Colormap colormap = Colormap::grey;               ///< diverging: ranges become symmetric about zero, white = 0
  bool labels = false;                              ///< channel index in each cell's top-left corner
  bool legend = false;                              ///< colour bar under the grid with the value range ("min"/"max" for per-channel scaling)
};

/// A rendered grid and what it shows.
struct Grid {
  Image8 image;                       ///< 1 channel (grey) when every colour in it is grey (the default), else RGB
  std::vector<std::size_t> channels;  ///< the channels shown, in reading order (left to right, top to bottom)
  std::vector<ValueRange> ranges;     ///< per shown channel: the values mapped to the colour map's two ends
  ValueRange range;                   ///< the shared range (layer, network scope); for channel scope the lowest lo and highest hi
  std::size_t rows = 0, columns = 0;  ///< cells per column and per row
  std::size_t cell_width = 0, cell_height = 0;  ///< a cell's size in pixels (W * scale, H * scale)
  std::size_t scale = 1;              ///< nearest-neighbour upscale factor of each cell
};

namespace detail {

/// Where make_grid puts things: the picture's size, the cells' and the colour bar's.
struct GridLayout {
  std::size_t scale = 1, columns = 0, rows = 0, width = 0, height = 0;
  std::size_t unit = 1, bar_y = 0, bar_h = 0, label_y = 0;
};

inline GridLayout layout_grid(const Dims& d, std::size_t n, const GridOptions& options, const std::string& lo_text,
                              const std::string& hi_text, const std::string& mid_text) {
  if (options.columns == 0) throw Error({}, "columns", "must be at least 1");
  if (options.min_cell > 16384) throw Error({}, "min_cell", "must be at most 16384, got " + std::to_string(options.min_cell));
  const std::size_t pad = options.padding;
  if (pad > 4096) throw Error({}, "padding", "must be at most 4096, got " + std::to_string(pad));
  GridLayout l;
  l.scale = options.min_cell == 0 ? 1 : std::max<std::size_t>(1, (options.min_cell + std::min(d.h, d.w) - 1) / std::min(d.h, d.w));
  const std::size_t cell_width = d.w * l.scale, cell_height = d.h * l.scale;
  l.columns = std::min(options.columns, n);
  l.rows = (n + l.columns - 1) / l.columns;
  l.width = l.columns * cell_width + (l.columns + 1) * pad;
  const std::size_t grid_height = l.rows * cell_height + (l.rows + 1) * pad;
  l.height = grid_height;
  // Text (labels, colour-bar values) and the colour bar grow with the cells: font pixels of `unit` x `unit`.
  l.unit = std::max<std::size_t>(1, std::min(cell_width, cell_height) / 80);
  if (options.legend) {
    const std::size_t margin = std::max(pad, 4 * l.unit);
    l.bar_y = grid_height + (pad == 0 ? margin : margin - pad);
    l.bar_h = 12 * l.unit;
    l.label_y = l.bar_y + l.bar_h + 3 * l.unit;
    l.height = l.label_y + text_height(l.unit) + margin;
    const std::size_t need = text_width(lo_text, l.unit) + text_width(hi_text, l.unit) + text_width(mid_text, l.unit) +
                             6 * glyph_advance * l.unit + 2 * margin;
    l.width = std::max(l.width, need);
  }
  check_picture_size(l.width, l.height, "grid");
  return l;
}

}  // namespace detail

/// The width and height make_grid's picture will have for an activation of `shape` ((1,C,H,W) or (C,H,W)),
/// at most (colour-bar values are taken at their longest), computed without the values: a program checks every
/// picture it will draw before running anything. Throws fmviz::Error as make_grid would (a picture too large,
/// channels that do not exist, bad options).
inline std::pair<std::size_t, std::size_t> grid_size(const Shape& shape, const GridOptions& options = {}) {
  if (!(shape.size() == 4 && shape[0] == 1) && shape.size() != 3)
    throw Error({}, "activation", "expected shape (1,C,H,W) or (C,H,W), got " + shape_to_string(shape));
  const std::size_t r = shape.size() - 3;
  const detail::Dims d{shape[r], shape[r + 1], shape[r + 2]};
  if (d.c == 0 || d.h == 0 || d.w == 0) throw Error({}, "activation", "empty activation " + shape_to_string(shape));
  const std::size_t n = selected_channel_count(options.channels, d.c);
  if (n == 0) throw Error({}, "channels", "the selection \"" + to_string(options.channels) + "\" picks no channel");
  const std::string widest = "-8.88e+38";  // format_value's longest output (%.3g of a float)
  const bool named = options.scope == NormScope::channel;
  const detail::GridLayout l = detail::layout_grid(d, n, options, named ? "-max" : widest, named ? "max" : widest,
                                                   options.colormap == Colormap::diverging ? "0" : "");
  return {l.width, l.height};
}

/// Renders the chosen channels of `activation`, shape (1,C,H,W) or (C,H,W). Image size:
/// columns * cell_width + (columns + 1) * padding by rows * cell_height + (rows + 1) * padding, plus the
/// colour bar's strip when legend is on. A channel (or layer) whose values are all equal is drawn in
/// the colour map's low end (white for the diverging map at zero).
template <typename T>
Grid make_grid(const Tensor<T>& activation, const GridOptions& options = {}) {
  const detail::Dims d = detail::activation_dims(activation, "activation");
  if (options.columns == 0) throw Error({}, "columns", "must be at least 1");
  detail::check_clip(options.clip_percent);

  Grid g;
  g.channels = select_channels(activation, options.channels);
  const std::size_t n = g.channels.size();
  const std::size_t plane = d.h * d.w;
  const bool diverging = options.colormap == Colormap::diverging;

  // Value ranges.
  g.ranges.resize(n);
  if (options.scope == NormScope::channel) {
    detail::parallel_for(n, [&](std::size_t k) {
      const T* p = activation.data() + g.channels[k] * plane;
      ValueRange r = detail::range_of<T>({{p, plane}}, options.clip_percent);
      g.ranges[k] = diverging ? detail::symmetric(r) : r;
    }, n * plane > (std::size_t(1) << 16));
    g.range = g.ranges[0];
    for (const ValueRange& r : g.ranges) {
      g.range.lo = std::min(g.range.lo, r.lo);
      g.range.hi = std::max(g.range.hi, r.hi);
    }
  } else {
    ValueRange r;
    if (options.scope == NormScope::layer) {
      r = value_range(activation, options.clip_percent);
    } else {
      if (!options.network_range)
        throw Error({}, "network_range", "normalisation scope network needs GridOptions::network_range (see fmviz::network_range)");
      r = *options.network_range;
    }
    g.range = diverging ? detail::symmetric(r) : r;
    std::fill(g.ranges.begin(), g.ranges.end(), g.range);
  }

  // Geometry.
  std::string lo_text, hi_text, mid_text;
  if (options.legend) {
    if (options.scope == NormScope::channel) {  // each cell has its own range: name the ends
      lo_text = diverging ? "-max" : "min";
      hi_text = "max";
    } else {
      lo_text = detail::format_value(g.range.lo);
      hi_text = detail::format_value(g.range.hi);
    }
    if (diverging) mid_text = "0";
  }
  const detail::GridLayout layout = detail::layout_grid(d, n, options, lo_text, hi_text, mid_text);
  g.scale = layout.scale;
  g.cell_width = d.w * g.scale;
  g.cell_height = d.h * g.scale;
  g.columns = layout.columns;
  g.rows = layout.rows;
  const std::size_t pad = options.padding, width = layout.width, height = layout.height;
  const std::size_t unit = layout.unit, text_scale = unit, bar_y = layout.bar_y, bar_h = layout.bar_h, label_y = layout.label_y;

  // A grey picture with nothing drawn over it is drawn with one channel straight away; otherwise in
  // RGB (labels and colour bar are drawn in RGB), made grey at the end if every colour in it is grey.
  const bool grey = colormap_is_grey(options.colormap) && options.border[0] == options.border[1] && options.border[1] == options.border[2];
  const std::size_t depth = grey && !options.labels && !options.legend ? 1 : 3;
  Image8 img(width, height, depth, options.border[0]);
  if (depth == 3)
    for (std::size_t i = 0; i < img.pixels.size(); i += 3) std::memcpy(&img.pixels[i], options.border.data(), 3);

  // Cells: each source row is coloured once, widened `scale` times, then copied to `scale` image rows.
  detail::parallel_for(n, [&](std::size_t k) {
    const std::size_t x0 = pad + (k % g.columns) * (g.cell_width + pad);
    const std::size_t y0 = pad + (k / g.columns) * (g.cell_height + pad);
    const T* p = activation.data() + g.channels[k] * plane;
    const detail::Normaliser norm(g.ranges[k], options.colormap);
    std::vector<std::uint8_t> row(g.cell_width * depth), levels(depth == 1 ? d.w : 0);
    for (std::size_t y = 0; y < d.h; ++y) {
      const T* src = p + y * d.w;
      if (depth == 1) {  // grey: a plain loop over the row (it vectorises), then widened
        for (std::size_t x = 0; x < d.w; ++x) levels[x] = detail::grey_level(norm(static_cast<double>(src[x])));
        if (g.scale == 1) std::memcpy(row.data(), levels.data(), d.w);
        else
          for (std::size_t x = 0; x < d.w; ++x) std::memset(&row[x * g.scale], levels[x], g.scale);
      } else {
        for (std::size_t x = 0; x < d.w; ++x) {
          const auto rgb = colormap_rgb(options.colormap, norm(static_cast<double>(src[x])));
          for (std::size_t s = 0; s < g.scale; ++s) std::memcpy(&row[(x * g.scale + s) * 3], rgb.data(), 3);
        }
      }
      for (std::size_t s = 0; s < g.scale; ++s) std::memcpy(img.pixel(x0, y0 + y * g.scale + s), row.data(), row.size());
    }
    if (options.labels) {
      const std::string text = std::to_string(g.channels[k]);
      const std::size_t x1 = x0 + g.cell_width, y1 = y0 + g.cell_height;
      detail::fill_rect(img, x0, y0, std::min(x1, x0 + detail::text_width(text, text_scale) + 2 * unit),
                        std::min(y1, y0 + detail::text_height(text_scale) + 2 * unit), {0, 0, 0});
      detail::draw_text(img, x0 + unit, y0 + unit, text, text_scale, {255, 255, 255}, x0, y0, x1, y1);
    }
  }, n * plane * g.scale * g.scale > (std::size_t(1) << 16));

  // Colour bar: the map from left (low) to right (high), its range written underneath.
  if (options.legend) {
    const std::size_t margin = std::max(pad, 4 * unit);
    const std::size_t bx0 = margin, bx1 = width - margin;
    for (std::size_t x = bx0; x < bx1; ++x) {
      const double t = bx1 - bx0 > 1 ? static_cast<double>(x - bx0) / static_cast<double>(bx1 - bx0 - 1) : 0.0;
      detail::fill_rect(img, x, bar_y, x + 1, bar_y + bar_h, colormap_rgb(options.colormap, t));
    }
    const auto& b = options.border;
    const bool light = 299 * b[0] + 587 * b[1] + 114 * b[2] > 127500;
    const std::array<std::uint8_t, 3> ink = light ? std::array<std::uint8_t, 3>{0, 0, 0} : std::array<std::uint8_t, 3>{255, 255, 255};
    detail::draw_text(img, bx0, label_y, lo_text, text_scale, ink, 0, 0, width, height);
    detail::draw_text(img, bx1 - detail::text_width(hi_text, text_scale), label_y, hi_text, text_scale, ink, 0, 0, width, height);
    if (!mid_text.empty())
      detail::draw_text(img, (bx0 + bx1 - detail::text_width(mid_text, text_scale)) / 2, label_y, mid_text, text_scale, ink, 0, 0,
                        width, height);
  }

  g.image = grey && depth == 3 ? detail::to_grey(img) : std::move(img);
  return g;
}

}  // namespace fmviz
