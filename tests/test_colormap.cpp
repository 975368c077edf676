// Colour maps: names, grey identity, matplotlib's table values, the diverging map's neutral centre.
#include <fmviz/colormap.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "test_support.hpp"

using fmviz::Colormap;
using fmviz::colormap_rgb;
using fmviz_test::contains;

namespace {

std::string hex(const std::array<std::uint8_t, 3>& c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

}  // namespace

TEST_CASE("colour map names parse and print", "[colormap]") {
  for (const char* name : {"grey", "viridis", "magma", "inferno", "plasma", "turbo", "diverging"})
    CHECK(fmviz::to_string(fmviz::parse_colormap(name)) == std::string(name));
  CHECK(fmviz::parse_colormap("gray") == Colormap::grey);
  CHECK(fmviz::parse_colormap("Viridis") == Colormap::viridis);
  CHECK_THROWS_AS(fmviz::parse_colormap("jet"), fmviz::Error);
  CHECK_THROWS_WITH(fmviz::parse_colormap("jet"),
                    contains("colormap: unknown colour map \"jet\" (accepted: grey, viridis, magma, inferno, plasma, turbo, diverging)"));
}

TEST_CASE("grey is the identity on 8-bit levels", "[colormap]") {
  for (int k = 0; k <= 255; ++k) {
    const auto c = colormap_rgb(Colormap::grey, k / 255.0);
    CHECK(c[0] == k);
    CHECK(c[1] == k);
    CHECK(c[2] == k);
  }
  CHECK(colormap_rgb(Colormap::grey, 0.5)[0] == 128);  // round(127.5)
}

TEST_CASE("perceptual maps equal matplotlib's values", "[colormap]") {
  // matplotlib.colors.to_hex(matplotlib.colormaps[name](t)) for t = 0, 0.5, 1.
  CHECK(hex(colormap_rgb(Colormap::viridis, 0.0)) == "#440154");
  CHECK(hex(colormap_rgb(Colormap::viridis, 0.5)) == "#21918c");
  CHECK(hex(colormap_rgb(Colormap::viridis, 1.0)) == "#fde725");
  CHECK(hex(colormap_rgb(Colormap::magma, 0.0)) == "#000004");
  CHECK(hex(colormap_rgb(Colormap::magma, 1.0)) == "#fcfdbf");
  CHECK(hex(colormap_rgb(Colormap::inferno, 1.0)) == "#fcffa4");
  CHECK(hex(colormap_rgb(Colormap::plasma, 0.0)) == "#0d0887");
  CHECK(hex(colormap_rgb(Colormap::plasma, 1.0)) == "#f0f921");
  CHECK(hex(colormap_rgb(Colormap::turbo, 0.0)) == "#30123b");
  CHECK(hex(colormap_rgb(Colormap::turbo, 1.0)) == "#7a0403");
}

TEST_CASE("256-entry maps are sampled as matplotlib samples a ListedColormap", "[colormap]") {
  // Entry floor(t * 256): t just below 1/256 is entry 0, 1/256 is entry 1; 1 is the last entry.
  CHECK(colormap_rgb(Colormap::viridis, 1.0 / 256 - 1e-9) == colormap_rgb(Colormap::viridis, 0.0));
  CHECK(colormap_rgb(Colormap::viridis, 1.0 / 256) != colormap_rgb(Colormap::viridis, 0.0));
  CHECK(colormap_rgb(Colormap::viridis, 255.0 / 256) == colormap_rgb(Colormap::viridis, 1.0));
  CHECK(colormap_rgb(Colormap::viridis, 127.0 / 256) != colormap_rgb(Colormap::viridis, 0.5));
}

TEST_CASE("values outside [0, 1] and NaN are clamped", "[colormap]") {
  for (Colormap m : {Colormap::grey, Colormap::viridis, Colormap::turbo, Colormap::diverging}) {
    CHECK(colormap_rgb(m, -3.0) == colormap_rgb(m, 0.0));
    CHECK(colormap_rgb(m, 7.0) == colormap_rgb(m, 1.0));
    CHECK(colormap_rgb(m, std::numeric_limits<double>::quiet_NaN()) == colormap_rgb(m, 0.0));
  }
}

TEST_CASE("the diverging map is white at zero, blue below, red above, and symmetric in lightness", "[colormap]") {
  CHECK(hex(colormap_rgb(Colormap::diverging, 0.5)) == "#ffffff");
  const auto lo = colormap_rgb(Colormap::diverging, 0.0), hi = colormap_rgb(Colormap::diverging, 1.0);
  CHECK(hex(lo) == "#053061");  // ColorBrewer RdBu's ends
  CHECK(hex(hi) == "#67001f");
  CHECK(lo[2] > lo[0]);
  CHECK(hi[0] > hi[2]);
  // Continuous: nearby values give nearby colours, and both halves lighten towards the centre.
  int prev_light = -1;
  for (int k = 0; k <= 50; ++k) {
    const auto c = colormap_rgb(Colormap::diverging, k / 100.0);
    const int light = c[0] + c[1] + c[2];
    CHECK(light >= prev_light);
    prev_light = light;
  }
  for (int k = 50; k <= 100; ++k) {
    const auto c = colormap_rgb(Colormap::diverging, k / 100.0);
    const int light = c[0] + c[1] + c[2];
    CHECK(light <= prev_light);
    prev_light = light;
  }
}
