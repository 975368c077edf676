// make_grid: channel choice, geometry, normalisation scopes, clipping, colour, labels, legend;
// network_range; filter_grid; PNG round trip.
#include <fmviz/channels.hpp>
#include <fmviz/filters.hpp>
#include <fmviz/grid.hpp>
#include <fmviz/png.hpp>
#include <fmviz/recorder.hpp>
#include <fmviz/stats.hpp>
#include <fmviz/threads.hpp>
#include <fmviz/detail/stb.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"

using fmviz::ChannelSelection;
using fmviz::Grid;
using fmviz::GridOptions;
using fmviz::NormScope;
using fmviz::Tensor;
using fmviz_test::contains;

namespace {

/// A (1,C,H,W) activation whose value at (c, y, x) is c * 1000 + y * W + x.
Tensor<float> ramp(std::size_t c, std::size_t h, std::size_t w) {
  Tensor<float> t({1, c, h, w});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>((i / (h * w)) * 1000 + i % (h * w));
  return t;
}

std::uint8_t grey_at(const Grid& g, std::size_t x, std::size_t y) { return g.image.pixel(x, y)[0]; }

/// Top-left pixel of cell k.
std::array<std::size_t, 2> cell_origin(const Grid& g, std::size_t k, std::size_t pad) {
  return {pad + (k % g.columns) * (g.cell_width + pad), pad + (k / g.columns) * (g.cell_height + pad)};
}

}  // namespace

TEST_CASE("the default grid is the tutorial's: first 16 channels, 2 x 8, native size, grey", "[grid]") {
  const Tensor<float> act = ramp(64, 224, 224);
  const Grid g = fmviz::make_grid(act);
  CHECK(g.rows == 2);
  CHECK(g.columns == 8);
  CHECK(g.cell_width == 224);
  CHECK(g.cell_height == 224);
  CHECK(g.scale == 1);
  CHECK(g.image.channels == 1);
  CHECK(g.image.width == 8 * 224 + 9 * 2);
  CHECK(g.image.height == 2 * 224 + 3 * 2);
  REQUIRE(g.channels.size() == 16);
  for (std::size_t k = 0; k < 16; ++k) CHECK(g.channels[k] == k);
  CHECK(grey_at(g, 0, 0) == 255);  // white padding
  CHECK(grey_at(g, 2, 2) == 0);    // first pixel of channel 0 is its minimum
  CHECK(grey_at(g, 2 + 223, 2 + 223) == 255);
}

TEST_CASE("grid geometry for several channel counts, columns, padding and minimum cell sizes", "[grid]") {
  struct Case {
    std::size_t channels, h, w;
    ChannelSelection sel;
    std::size_t columns, padding, min_cell;
    std::size_t rows, cols, cell_w, cell_h, shown;
  };
  const std::vector<Case> cases = {
      {64, 14, 14, ChannelSelection::first(16), 8, 2, 0, 2, 8, 14, 14, 16},
      {5, 14, 14, ChannelSelection::first(16), 8, 2, 0, 1, 5, 14, 14, 5},     // fewer channels than asked
      {20, 7, 9, ChannelSelection::all(), 8, 1, 0, 3, 8, 9, 7, 20},
      {10, 14, 14, ChannelSelection::all(), 4, 0, 0, 3, 4, 14, 14, 10},
      {64, 14, 14, ChannelSelection::first(16), 8, 2, 64, 2, 8, 70, 70, 16},   // 14 * 5 >= 64
      {64, 28, 28, ChannelSelection::top(3), 8, 3, 56, 1, 3, 56, 56, 3},       // exactly 2x
      {64, 6, 12, ChannelSelection::only({1, 2, 3, 9, 40}), 2, 2, 20, 3, 2, 48, 24, 5},  // both sides >= 20
      {3, 1, 1, ChannelSelection::first(1), 8, 0, 0, 1, 1, 1, 1, 1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.channels, c.h, c.w, fmviz::to_string(c.sel), c.columns, c.padding, c.min_cell);
    GridOptions o;
    o.channels = c.sel;
    o.columns = c.columns;
    o.padding = c.padding;
    o.min_cell = c.min_cell;
    const Grid g = fmviz::make_grid(ramp(c.channels, c.h, c.w), o);
    CHECK(g.rows == c.rows);
    CHECK(g.columns == c.cols);
    CHECK(g.cell_width == c.cell_w);
    CHECK(g.cell_height == c.cell_h);
    CHECK(g.channels.size() == c.shown);
    CHECK(g.ranges.size() == c.shown);
    CHECK(g.image.width == c.cols * c.cell_w + (c.cols + 1) * c.padding);
    CHECK(g.image.height == c.rows * c.cell_h + (c.rows + 1) * c.padding);
    CHECK(g.image.pixels.size() == g.image.width * g.image.height * g.image.channels);
  }
}

