// Image input: decoding every kind of file, antialiased resize against PyTorch, presets, broken inputs.
// Fixtures: tools/fixtures/make_images.py (expected values from PIL, references from torch).
#include <fmviz/image.hpp>
#include <fmviz/npy.hpp>
#include <fmviz/threads.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "test_support.hpp"

namespace {

std::string data(const std::string& name) { return std::string(FMVIZ_TEST_DATA_DIR) + "/images/" + name; }

using fmviz_test::error_of;

struct Diff {
  double max = 0, mean = 0;
};

/// An (H, W, 3) .npy as an RgbImage.
fmviz::RgbImage image_from_npy(const std::string& path) {
  const auto t = fmviz::read_npy<float>(path);
  REQUIRE(t.rank() == 3);
  REQUIRE(t.shape()[2] == 3);
  return {t.shape()[1], t.shape()[0], std::vector<float>(t.begin(), t.end())};
}

Diff diff(const fmviz::RgbImage& img, const fmviz::RgbImage& expected) {
  REQUIRE(img.width == expected.width);
  REQUIRE(img.height == expected.height);
  REQUIRE(img.pixels.size() == expected.pixels.size());
  Diff d;
  for (std::size_t i = 0; i < img.pixels.size(); ++i) {
    const double e = std::fabs(static_cast<double>(img.pixels[i]) - expected.pixels[i]);
    d.max = std::max(d.max, e);
    d.mean += e;
  }
  d.mean /= static_cast<double>(img.pixels.size());
  return d;
}

template <typename T>
double max_diff(const fmviz::Tensor<T>& a, const fmviz::Tensor<float>& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

}  // namespace

TEST_CASE("read_image decodes every lossless kind exactly as PIL does") {
  const char* files[] = {"png_rgb.png",   "png_grey.png", "png_la.png",      "png_rgba.png",     "png_palette.png",
                         "png_bilevel.png", "png_grey16.png", "png_rgb16.png", "bmp_rgb.bmp",      "bmp_palette.bmp",
                         "tga_rgb.tga",   "tga_rle_rgba.tga", "gif_anim.gif", "psd_rgb.psd",      "psd_rgba.psd",
                         "psd_rgba_rle.psd", "png_interlaced.png", "exact224.png"};
  for (const std::string file : files) {
    CAPTURE(file);
    const fmviz::RgbImage img = fmviz::read_image(data(file));
    const fmviz::RgbImage expected = image_from_npy(data(file.substr(0, file.rfind('.')) + ".expected.npy"));
    const Diff d = diff(img, expected);
    CHECK(d.max <= 1e-6);
    for (float v : img.pixels) {
      REQUIRE(v >= 0.0f);
      REQUIRE(v <= 1.0f);
    }
  }
}

#if defined(FMVIZ_HAVE_LIBJPEG)
TEST_CASE("read_image decodes JPEGs exactly as PIL does (libjpeg-turbo, PIL's settings)") {
  for (const std::string file : {"jpeg_baseline.jpg", "jpeg_progressive.jpg", "jpeg_grey.jpg", "jpeg_cmyk.jpg", "jpeg_444.jpg"}) {
    CAPTURE(file);
    const fmviz::RgbImage img = fmviz::read_image(data(file));
    const Diff d = diff(img, image_from_npy(data(file.substr(0, file.rfind('.')) + ".expected.npy")));
    CAPTURE(d.max, d.mean);
    CHECK(d.max == 0.0);
  }
}
#else
TEST_CASE("read_image decodes JPEGs close to PIL (stb_image: fmviz built without libjpeg)") {
  WARN("fmviz is built without libjpeg: JPEGs go through stb_image, whose pixels differ from PIL's");
  for (const std::string file : {"jpeg_baseline.jpg", "jpeg_progressive.jpg", "jpeg_grey.jpg"}) {
    CAPTURE(file);
    const fmviz::RgbImage img = fmviz::read_image(data(file));
    const Diff d = diff(img, image_from_npy(data(file.substr(0, file.rfind('.')) + ".expected.npy")));
    CAPTURE(d.max, d.mean);
    CHECK(d.max <= 0.03);  // measured: 2/255 (stb_image and libjpeg round their IDCTs differently)
    CHECK(d.mean <= 0.005);
  }
}
#endif

TEST_CASE("read_image: baseline and progressive JPEGs of one picture agree") {
  const Diff d = diff(fmviz::read_image(data("jpeg_baseline.jpg")), fmviz::read_image(data("jpeg_progressive.jpg")));
  CHECK(d.mean <= 0.01);
}

TEST_CASE("read_image refuses Radiance HDR and PNM, whose stb_image readers are unsafe, by their content") {
  for (const std::string file : {"hdr_rgb.hdr", "hostile_zero_run.hdr", "hostile_overflow.ppm"}) {
    CAPTURE(file);
    const auto e = error_of([&] { fmviz::read_image(data(file)); });
    REQUIRE(e);
    CHECK_THAT(e->what(), Catch::Contains("unsupported format"));
    CHECK_THAT(e->what(), Catch::Contains("JPEG, PNG, BMP, GIF, PSD and TGA"));
  }
}

TEST_CASE("hostile image files give one-line errors naming the format, or a correct picture") {
  const std::pair<const char*, const char*> refused[] = {
      {"hostile_dht_oversubscribed.jpg", "JPEG"}, {"hostile_dht_overflow.jpg", "JPEG"}, {"hostile_huge_frame.jpg", "pixels"},        {"hostile_zero_width.jpg", "JPEG"},    {"hostile_many_scans.jpg", "scans"},
      {"hostile_bad_crc.png", "PNG"},              {"hostile_short_idat.png", "PNG"},     {"hostile_psd_rle_short.psd", "PSD"},
      {"hostile_gif_short.gif", "GIF"},            {"hostile_bmp_huge.bmp", "pixels"},       {"broken_truncated.jpg", "truncated"},
      {"broken_truncated.png", "PNG"},             {"broken_random.png", "unknown format"}};
  for (const auto& [file, says] : refused) {
    CAPTURE(file);
    const std::string path = data(file);
    const auto e = error_of([&] { fmviz::read_image(path); });
    REQUIRE(e);
    CAPTURE(e->what());
    CHECK(e->path() == path);
    CHECK_THAT(e->what(), Catch::Contains(says));
    CHECK(std::string(e->what()).find('\n') == std::string::npos);
  }
#if !defined(FMVIZ_HAVE_LIBJPEG) || !defined(FMVIZ_HAVE_LIBPNG)
  WARN("fmviz is built without libjpeg or libpng: their hostile files went through stb_image");
#endif
  // No Huffman tables: libjpeg uses the standard ones (as for Motion-JPEG frames), and so does PIL.
  const fmviz::RgbImage no_tables = fmviz::read_image(data("hostile_dht_missing.jpg"));
  CHECK(no_tables.width == 48);
  CHECK(no_tables.height == 36);
  // RGB + a faint alpha over black: the colour channels, black, as PIL's convert("RGB") gives them.
  const fmviz::RgbImage matte = fmviz::read_image(data("hostile_psd_matte.psd"));
  CHECK(matte.width == 6);
  CHECK(matte.height == 4);
  for (float v : matte.pixels) REQUIRE(v == 0.0f);
}

TEST_CASE("read_image: grey becomes RGB, alpha is dropped, the colour under alpha 0 is kept") {
  const fmviz::RgbImage grey = fmviz::read_image(data("png_grey.png"));
  for (std::size_t i = 0; i < grey.width * grey.height; ++i) {
    REQUIRE(grey.pixels[3 * i] == grey.pixels[3 * i + 1]);
    REQUIRE(grey.pixels[3 * i] == grey.pixels[3 * i + 2]);
  }
  const fmviz::RgbImage rgba = fmviz::read_image(data("png_rgba.png"));
  const fmviz::RgbImage rgb = fmviz::read_image(data("png_rgb.png"));  // the same picture without alpha
  CHECK(diff(rgba, rgb).max == 0.0);
  // The left third has alpha 0: its colour is still there (not black, not premultiplied).
  double sum = 0;
  for (std::size_t y = 0; y < rgba.height; ++y)
    for (std::size_t x = 0; x < rgba.width / 3; ++x) sum += rgba.pixels[3 * (y * rgba.width + x)];
  CHECK(sum > 0.1 * static_cast<double>(rgba.height * (rgba.width / 3)));
  CHECK(diff(fmviz::read_image(data("tga_rle_rgba.tga")), rgb).max == 0.0);
}

TEST_CASE("read_image takes the first frame of an animated GIF") {
  const fmviz::RgbImage img = fmviz::read_image(data("gif_anim.gif"));
  CHECK(diff(img, image_from_npy(data("gif_anim.expected.npy"))).max <= 1e-6);
  CHECK(diff(img, image_from_npy(data("gif_anim.frame1.npy"))).mean > 0.2);
}

TEST_CASE("read_image keeps 16-bit precision") {
  for (const std::string file : {"png_rgb16.png", "png_grey16.png"}) {
    CAPTURE(file);
    const fmviz::RgbImage img = fmviz::read_image(data(file));
    std::size_t off_8bit_grid = 0;
    for (float v : img.pixels) {
      const double levels = static_cast<double>(v) * 255.0;
      if (std::fabs(levels - std::round(levels)) > 0.01) ++off_8bit_grid;
    }
    CHECK(off_8bit_grid > img.pixels.size() / 2);
    CHECK(diff(img, image_from_npy(data(file.substr(0, file.rfind('.')) + ".expected.npy"))).max <= 1e-6);
  }
}

TEST_CASE("resize_bilinear matches torch interpolate(bilinear, antialias=True)") {
  for (const std::string name : {"down", "down_nonsquare", "up", "up_nonsquare", "mixed", "width_only", "odd_factor"}) {
    CAPTURE(name);
    const fmviz::RgbImage in = image_from_npy(data("resize_" + name + ".in.npy"));
    const fmviz::RgbImage expected = image_from_npy(data("resize_" + name + ".out.npy"));
    const fmviz::RgbImage out = fmviz::resize_bilinear(in, expected.width, expected.height);
    const Diff d = diff(out, expected);
    CAPTURE(d.max);
    CHECK(d.max <= 2e-6);  // measured 1.8e-7: float rounding only, the filter geometry is PyTorch's
  }
}

TEST_CASE("resize_bilinear gives the same pixels with any thread count") {
  fmviz::RgbImage in{613, 457, std::vector<float>(613 * 457 * 3)};
  for (std::size_t i = 0; i < in.pixels.size(); ++i) in.pixels[i] = static_cast<float>((i * 7919) % 1000) / 999.0f;
  const int saved = fmviz::thread_count();
  for (const auto& [w, h] : std::vector<std::pair<std::size_t, std::size_t>>{{224, 224}, {224, 457}, {613, 100}, {900, 700}}) {
    CAPTURE(w, h);
    fmviz::set_thread_count(1);
    const fmviz::RgbImage one = fmviz::resize_bilinear(in, w, h);
    fmviz::set_thread_count(2);
    const fmviz::RgbImage two = fmviz::resize_bilinear(in, w, h);
    fmviz::set_thread_count(saved);
    CHECK(one.width == w);
    CHECK(one.height == h);
    CHECK(one.pixels == two.pixels);
  }
}

TEST_CASE("an image already at the target size passes through untouched") {
  const fmviz::RgbImage img = fmviz::read_image(data("exact224.png"));
  REQUIRE(img.width == 224);
  REQUIRE(img.height == 224);
  CHECK(fmviz::resize_bilinear(img, 224, 224).pixels == img.pixels);
  const auto a = fmviz::preprocess<float>(img);
  const auto b = fmviz::to_tensor<float>(img, fmviz::Preset::torchvision);
  REQUIRE(a.shape() == b.shape());
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  // Only one axis to change: the other is not resampled.
  const fmviz::RgbImage narrower = fmviz::resize_bilinear(img, 100, 224);
  CHECK(narrower.width == 100);
  CHECK(narrower.height == 224);
}

TEST_CASE("to_tensor presets") {
  const fmviz::RgbImage px{1, 1, {0.2f, 0.4f, 0.6f}};
  const auto tv = fmviz::to_tensor<double>(px, fmviz::Preset::torchvision);
  REQUIRE(tv.shape() == fmviz::Shape{1, 3, 1, 1});
  CHECK(tv[0] == Approx((0.2 - 0.485) / 0.229).epsilon(1e-6));
  CHECK(tv[1] == Approx((0.4 - 0.456) / 0.224).epsilon(1e-6));
  CHECK(tv[2] == Approx((0.6 - 0.406) / 0.225).epsilon(1e-6));
  const auto caffe = fmviz::to_tensor<double>(px, fmviz::Preset::caffe);  // BGR, 0-255 minus the mean
  CHECK(caffe[0] == Approx(0.6 * 255 - 103.939).epsilon(1e-6));
  CHECK(caffe[1] == Approx(0.4 * 255 - 116.779).epsilon(1e-6));
  CHECK(caffe[2] == Approx(0.2 * 255 - 123.68).epsilon(1e-6));

  // A 2 x 3 image: the planes are H x W in row order.
  fmviz::RgbImage small{3, 2, std::vector<float>(18)};
  for (std::size_t i = 0; i < 18; ++i) small.pixels[i] = static_cast<float>(i) / 17.0f;
  const auto t = fmviz::to_tensor<float>(small, fmviz::Preset::caffe);
  REQUIRE(t.shape() == fmviz::Shape{1, 3, 2, 3});
  CHECK(t(0, 0, 1, 2) == Approx(small.pixels[3 * 5 + 2] * 255.0f - 103.939f));  // B of pixel (y 1, x 2)
  CHECK(t(0, 2, 1, 0) == Approx(small.pixels[3 * 3 + 0] * 255.0f - 123.68f));   // R of pixel (y 1, x 0)
}

TEST_CASE("presets are named, described and read back") {
  for (const fmviz::Preset p : {fmviz::Preset::torchvision, fmviz::Preset::caffe}) {
    CHECK(fmviz::parse_preset(fmviz::to_string(p)) == p);
    CHECK(std::string(fmviz::describe(p)).size() > std::string(fmviz::to_string(p)).size());
  }
  CHECK(std::string(fmviz::to_string(fmviz::Preset::torchvision)) == "torchvision");
  CHECK(std::string(fmviz::to_string(fmviz::Preset::caffe)) == "caffe");
  try {
    fmviz::parse_preset("Caffe");
    FAIL("parse_preset accepted Caffe");
  } catch (const fmviz::Error& e) {
    CHECK(e.field() == "preset");
    CHECK(std::string(e.what()) == "preset: expects torchvision or caffe, got 'Caffe'");
  }
}

TEST_CASE("load_image matches torch's preprocessing for both presets") {
  const auto tv_ref = fmviz::read_npy<float>(data("pre_torchvision.npy"));
  const auto caffe_ref = fmviz::read_npy<float>(data("pre_caffe.npy"));
  REQUIRE(tv_ref.shape() == fmviz::Shape{1, 3, 224, 224});
  const double tv_f = max_diff(fmviz::load_image<float>(data("pre_src.png")), tv_ref);
  const double tv_d = max_diff(fmviz::load_image<double>(data("pre_src.png")), tv_ref);
  fmviz::ImageOptions caffe;
  caffe.preset = fmviz::Preset::caffe;
  const double caffe_f = max_diff(fmviz::load_image<float>(data("pre_src.png"), caffe), caffe_ref);
  CAPTURE(tv_f, tv_d, caffe_f);
  CHECK(tv_f <= 1e-5);  // 2e-6 on [0, 1] divided by std ~0.225
  CHECK(tv_d <= 1e-5);
  CHECK(caffe_f <= 1e-3);  // 2e-6 on [0, 1] times 255, and float rounding of values up to 150

  fmviz::ImageOptions keep;
  keep.size = 0;
  CHECK(fmviz::load_image<float>(data("png_rgb.png"), keep).shape() == fmviz::Shape{1, 3, 36, 48});
  keep.size = 32;
  CHECK(fmviz::load_image<float>(data("png_rgb.png"), keep).shape() == fmviz::Shape{1, 3, 32, 32});
}

TEST_CASE("broken image files throw fmviz::Error naming the file") {
  for (const std::string file : {"broken_truncated.png", "broken_truncated.jpg", "broken_random.png", "broken_empty.png",
                                 "broken_text.jpg", "broken_huge.png", "broken_large.png", "no_such_file.png", ""}) {
    CAPTURE(file);
    const std::string path = data(file);  // "" is the directory itself
    const auto e = error_of([&] { fmviz::read_image(path); });
    REQUIRE(e);
    CAPTURE(e->what());
    CHECK(e->path() == path);
    CHECK(std::string(e->what()).find(path) == 0);
    CHECK(std::string(e->what()).find('\n') == std::string::npos);
  }
  const auto decode = error_of([&] { fmviz::read_image(data("broken_truncated.png")); });
  REQUIRE(decode);
  CHECK_THAT(decode->what(), Catch::Contains("cannot decode"));
  const auto missing = error_of([&] { fmviz::read_image(data("no_such_file.png")); });
  REQUIRE(missing);
  CHECK_THAT(missing->what(), Catch::Contains("cannot open"));
  CHECK_THROWS_AS(fmviz::load_image<float>(data("broken_text.jpg")), fmviz::Error);
}

TEST_CASE("inputs the fuzz campaigns found decode or give a one-line fmviz::Error") {
  // tests/fuzz/regressions/image_*: each input that once crashed a decoder or tripped a sanitizer.
  const std::filesystem::path dir = std::filesystem::path(FMVIZ_SOURCE_DIR) / "tests" / "fuzz" / "regressions";
  std::size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("image_", 0) != 0) continue;
    CAPTURE(name);
    ++seen;
    try {
      const fmviz::RgbImage img = fmviz::read_image(entry.path().string());
      CHECK(img.pixels.size() == img.width * img.height * 3);
    } catch (const fmviz::Error& e) {
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
  CHECK(seen >= 1);
}

TEST_CASE("images larger than max_pixels are refused before decoding") {
  // The huge PNG has a valid header and no image data: decoding it would fail differently.
  const auto huge = error_of([&] { fmviz::read_image(data("broken_huge.png")); });
  REQUIRE(huge);
  CHECK(huge->field() == "size");
  CHECK_THAT(huge->what(), Catch::Contains("100000 x 100000 = 10000000000 pixels, more than the limit of 100000000"));
  const auto large = error_of([&] { fmviz::read_image(data("broken_large.png")); });
  REQUIRE(large);
  CHECK(large->field() == "size");
  CHECK_THAT(large->what(), Catch::Contains("12000 x 12000 = 144000000 pixels, more than the limit of 100000000"));
  // With a higher limit, it gets as far as decoding, which fails (there is no image data).
  const auto decoded = error_of([&] { fmviz::read_image(data("broken_large.png"), 200'000'000); });
  REQUIRE(decoded);
  CHECK(decoded->field() == "image");

  const auto small_limit = error_of([&] { fmviz::read_image(data("png_rgb.png"), 1000); });
  REQUIRE(small_limit);
  CHECK(small_limit->field() == "size");
  CHECK_THAT(small_limit->what(), Catch::Contains("48 x 36 = 1728 pixels"));
  CHECK(fmviz::read_image(data("png_rgb.png"), 1728).width == 48);

  fmviz::ImageOptions options;
  options.max_pixels = 1000;
  CHECK_THROWS_AS(fmviz::load_image<float>(data("png_rgb.png"), options), fmviz::Error);
}

TEST_CASE("resize and to_tensor refuse inconsistent images") {
  const fmviz::RgbImage bad{4, 4, std::vector<float>(47)};
  CHECK_THROWS_AS(fmviz::resize_bilinear(bad, 2, 2), fmviz::Error);
  CHECK_THROWS_AS(fmviz::to_tensor<float>(bad, fmviz::Preset::torchvision), fmviz::Error);
  const fmviz::RgbImage empty{};
  CHECK_THROWS_AS(fmviz::resize_bilinear(empty, 2, 2), fmviz::Error);
  const fmviz::RgbImage ok{2, 2, std::vector<float>(12, 0.5f)};
  CHECK_THROWS_AS(fmviz::resize_bilinear(ok, 0, 2), fmviz::Error);
  const fmviz::RgbImage up = fmviz::resize_bilinear(ok, 5, 3);
  for (float v : up.pixels) CHECK(v == Approx(0.5f));
}
