// The mosaic: pictures side by side, enlarged, labelled; bad requests refused.
#include <fmviz/fmviz.hpp>

#include "test_support.hpp"

#include <string>
#include <vector>

using fmviz_test::error_of;

namespace {

fmviz::Image8 solid(std::size_t w, std::size_t h, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  fmviz::Image8 img(w, h, 3);
  for (std::size_t i = 0; i < w * h; ++i) {
    img.pixels[3 * i] = r;
    img.pixels[3 * i + 1] = g;
    img.pixels[3 * i + 2] = b;
  }
  return img;
}

}  // namespace

TEST_CASE("mosaic: pictures in rows, white gaps, nearest enlargement", "[mosaic]") {
  std::vector<fmviz::Image8> pictures;
  for (std::uint8_t k = 0; k < 5; ++k) pictures.push_back(solid(3, 2, 10 * k, 100, 200));
  pictures[4].pixel(2, 1)[0] = 77;  // one odd pixel, to see where it lands
  fmviz::MosaicOptions o;
  o.columns = 3;
  o.zoom = 2;
  o.gap = 1;
  const fmviz::Image8 m = fmviz::mosaic(pictures, o);
  CHECK(m.width == 3 * (6 + 1) + 1);
  CHECK(m.height == 2 * (4 + 1) + 1);
  CHECK(m.pixel(0, 0)[0] == 255);  // the gap
  CHECK(m.pixel(1, 1)[0] == 0);    // picture 0
  CHECK(m.pixel(1 + 7, 1)[0] == 10);  // picture 1
  CHECK(m.pixel(1 + 7, 1 + 5)[0] == 40);  // picture 4, second row
  // Picture 4's pixel (2, 1) drawn as 2x2 at (8 + 4, 6 + 2).
  CHECK(m.pixel(8 + 4, 6 + 2)[0] == 77);
  CHECK(m.pixel(8 + 5, 6 + 3)[0] == 77);
  CHECK(m.pixel(8 + 3, 6 + 3)[0] == 40);
  CHECK(m.pixel(1 + 14, 1 + 5)[0] == 255);  // no sixth picture: white
}

TEST_CASE("mosaic: labels, grey pictures, bad requests", "[mosaic]") {
  fmviz::Image8 grey(16, 16, 1, 128);
  const fmviz::Image8 m = fmviz::mosaic({grey, grey}, {}, {"7", ""});
  CHECK(m.channels == 3);
  std::size_t white_in_first = 0, white_in_second = 0;
  for (std::size_t y = 4; y < 20; ++y)
    for (std::size_t x = 0; x < 16; ++x) {
      white_in_first += m.pixel(4 + x, y)[0] == 255;
      white_in_second += m.pixel(24 + x, y)[0] == 255;
    }
  CHECK(white_in_first > 0);  // the label's text
  CHECK(white_in_second == 0);
  CHECK(error_of([] { fmviz::mosaic({}); }));
  CHECK(error_of([&] { fmviz::mosaic({grey, fmviz::Image8(8, 16, 3)}); }));
  fmviz::MosaicOptions zero;
  zero.columns = 0;
  CHECK(error_of([&] { fmviz::mosaic({grey}, zero); }));
  fmviz::MosaicOptions huge;
  huge.zoom = 64;
  CHECK(error_of([&] { fmviz::mosaic(std::vector<fmviz::Image8>(16, fmviz::Image8(256, 256, 3)), huge); }));  // refused before drawing
}