TEST_CASE("cells upscale by nearest neighbour and land where the layout says", "[grid]") {
  const Tensor<float> act = ramp(4, 2, 3);  // per channel: 0 1 2 / 3 4 5 (+1000 c)
  GridOptions o;
  o.channels = ChannelSelection::only({2, 0});
  o.columns = 2;
  o.padding = 1;
  o.min_cell = 4;  // min side 2 -> scale 2
  const Grid g = fmviz::make_grid(act, o);
  REQUIRE(g.scale == 2);
  const auto [x0, y0] = cell_origin(g, 0, 1);
  // value 1 (of 0..5) at (y 0, x 1) -> round(255 / 5) = 51, over a 2x2 block.
  for (std::size_t dy = 0; dy < 2; ++dy)
    for (std::size_t dx = 0; dx < 2; ++dx) CHECK(grey_at(g, x0 + 2 + dx, y0 + dy) == 51);
  CHECK(grey_at(g, x0 + 5, y0 + 3) == 255);
  const auto [x1, y1] = cell_origin(g, 1, 1);
  CHECK(x1 == 1 + 6 + 1);
  CHECK(y1 == 1);
  CHECK(grey_at(g, x1, y1) == 0);
  CHECK(g.channels == std::vector<std::size_t>{2, 0});
}

TEST_CASE("top K puts channels whose mean is NaN last, in channel order", "[grid]") {
  Tensor<float> act = Tensor<float>::zeros({1, 7, 2, 2});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float means[7] = {1.0f, nan, 5.0f, nan, -3.0f, 5.0f, nan};
  for (std::size_t c = 0; c < 7; ++c)
    for (std::size_t i = 0; i < 4; ++i) act[c * 4 + i] = means[c];
  CHECK(fmviz::select_channels(act, ChannelSelection::top(3)) == std::vector<std::size_t>{2, 5, 0});
  CHECK(fmviz::select_channels(act, ChannelSelection::top(7)) == std::vector<std::size_t>{2, 5, 0, 4, 1, 3, 6});
}

TEST_CASE("top K picks the channels of highest mean, highest first", "[grid]") {
  Tensor<float> act = Tensor<float>::zeros({1, 6, 3, 3});
  const float means[6] = {0.5f, -2.0f, 7.0f, 3.0f, 7.0f, 1.0f};
  for (std::size_t c = 0; c < 6; ++c)
    for (std::size_t i = 0; i < 9; ++i) act[c * 9 + i] = means[c] + (i == 4 ? 0.5f : i == 0 ? -0.5f : 0.0f);
  CHECK(fmviz::select_channels(act, ChannelSelection::top(3)) == std::vector<std::size_t>{2, 4, 3});  // tie: lower index first
  CHECK(fmviz::select_channels(act, ChannelSelection::top(10)) == std::vector<std::size_t>{2, 4, 3, 5, 0, 1});
  GridOptions o;
  o.channels = fmviz::parse_channels("top2");
  const Grid g = fmviz::make_grid(act, o);
  CHECK(g.channels == std::vector<std::size_t>{2, 4});
  const std::vector<double> m = fmviz::channel_means(act);
  CHECK(m[1] == Approx(-2.0));
}

