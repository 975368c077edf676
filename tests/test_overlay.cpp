// overlay: size, blending, channel choice and the bilinear upsampling.
#include <fmviz/overlay.hpp>
#include <fmviz/png.hpp>
#include <fmviz/detail/stb.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "test_support.hpp"

using fmviz::Image8;
using fmviz::OverlayOptions;
using fmviz::Tensor;
using fmviz_test::contains;

namespace {

Image8 photo(std::size_t w, std::size_t h, std::size_t channels) {
  Image8 img(w, h, channels);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>((i * 37) % 256);
  return img;
}

Tensor<float> act(std::size_t c, std::size_t h, std::size_t w) {
  Tensor<float> t({1, c, h, w});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i % 11) - 3.0f;
  return t;
}

}  // namespace

TEST_CASE("an overlay has the input's size, whatever the map's", "[overlay]") {
  for (std::size_t channels : {1, 3, 4}) {
    const Image8 out = fmviz::overlay(photo(37, 23, channels), act(4, 5, 7));
    CHECK(out.width == 37);
    CHECK(out.height == 23);
    CHECK(out.channels == 3);
    CHECK(out.pixels.size() == 37 * 23 * 3);
  }
  fmviz::RgbImage rgb{600, 512, std::vector<float>(600 * 512 * 3, 0.25f)};
  const Image8 big = fmviz::overlay(rgb, act(8, 14, 14));
  CHECK(big.width == 600);
  CHECK(big.height == 512);
  const Image8 same = fmviz::overlay(photo(7, 5, 3), act(2, 5, 7));  // no resize needed
  CHECK(same.width == 7);
}

TEST_CASE("alpha 0 shows the photo, alpha 1 the colour-mapped activation", "[overlay]") {
  const Image8 p = photo(16, 12, 3);
  OverlayOptions o;
  o.alpha = 0.0;
  CHECK(fmviz::overlay(p, act(3, 4, 4), o).pixels == p.pixels);

  Tensor<float> a = Tensor<float>::zeros({1, 2, 2, 2});
  a[0] = 1.0f;  // channel 0: 1 0 / 0 0;  channel 1: 0 0 / 0 4
  a[7] = 4.0f;
  o.alpha = 1.0;
  o.colormap = fmviz::Colormap::viridis;
  o.channel = 1;
  const Image8 one = fmviz::overlay(photo(2, 2, 3), a, o);  // same size: no interpolation
  CHECK(std::memcmp(one.pixel(1, 1), fmviz::colormap_rgb(fmviz::Colormap::viridis, 1.0).data(), 3) == 0);
  CHECK(std::memcmp(one.pixel(0, 0), fmviz::colormap_rgb(fmviz::Colormap::viridis, 0.0).data(), 3) == 0);
  o.channel.reset();  // mean: 0.5 0 / 0 2
  const Image8 mean = fmviz::overlay(photo(2, 2, 3), a, o);
  CHECK(std::memcmp(mean.pixel(0, 0), fmviz::colormap_rgb(fmviz::Colormap::viridis, 0.25).data(), 3) == 0);
  CHECK(std::memcmp(mean.pixel(1, 1), fmviz::colormap_rgb(fmviz::Colormap::viridis, 1.0).data(), 3) == 0);

  o.alpha = 0.5;  // an even blend, rounded
  o.colormap = fmviz::Colormap::grey;
  o.channel = 1;
  Image8 black(2, 2, 3, 0);
  const Image8 half = fmviz::overlay(black, a, o);
  CHECK(half.pixel(1, 1)[0] == 128);  // 0.5 * 0 + 0.5 * 255 = 127.5
  CHECK(half.pixel(0, 0)[0] == 0);
}

TEST_CASE("overlay options are checked", "[overlay]") {
  OverlayOptions o;
  o.channel = 9;
  CHECK_THROWS_WITH(fmviz::overlay(photo(4, 4, 3), act(4, 2, 2), o), contains("channel 9 does not exist: this layer has channels 0-3"));
  o.channel.reset();
  o.alpha = 1.5;
  CHECK_THROWS_WITH(fmviz::overlay(photo(4, 4, 3), act(4, 2, 2), o), contains("alpha: must be between 0 and 1"));
  CHECK_THROWS_WITH(fmviz::overlay(Image8{}, act(4, 2, 2)), contains("photo: not a valid image"));
  CHECK_THROWS_WITH(fmviz::overlay(photo(4, 4, 3), Tensor<float>::zeros({3, 1, 2, 2})), contains("(1,C,H,W)"));
}

TEST_CASE("a constant map blends in one colour, never NaN", "[overlay]") {
  Tensor<float> flat({1, 2, 3, 3});
  flat.fill(7.0f);
  OverlayOptions o;
  o.alpha = 1.0;
  const Image8 out = fmviz::overlay(photo(10, 10, 3), flat, o);
  const auto low = fmviz::colormap_rgb(fmviz::Colormap::turbo, 0.0);
  for (std::size_t i = 0; i < 100; ++i) CHECK(std::memcmp(&out.pixels[3 * i], low.data(), 3) == 0);
}

TEST_CASE("bilinear upsampling matches PyTorch's interpolate(align_corners=False)", "[overlay]") {
  // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.]]]]), size=(1, 4), mode="bilinear") -> 0 .25 .75 1
  const std::vector<float> up = fmviz::upsample_bilinear({0.0f, 1.0f}, 2, 1, 4, 1);
  REQUIRE(up.size() == 4);
  CHECK(up[0] == Approx(0.0));
  CHECK(up[1] == Approx(0.25));
  CHECK(up[2] == Approx(0.75));
  CHECK(up[3] == Approx(1.0));
  // 2x2 -> 3x3: (i + 0.5) * 2/3 - 0.5 = 0, 0.5, 1 per axis.
  const std::vector<float> sq = fmviz::upsample_bilinear({0.0f, 2.0f, 4.0f, 6.0f}, 2, 2, 3, 3);
  CHECK(sq[0] == Approx(0.0));
  CHECK(sq[1] == Approx(1.0));
  CHECK(sq[4] == Approx(3.0));
  CHECK(sq[8] == Approx(6.0));
  CHECK_THROWS_WITH(fmviz::upsample_bilinear({1.0f}, 2, 1, 4, 1), contains("cannot resize"));
}

TEST_CASE("an overlay survives a PNG round trip through stb_image", "[overlay][png]") {
  const Image8 out = fmviz::overlay(photo(31, 17, 3), act(5, 6, 6));
  const std::vector<unsigned char> png = fmviz::encode_png(out);
  int w = 0, h = 0, c = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> back(
      stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &c, 0), stbi_image_free);
  REQUIRE(back);
  CHECK(w == 31);
  CHECK(h == 17);
  CHECK(c == 3);
  CHECK(std::memcmp(back.get(), out.pixels.data(), out.pixels.size()) == 0);
}