TEST_CASE("channel selections parse, print and reject bad input", "[grid]") {
  CHECK(fmviz::parse_channels("16").kind == ChannelSelection::Kind::first);
  CHECK(fmviz::parse_channels("16").count == 16);
  CHECK(fmviz::parse_channels("all").kind == ChannelSelection::Kind::all);
  CHECK(fmviz::parse_channels("top8").kind == ChannelSelection::Kind::top);
  CHECK(fmviz::parse_channels("top8").count == 8);
  const ChannelSelection list = fmviz::parse_channels("0-3,42,7-8");
  CHECK(list.kind == ChannelSelection::Kind::list);
  CHECK(list.channels == std::vector<std::size_t>{0, 1, 2, 3, 42, 7, 8});
  CHECK(fmviz::parse_channels("5-5").channels == std::vector<std::size_t>{5});
  for (const char* s : {"16", "all", "top8", "0-3,42-42,7-8"}) CHECK(fmviz::to_string(fmviz::parse_channels(s)) == s);
  for (const char* bad : {"", "0", "top", "top0", "x", "3-1", "1,,2", "1,", "-3", "1-", "2-x", "top-3", "99999999999"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(fmviz::parse_channels(bad), contains("expected N (the first N channels), all, topK"));
  }
  GridOptions o;
  o.channels = fmviz::parse_channels("0-3,64");
  CHECK_THROWS_WITH(fmviz::make_grid(ramp(64, 2, 2), o), contains("channel 64 does not exist: this layer has channels 0-63"));
}

TEST_CASE("bad shapes and options are refused", "[grid]") {
  CHECK_THROWS_WITH(fmviz::make_grid(Tensor<float>::zeros({2, 3, 4, 4})), contains("expected a non-empty (1,C,H,W) or (C,H,W) activation"));
  CHECK_THROWS_WITH(fmviz::make_grid(Tensor<float>::zeros({16, 16})), contains("got shape (16,16)"));
  GridOptions o;
  o.columns = 0;
  CHECK_THROWS_WITH(fmviz::make_grid(ramp(2, 2, 2), o), contains("columns: must be at least 1"));
  o = {};
  o.clip_percent = 50;
  CHECK_THROWS_WITH(fmviz::make_grid(ramp(2, 2, 2), o), contains("clip_percent"));
  o = {};
  o.scope = NormScope::network;
  CHECK_THROWS_WITH(fmviz::make_grid(ramp(2, 2, 2), o), contains("needs GridOptions::network_range"));
  o = {};
  o.min_cell = 16384;
  o.channels = ChannelSelection::all();
  CHECK_THROWS_WITH(fmviz::make_grid(ramp(64, 1, 1), o), contains("use fewer channels or a smaller min_cell"));
  CHECK(fmviz::parse_norm_scope("layer") == NormScope::layer);
  CHECK_THROWS_WITH(fmviz::parse_norm_scope("global"), contains("accepted: channel, layer, network"));
}

TEST_CASE("per-channel min-max: min -> 0, max -> 255, rounding in between", "[grid][norm]") {
  Tensor<float> act({1, 2, 1, 5});
  const float v[10] = {-3.0f, -1.0f, 0.0f, 1.5f, 7.0f, 100.0f, 100.25f, 100.5f, 100.75f, 101.0f};
  std::memcpy(act.data(), v, sizeof v);
  GridOptions o;
  o.padding = 0;
  const Grid g = fmviz::make_grid(act, o);
  REQUIRE(g.image.width == 10);
  const std::uint8_t want[10] = {0, 51, 77, 115, 255, 0, 64, 128, 191, 255};  // round((v - min) / (max - min) * 255)
  for (std::size_t x = 0; x < 10; ++x) {
    CAPTURE(x);
    CHECK(grey_at(g, x, 0) == want[x]);
  }
  CHECK(g.ranges[0].lo == -3.0f);
  CHECK(g.ranges[0].hi == 7.0f);
  CHECK(g.range.lo == -3.0f);
  CHECK(g.range.hi == 101.0f);
}

TEST_CASE("a constant channel, NaN and infinities give no garbage", "[grid][norm]") {
  Tensor<float> act({1, 3, 4, 4});
  for (std::size_t i = 0; i < 16; ++i) act[i] = 2.5f;                  // constant
  for (std::size_t i = 16; i < 32; ++i) act[i] = static_cast<float>(i);  // 16..31 with a NaN and an inf
  act[20] = std::numeric_limits<float>::quiet_NaN();
  act[21] = std::numeric_limits<float>::infinity();
  for (std::size_t i = 32; i < 48; ++i) act[i] = std::numeric_limits<float>::quiet_NaN();  // nothing finite
  for (fmviz::Colormap map : {fmviz::Colormap::grey, fmviz::Colormap::viridis, fmviz::Colormap::diverging}) {
    GridOptions o;
    o.padding = 0;
    o.colormap = map;
    const Grid g = fmviz::make_grid(act, o);
    const auto low = fmviz::colormap_rgb(map, map == fmviz::Colormap::diverging ? 1.0 : 0.0);  // diverging: 2.5 of +-2.5
    for (std::size_t x = 0; x < 4; ++x)
      for (std::size_t y = 0; y < 4; ++y) CHECK(std::memcmp(g.image.pixel(x, y), low.data(), g.image.channels) == 0);
    CHECK(std::isfinite(g.ranges[1].lo));
    CHECK(g.ranges[1].hi == 31.0f);
    CHECK(g.ranges[2].lo == 0.0f);
    CHECK(g.ranges[2].hi == 0.0f);
    CHECK(std::memcmp(g.image.pixel(4, 0), fmviz::colormap_rgb(map, map == fmviz::Colormap::diverging ? 0.5 + 16.0 / 62 : 0.0).data(),
                      g.image.channels) == 0);
  }
}

TEST_CASE("value_range is the sequential min and max of the finite values, signed zeros included", "[grid][norm]") {
  std::mt19937 rng(5);
  for (std::size_t n = 1; n < 80; ++n) {
    CAPTURE(n);
    Tensor<float> t({1, 1, 1, n});
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t r = rng() % 16;
      t[i] = r == 0 ? std::numeric_limits<float>::quiet_NaN()
             : r == 1 ? std::numeric_limits<float>::infinity()
             : r == 2 ? -std::numeric_limits<float>::infinity()
             : r == 3 ? 0.0f
             : r == 4 ? -0.0f
             : static_cast<float>(static_cast<int>(rng() % 200) - 100) / 7.0f;
    }
    if (n % 3 == 0)  // all non-negative or all non-positive: a zero is the min or the max
      for (std::size_t i = 0; i < n; ++i) t[i] = n % 2 ? std::fabs(t[i]) : -std::fabs(t[i]);
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;  // the plain loop
    for (std::size_t i = 0; i < n; ++i)
      if (std::isfinite(t[i])) {
        lo = t[i] < lo ? t[i] : lo;
        hi = t[i] > hi ? t[i] : hi;
      }
    if (lo > hi) lo = hi = 0.0f;
    const fmviz::ValueRange r = fmviz::value_range(t);
    CHECK(std::memcmp(&r.lo, &lo, sizeof lo) == 0);  // bit for bit: -0 is not +0
    CHECK(std::memcmp(&r.hi, &hi, sizeof hi) == 0);
  }
}

TEST_CASE("grids are the same picture with any thread count, and grey ones drawn directly are the RGB ones' red", "[grid]") {
  Tensor<float> act({1, 20, 30, 30});
  std::mt19937 rng(6);
  for (float& v : act) v = static_cast<float>(rng() % 1000) / 37.0f - 10.0f;
  const int saved = fmviz::thread_count();
  for (bool legend : {false, true}) {
    GridOptions o;
    o.channels = ChannelSelection::all();
    o.min_cell = 64;
    o.legend = legend;
    fmviz::set_thread_count(1);
    const Grid one = fmviz::make_grid(act, o);
    fmviz::set_thread_count(2);
    const Grid two = fmviz::make_grid(act, o);
    fmviz::set_thread_count(saved);
    CHECK(one.image.channels == 1);
    CHECK(one.image.pixels == two.image.pixels);
    // A border that is not quite grey makes the grid RGB; its red channel is the grey picture.
    o.border = {255, 255, 254};
    const Grid rgb = fmviz::make_grid(act, o);
    REQUIRE(rgb.image.channels == 3);
    REQUIRE(rgb.image.pixels.size() == 3 * one.image.pixels.size());
    bool red_is_grey = true;
    for (std::size_t i = 0; i < one.image.pixels.size(); ++i) red_is_grey = red_is_grey && rgb.image.pixels[3 * i] == one.image.pixels[i];
    CHECK(red_is_grey);
  }
}

TEST_CASE("percentile clipping saturates the outliers", "[grid][norm]") {
  Tensor<float> act({1, 1, 1, 101});
  for (std::size_t i = 0; i < 101; ++i) act[i] = static_cast<float>(i);
  act[0] = -1000.0f;
  act[100] = 5000.0f;
  GridOptions o;
  o.padding = 0;
  o.clip_percent = 2.0;  // percentiles 2 and 98 of 101 values: the values at ranks 2 and 98
  const Grid g = fmviz::make_grid(act, o);
  CHECK(g.range.lo == 2.0f);
  CHECK(g.range.hi == 98.0f);
  CHECK(grey_at(g, 0, 0) == 0);
  CHECK(grey_at(g, 1, 0) == 0);
  CHECK(grey_at(g, 2, 0) == 0);
  CHECK(grey_at(g, 50, 0) == 128);  // (50 - 2) / 96 = 0.5
  CHECK(grey_at(g, 98, 0) == 255);
  CHECK(grey_at(g, 100, 0) == 255);
  // Interpolated between order statistics as numpy.percentile does: 0..9, 25th percentile = 2.25.
  Tensor<float> ten({1, 1, 1, 10});
  for (std::size_t i = 0; i < 10; ++i) ten[i] = static_cast<float>(9 - i);
  const fmviz::ValueRange r = fmviz::value_range(ten, 25.0);
  CHECK(r.lo == Approx(2.25));
  CHECK(r.hi == Approx(6.75));
}

TEST_CASE("layer scope shares one range over all the layer's channels", "[grid][norm]") {
  Tensor<float> act({1, 3, 1, 2});
  const float v[6] = {0.0f, 10.0f, 5.0f, 6.0f, -10.0f, 20.0f};  // channel 2 is not shown but sets the range
  std::memcpy(act.data(), v, sizeof v);
  GridOptions o;
  o.padding = 0;
  o.scope = NormScope::layer;
  o.channels = ChannelSelection::first(2);
  const Grid g = fmviz::make_grid(act, o);
  CHECK(g.range.lo == -10.0f);
  CHECK(g.range.hi == 20.0f);
  CHECK(grey_at(g, 0, 0) == 85);   // (0 + 10) / 30
  CHECK(grey_at(g, 1, 0) == 170);  // 20 / 30
  CHECK(grey_at(g, 2, 0) == 128);  // 15 / 30
  CHECK(grey_at(g, 3, 0) == 136);  // 16 / 30 = 0.5333 -> 136
}

TEST_CASE("network scope uses the range over every recorded layer", "[grid][norm]") {
  fmviz::ActivationRecorder<float> rec;
  Tensor<float> a({1, 1, 1, 2}), b({1, 2, 1, 1});
  a[0] = 1.0f;
  a[1] = 2.0f;
  b[0] = -4.0f;
  b[1] = 12.0f;
  rec(fmviz::LayerInfo{"conv1_1", fmviz::LayerKind::conv2d, 0}, a);
  rec(fmviz::LayerInfo{"conv1_2", fmviz::LayerKind::conv2d, 2}, b);
  const fmviz::ValueRange r = fmviz::network_range(rec);
  CHECK(r.lo == -4.0f);
  CHECK(r.hi == 12.0f);
  CHECK(fmviz::network_range<float>({&a, &b}).hi == 12.0f);
  GridOptions o;
  o.padding = 0;
  o.scope = NormScope::network;
  o.network_range = r;
  const Grid g = fmviz::make_grid(rec.at("conv1_1"), o);
  CHECK(grey_at(g, 0, 0) == 80);  // (1 + 4) / 16 * 255 = 79.7
  CHECK(grey_at(g, 1, 0) == 96);  // 6 / 16 * 255 = 95.6
  const fmviz::ValueRange clipped = fmviz::network_range(rec, 10.0);  // of -4 1 2 12: 10th pct -2.5, 90th 9
  CHECK(clipped.lo == Approx(-2.5));
  CHECK(clipped.hi == Approx(9.0));
}

TEST_CASE("diverging grids are symmetric about zero, white at zero", "[grid][colour]") {
  Tensor<float> act({1, 1, 1, 3});
  act[0] = -1.0f;
  act[1] = 0.0f;
  act[2] = 4.0f;
  GridOptions o;
  o.padding = 0;
  o.colormap = fmviz::Colormap::diverging;
  const Grid g = fmviz::make_grid(act, o);
  REQUIRE(g.image.channels == 3);
  CHECK(g.range.lo == -4.0f);
  CHECK(g.range.hi == 4.0f);
  const std::uint8_t* zero = g.image.pixel(1, 0);
  CHECK((zero[0] == 255 && zero[1] == 255 && zero[2] == 255));
  CHECK(std::memcmp(g.image.pixel(2, 0), fmviz::colormap_rgb(fmviz::Colormap::diverging, 1.0).data(), 3) == 0);
  CHECK(std::memcmp(g.image.pixel(0, 0), fmviz::colormap_rgb(fmviz::Colormap::diverging, 0.375).data(), 3) == 0);
}

TEST_CASE("colour maps, labels and the colour bar", "[grid][colour]") {
  const Tensor<float> act = ramp(16, 64, 64);
  GridOptions o;
  o.colormap = fmviz::Colormap::viridis;
  o.border = {10, 20, 30};
  const Grid plain = fmviz::make_grid(act, o);
  REQUIRE(plain.image.channels == 3);
  CHECK(std::memcmp(plain.image.pixel(0, 0), o.border.data(), 3) == 0);
  CHECK(std::memcmp(plain.image.pixel(2, 2), fmviz::colormap_rgb(fmviz::Colormap::viridis, 0.0).data(), 3) == 0);
  CHECK(std::memcmp(plain.image.pixel(2 + 63, 2 + 63), fmviz::colormap_rgb(fmviz::Colormap::viridis, 1.0).data(), 3) == 0);

  o.labels = true;
  o.min_cell = 160;  // scale 3: 192-pixel cells, labels drawn at scale 2
  o.channels = ChannelSelection::only({7, 12});
  const Grid labelled = fmviz::make_grid(act, o);
  const auto [x0, y0] = cell_origin(labelled, 1, 2);
  const std::uint8_t* corner = labelled.image.pixel(x0, y0);  // the label's dark box
  CHECK((corner[0] == 0 && corner[1] == 0 && corner[2] == 0));
  std::size_t white = 0;
  for (std::size_t y = y0; y < y0 + 18; ++y)
    for (std::size_t x = x0; x < x0 + 26; ++x) white += labelled.image.pixel(x, y)[0] == 255;
  CHECK(white > 20);  // the digits "12"
  CHECK(labelled.image.pixel(x0 + 100, y0 + 100)[0] != 255);

  o.legend = true;
  o.labels = false;
  o.scope = NormScope::layer;
  const Grid legend = fmviz::make_grid(act, o);
  CHECK(legend.image.height > labelled.image.height);
  CHECK(legend.image.width == labelled.image.width);
  // The bar runs from the map's low end at its left to the high end at its right.
  bool found_low = false, found_high = false;
  const auto low = fmviz::colormap_rgb(fmviz::Colormap::viridis, 0.0), high = fmviz::colormap_rgb(fmviz::Colormap::viridis, 1.0);
  for (std::size_t y = labelled.image.height; y < legend.image.height; ++y)
    for (std::size_t x = 0; x < legend.image.width; ++x) {
      found_low = found_low || std::memcmp(legend.image.pixel(x, y), low.data(), 3) == 0;
      found_high = found_high || std::memcmp(legend.image.pixel(x, y), high.data(), 3) == 0;
    }
  CHECK(found_low);
  CHECK(found_high);

  // A tiny grid with a legend widens to fit the range's numbers.
  GridOptions tiny;
  tiny.legend = true;
  tiny.scope = NormScope::layer;
  tiny.channels = ChannelSelection::first(1);
  const Grid narrow = fmviz::make_grid(ramp(1, 2, 2), tiny);
  CHECK(narrow.image.width > 2 + 2 * 2);
  CHECK(narrow.image.channels == 1);
}

TEST_CASE("grids survive a PNG round trip through stb_image", "[grid][png]") {
  for (fmviz::Colormap map : {fmviz::Colormap::grey, fmviz::Colormap::magma}) {
    GridOptions o;
    o.colormap = map;
    o.labels = true;
    o.legend = true;
    o.channels = ChannelSelection::all();
    const Grid g = fmviz::make_grid(ramp(10, 13, 17), o);
    const std::vector<unsigned char> png = fmviz::encode_png(g.image);
    int w = 0, h = 0, c = 0;
    std::unique_ptr<unsigned char, void (*)(void*)> back(
        stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &c, 0), stbi_image_free);
    REQUIRE(back);
    CHECK(static_cast<std::size_t>(w) == g.image.width);
    CHECK(static_cast<std::size_t>(h) == g.image.height);
    CHECK(static_cast<std::size_t>(c) == g.image.channels);
    CHECK(std::memcmp(back.get(), g.image.pixels.data(), g.image.pixels.size()) == 0);
  }
}

TEST_CASE("filter_grid draws 3-input filters as colour patches and deeper ones one input at a time", "[grid][filters]") {
  Tensor<float> w = Tensor<float>::zeros({4, 3, 3, 3}), bias = Tensor<float>::zeros({4});
  w[0 * 27 + 0 * 9 + 4] = 1.0f;   // filter 0: input 0 positive at the centre
  w[1 * 27 + 2 * 9 + 4] = -1.0f;  // filter 1: input 2 negative at the centre
  const fmviz::Conv2d<float> conv(w, bias, 1, 1);
  fmviz::FilterGridOptions o;
  o.columns = 4;
  const Grid g = fmviz::filter_grid(conv, o);
  CHECK(g.image.channels == 3);
  CHECK(g.cell_width == 24);
  CHECK(g.rows == 1);
  CHECK(g.image.width == 4 * 24 + 5 * 1);
  CHECK(g.image.height == 24 + 2);
  CHECK(g.range.lo == -1.0f);
  CHECK(g.range.hi == 1.0f);
  const auto centre = [&](std::size_t k) { return g.image.pixel(1 + k * 25 + 12, 1 + 12); };
  CHECK((centre(0)[0] == 255 && centre(0)[1] == 128 && centre(0)[2] == 128));  // red up; 0 is mid grey
  CHECK((centre(1)[0] == 128 && centre(1)[1] == 128 && centre(1)[2] == 0));
  o.bgr = true;  // Caffe order: input 0 is blue
  const Grid bgr = fmviz::filter_grid(conv, o);
  CHECK((bgr.image.pixel(13, 13)[0] == 128 && bgr.image.pixel(13, 13)[2] == 255));

  Tensor<float> deep = Tensor<float>::zeros({10, 16, 3, 3});
  for (std::size_t o2 = 0; o2 < 10; ++o2) deep[(o2 * 16 + 5) * 9] = static_cast<float>(o2) - 4.0f;
  const fmviz::Conv2d<float> conv2(deep, Tensor<float>::zeros({10}), 1, 1);
  fmviz::FilterGridOptions d;
  d.input_channel = 5;
  d.scale = 4;
  d.scope = NormScope::channel;
  d.colormap = fmviz::Colormap::diverging;
  const Grid dg = fmviz::filter_grid(conv2, d);
  CHECK(dg.channels.size() == 10);
  CHECK(dg.rows == 2);
  CHECK(dg.cell_width == 12);
  CHECK(dg.ranges[0].lo == -4.0f);
  CHECK(dg.ranges[4].hi == 0.0f);
  const std::uint8_t* white = dg.image.pixel(1 + 4 * 13 + 6, 1 + 6);  // filter 4 is all zero
  CHECK((white[0] == 255 && white[1] == 255 && white[2] == 255));
  const std::uint8_t* red = dg.image.pixel(1 + 7 * 13, 1);  // filter 7's only weight, positive
  CHECK(std::memcmp(red, fmviz::colormap_rgb(fmviz::Colormap::diverging, 1.0).data(), 3) == 0);
  d.input_channel = 16;
  CHECK_THROWS_WITH(fmviz::filter_grid(conv2, d), contains("input channel 16 does not exist"));
  fmviz::FilterGridOptions first_in;
  CHECK(fmviz::filter_grid(conv2, first_in).image.channels == 1);
  first_in.filters = ChannelSelection::top(3);
  CHECK_THROWS_WITH(fmviz::filter_grid(conv2, first_in), contains("top K is not a choice of filters"));
}
