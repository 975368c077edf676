// The atlas's pages: receptive fields (VGG16's known values, and a brute-force check that perturbs input pixels),
// and write_atlas_site on a small network and small images: the files, the crops' pixels, the pages, escaping,
// bad atlases refused, and nothing left behind by a failure. The real-browser check is tests/browser/.
#include <fmviz/atlas/model.hpp>
#include <fmviz/atlas/receptive_field.hpp>
#include <fmviz/atlas/site.hpp>
#include <fmviz/decode.hpp>
#include <fmviz/png.hpp>
#include <fmviz/recorder.hpp>
#include <fmviz/vgg_config.hpp>
#include <fmviz/vgg_loader.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "catch.hpp"
#include "test_support.hpp"

using fmviz::Shape;
using fmviz::Tensor;
using fmviz_test::contains;
using fmviz_test::error_of;
using fmviz_test::read_text;
using fmviz_test::TempDir;
namespace fs = std::filesystem;

namespace {

Tensor<float> random_tensor(Shape shape, std::uint32_t seed, float lo, float hi) {
  Tensor<float> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : t) v = dist(rng);
  return t;
}

fmviz::Conv2d<float> conv(std::size_t out, std::size_t in, std::uint32_t seed, std::size_t k = 3, std::size_t pad = 1) {
  return fmviz::Conv2d<float>(random_tensor({out, in, k, k}, seed, -0.5f, 0.5f), random_tensor({out}, seed + 100, -0.1f, 0.1f), 1, 1,
                              pad, pad, fmviz::ConvAlgorithm::gemm);
}

// A VGG-like network: conv1_1 (4 channels, full size), pool, conv2_1 (5 channels, half size), conv2_2.
fmviz::Network<float> small_network() {
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("conv1_1", conv(4, 3, 1));
  layers.emplace_back("relu1_1", fmviz::ReLU{});
  layers.emplace_back("pool1", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("conv2_1", conv(5, 4, 2));
  layers.emplace_back("relu2_1", fmviz::ReLU{});
  layers.emplace_back("conv2_2", conv(3, 5, 3));
  layers.emplace_back("relu2_2", fmviz::ReLU{});
  return fmviz::Network<float>(std::move(layers));
}

// VGG16's layer sequence (vgg_plan) with one channel per conv: the geometry without the weights.
fmviz::Network<float> vgg16_geometry() {
  std::vector<fmviz::Layer<float>> layers;
  std::size_t in = 3;
  for (const fmviz::VggLayerPlan& p : fmviz::vgg_plan(fmviz::VggVariant::vgg16)) {
    if (p.in_classifier) break;
    if (p.kind == fmviz::LayerKind::conv2d) {
      layers.emplace_back(p.name, fmviz::Conv2d<float>(Tensor<float>({1, in, 3, 3}), Tensor<float>({1}), 1, 1, 1, 1, fmviz::ConvAlgorithm::gemm));
      in = 1;
    } else if (p.kind == fmviz::LayerKind::relu) {
      layers.emplace_back(p.name, fmviz::ReLU{});
    } else if (p.kind == fmviz::LayerKind::maxpool2d) {
      layers.emplace_back(p.name, fmviz::MaxPool2d(2, 2));
    }
  }
  layers.emplace_back("avgpool", fmviz::AdaptiveAvgPool2d(7, 7));
  return fmviz::Network<float>(std::move(layers));
}

struct Expected {
  const char* layer;
  std::size_t size, jump;
  std::int64_t offset;
};

// By hand: size += (k - 1) * jump, offset -= padding * jump, jump *= stride. conv5_3 sees 196 pixels every 16 and
// pool5 212 every 32 with an effective padding of 90, as the literature has it (Araujo et al., Distill 2019).
const Expected vgg16_fields[] = {
    {"conv1_1", 3, 1, -1},    {"conv1_2", 5, 1, -2},    {"pool1", 6, 2, -2},      {"conv2_1", 10, 2, -4},   {"conv2_2", 14, 2, -6},
    {"pool2", 16, 4, -6},     {"conv3_1", 24, 4, -10},  {"conv3_2", 32, 4, -14},  {"conv3_3", 40, 4, -18},  {"pool3", 44, 8, -18},
    {"conv4_1", 60, 8, -26},  {"conv4_2", 76, 8, -34},  {"conv4_3", 92, 8, -42},  {"pool4", 100, 16, -42}, {"conv5_1", 132, 16, -58},
    {"conv5_2", 164, 16, -74}, {"conv5_3", 196, 16, -90}, {"pool5", 212, 32, -90},
};

void check_vgg16_fields(const fmviz::Network<float>& net) {
  for (const Expected& e : vgg16_fields) {
    if (!net.has_layer(e.layer)) continue;
    INFO(e.layer);
    const fmviz::ReceptiveField rf = fmviz::receptive_field(net, e.layer);
    CHECK(rf.square());
    CHECK(rf.y.size == e.size);
    CHECK(rf.y.jump == e.jump);
    CHECK(rf.y.offset == e.offset);
  }
}

// An 8-bit picture of smooth gradients and a few solid blocks, different for each seed.
fmviz::Image8 photo(std::size_t w, std::size_t h, std::uint32_t seed) {
  std::mt19937 rng(seed);
  fmviz::Image8 img(w, h, 3);
  const int a = static_cast<int>(rng() % 200), b = static_cast<int>(rng() % 200);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) {
      std::uint8_t* p = img.pixel(x, y);
      p[0] = static_cast<std::uint8_t>((a + 7 * x) % 256);
      p[1] = static_cast<std::uint8_t>((b + 5 * y) % 256);
      p[2] = static_cast<std::uint8_t>((x * y + rng() % 16) % 256);
    }
  for (int k = 0; k < 3; ++k) {
    const std::size_t x0 = rng() % (w - 6), y0 = rng() % (h - 6);
    const std::uint8_t c[3] = {static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())};
    for (std::size_t y = y0; y < y0 + 6; ++y)
      for (std::size_t x = x0; x < x0 + 6; ++x) std::copy(c, c + 3, img.pixel(x, y));
  }
  return img;
}

// The atlas the core would make: every image run through the network, each channel's top images by its maximum and
// by its mean (after ReLU), with where the maximum is.
fmviz::Atlas atlas_by_hand(const fmviz::Network<float>& net, const std::vector<std::string>& images, const std::vector<std::string>& layers,
                        std::size_t top_k, std::size_t size) {
  fmviz::Atlas atlas;
  atlas.settings.top_k = top_k;
  atlas.settings.size = size;
  atlas.settings.weights_label = "small & <random>.bin";
  fmviz::set_atlas_images(atlas, images);
  for (const std::string& name : layers) {
    const Shape s = net.output_shape({1, 3, size, size}, name);
    fmviz::AtlasLayer l;
    l.name = name;
    l.height = s[2];
    l.width = s[3];
    l.channels.resize(s[1]);
    atlas.layers.push_back(l);
  }
  for (std::size_t i = 0; i < images.size(); ++i) {
    fmviz::ActivationRecorder<float> rec(fmviz::Tap::relu, layers);
    fmviz::ImageOptions io;
    io.size = size;
    net.forward(fmviz::load_image<float>(images[i], io), rec, layers.back());
    for (fmviz::AtlasLayer& l : atlas.layers) {
      const Tensor<float>& t = rec.at(l.name);
      const std::size_t plane = l.height * l.width;
      for (std::size_t c = 0; c < l.channels.size(); ++c) {
        const float* p = t.data() + c * plane;
        const std::size_t at = static_cast<std::size_t>(std::max_element(p, p + plane) - p);
        double sum = 0;
        for (std::size_t k = 0; k < plane; ++k) sum += p[k];
        const auto y = static_cast<std::uint32_t>(at / l.width), x = static_cast<std::uint32_t>(at % l.width);
        l.channels[c].by_max.push_back({i, p[at], y, x});
        l.channels[c].by_mean.push_back({i, static_cast<float>(sum / static_cast<double>(plane)), y, x});
      }
    }
  }
  for (fmviz::AtlasLayer& l : atlas.layers)
    for (fmviz::ChannelTop& top : l.channels)
      for (std::vector<fmviz::AtlasHit>* hits : {&top.by_max, &top.by_mean}) {
        std::sort(hits->begin(), hits->end(), fmviz::ranks_before);
        if (hits->size() > top_k) hits->resize(top_k);
      }
  return atlas;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(fs::relative(e.path(), dir).generic_string());
  return out;
}

// Six 32x32 photos in `dir`, with awkward names.
std::vector<std::string> write_photos(const TempDir& dir, std::size_t count = 6) {
  const char* names[] = {"plain.png", "a <b> & \"c\" 'd'.png", "#50% \xc3\xbc.png", "sp ace.png", "five.png", "six.png"};
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < count; ++i) {
    paths.push_back(dir.file(std::string("in-") + names[i % 6] + (i >= 6 ? std::to_string(i) : std::string())));
    fmviz::write_png(paths.back(), photo(32, 32, static_cast<std::uint32_t>(10 + i)));
  }
  return paths;
}

}  // namespace

TEST_CASE("receptive fields of VGG16 from its layers: 3 px at conv1_1 to 196 px every 16 at conv5_3", "[atlas][receptive_field]") {
  const fmviz::Network<float> net = vgg16_geometry();
  check_vgg16_fields(net);
  const fmviz::ReceptiveField rf = fmviz::receptive_field(net, "conv5_3");
  CHECK(rf.y.centre(0) == Approx(7.5));  // the window [-90, 105]
  CHECK(rf.y.centre(13) == Approx(7.5 + 13 * 16));
  const fmviz::InputWindow w = rf.window(2, 3);
  CHECK(w.top == 2 * 16 - 90);
  CHECK(w.left == 3 * 16 - 90);
  CHECK(w.height == 196);
  CHECK(fmviz::receptive_field(net, "relu3_1").y.size == 24);  // a ReLU's field is its conv's

  const std::vector<fmviz::ReceptiveField> all = fmviz::conv_receptive_fields(net);
  REQUIRE(all.size() == 13);
  CHECK(all.front().layer == "conv1_1");
  CHECK(all.back().y.size == 196);

  const auto e = error_of([&] { fmviz::receptive_field(net, "avgpool"); });
  REQUIRE(e);
  CHECK(e->field() == "avgpool");
  CHECK_THAT(e->what(), contains("no local receptive field"));
  CHECK(error_of([&] { fmviz::receptive_field(net, "conv9_9"); }));
}

TEST_CASE("receptive fields of a loaded VGG16 weight file", "[atlas][receptive_field]") {
  const std::string path = FMVIZ_TEST_DATA_DIR "/reference/vgg16_seed0_convs.bin";
  if (!fs::exists(path)) {
    WARN("skipped: " << path << " not generated (ctest -R fixtures)");
    return;
  }
  fmviz::LoadOptions lo;
  lo.algorithm = fmviz::ConvAlgorithm::gemm;
  check_vgg16_fields(fmviz::load_vgg16<float>(path, lo));
}

TEST_CASE("receptive fields agree with a brute-force check: perturbing a pixel changes exactly the positions that see it",
          "[atlas][receptive_field]") {
  // Positive weights and inputs: a large enough increase of one pixel raises every output that reads it (through
  // each max-pool too), and nothing else. Kernels, strides and paddings differ per layer and per axis.
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("a", fmviz::Conv2d<float>(random_tensor({2, 1, 3, 5}, 1, 0.1f, 1.0f), Tensor<float>::zeros({2}), 1, 2, 1, 2,
                                                fmviz::ConvAlgorithm::gemm));
  layers.emplace_back("a_relu", fmviz::ReLU{});
  layers.emplace_back("p", fmviz::MaxPool2d(3, 2, 1));
  layers.emplace_back("b", fmviz::Conv2d<float>(random_tensor({2, 2, 2, 3}, 2, 0.1f, 1.0f), Tensor<float>::zeros({2}), 2, 1, 0, 1,
                                                fmviz::ConvAlgorithm::gemm));
  layers.emplace_back("q", fmviz::MaxPool2d(2, 2, 0, true));
  const fmviz::Network<float> net(std::move(layers));
  const std::size_t H = 23, W = 27;
  const Tensor<float> base = random_tensor({1, 1, H, W}, 3, 0.1f, 1.0f);
  for (const std::string name : {"a", "p", "b", "q"}) {
    INFO(name);
    const fmviz::ReceptiveField rf = fmviz::receptive_field(net, name);
    const Tensor<float> out0 = net.forward(base, name);
    const std::size_t oh = out0.dim(2), ow = out0.dim(3), oc = out0.dim(1);
    std::size_t wrong = 0, changes = 0;
    for (std::size_t iy = 0; iy < H; ++iy)
      for (std::size_t ix = 0; ix < W; ++ix) {
        Tensor<float> x = base;
        x(0, 0, iy, ix) += 1000.0f;
        const Tensor<float> out = net.forward(std::move(x), name);
        for (std::size_t y = 0; y < oh; ++y)
          for (std::size_t xx = 0; xx < ow; ++xx) {
            const fmviz::InputWindow w = rf.window(y, xx);
            const bool inside = static_cast<std::int64_t>(iy) >= w.top && static_cast<std::int64_t>(iy) < w.top + static_cast<std::int64_t>(w.height) &&
                                static_cast<std::int64_t>(ix) >= w.left && static_cast<std::int64_t>(ix) < w.left + static_cast<std::int64_t>(w.width);
            bool changed = false;
            for (std::size_t c = 0; c < oc; ++c) changed = changed || std::fabs(out(0, c, y, xx) - out0(0, c, y, xx)) > 1.0f;
            changes += changed;
            wrong += changed != inside;
          }
      }
    CHECK(changes > 0);
    CHECK(wrong == 0);
  }
  const fmviz::ReceptiveField b = fmviz::receptive_field(net, "b");
  CHECK_FALSE(b.square());
  CHECK(b.y.size == 3 + 2 * 1 + 1 * 2);  // a: 3; p: +2*1, jump 2; b: +(2-1)*2
  CHECK(b.x.size == 5 + 2 * 2 + 2 * 4);  // a: 5, jump 2; p: +2*2, jump 4; b: +(3-1)*4
}

TEST_CASE("atlas site: the pages, the thumbnails and the crops' pixels", "[atlas][site]") {
  TempDir dir;
  const std::vector<std::string> images = write_photos(dir);
  const fmviz::Network<float> net = small_network();
  const fmviz::Atlas atlas = atlas_by_hand(net, images, {"conv1_1", "conv2_1"}, 3, 32);
  fmviz::AtlasSiteOptions o;
  o.thumbnail = 16;
  o.min_window = 16;  // conv1_1's 3 px and conv2_1's 8 px fields in 16 px windows: crops at their own pixels
  o.batch = 2;
  std::vector<std::size_t> progress;
  o.on_progress = [&](std::size_t done, std::size_t total) {
    progress.push_back(done);
    CHECK(total == 6);
  };
  const std::string out = (dir.path() / "site").string();
  fmviz::write_atlas_site(net, atlas, out, o);
  CHECK(progress == std::vector<std::size_t>{2, 4, 6});

  const std::string index = read_text(fs::path(out) / "index.html");
  CHECK_THAT(index, contains("href=\"conv1_1.html\""));
  CHECK_THAT(index, contains("href=\"conv2_1.html\""));
  CHECK_THAT(index, contains("small &amp; &lt;random&gt;.bin"));
  CHECK_THAT(index, contains("<td>8 px</td>"));  // conv2_1's receptive field
  CHECK(index.find("<script") == std::string::npos);

  const fmviz::Image8 pad_expected = [] {
    fmviz::Image8 p(1, 1, 3);
    for (std::size_t k = 0; k < 3; ++k) p.pixels[k] = static_cast<std::uint8_t>(fmviz::imagenet_mean[k] * 255.0 + 0.5);
    return p;
  }();
  for (const fmviz::AtlasLayer& l : atlas.layers) {
    INFO(l.name);
    const std::string page = read_text(fs::path(out) / (l.name + ".html"));
    for (std::size_t c = 0; c < l.channels.size(); ++c) CHECK_THAT(page, contains("id=\"c" + std::to_string(c) + "\""));
    CHECK(count_of(page, "<img loading=\"lazy\"") == l.channels.size() * 2 * 3);
    CHECK(count_of(page, "width=\"16\" height=\"32\"") == l.channels.size() * 2 * 3);
    CHECK(page.find("a <b>") == std::string::npos);  // the hostile name only escaped
    CHECK_THAT(page, contains("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;.png"));
    CHECK(page.find("unreadable") == std::string::npos);

    const fmviz::ReceptiveField rf = fmviz::receptive_field(net, l.name);
    for (std::size_t c = 0; c < l.channels.size(); ++c)
      for (int mean = 0; mean < 2; ++mean) {
        const auto& hits = mean ? l.channels[c].by_mean : l.channels[c].by_max;
        for (std::size_t k = 0; k < hits.size(); ++k) {
          const fmviz::AtlasHit& hit = hits[k];
          const fs::path file = fs::path(out) / l.name / fmviz::detail::atlas_thumbnail_name(c, mean != 0, k);
          REQUIRE(fs::exists(file));
          const fmviz::Image8 thumb = fmviz::to_image8(fmviz::read_image(file.string()));
          REQUIRE(thumb.width == 16);
          REQUIRE(thumb.height == 32);
          const fmviz::Image8 src = fmviz::to_image8(fmviz::read_image(images[hit.image]));
          // The window: the field, widened about its centre to 16 px.
          const fmviz::InputWindow field = rf.window(hit.y, hit.x);
          const std::int64_t top = field.top - static_cast<std::int64_t>((16 - field.height) / 2);
          const std::int64_t left = field.left - static_cast<std::int64_t>((16 - field.width) / 2);
          std::size_t differ = 0;
          for (std::size_t r = 0; r < 16; ++r)
            for (std::size_t q = 0; q < 16; ++q) {
              const std::int64_t sy = top + static_cast<std::int64_t>(r), sx = left + static_cast<std::int64_t>(q);
              const bool in = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
              const std::uint8_t* want = in ? src.pixel(static_cast<std::size_t>(sx), static_cast<std::size_t>(sy)) : pad_expected.pixel(0, 0);
              differ += !std::equal(want, want + 3, thumb.pixel(q, r));
            }
          CHECK(differ == 0);
          if (mean == 0 && k == 0) {
            // At the maximum itself the map's value is the channel's best, the top of the colour scale.
            const auto rgb = fmviz::colormap_rgb(fmviz::Colormap::turbo, 1.0);
            const std::size_t r = static_cast<std::size_t>(static_cast<std::int64_t>(rf.y.centre(hit.y)) - top);
            const std::size_t q = static_cast<std::size_t>(static_cast<std::int64_t>(rf.x.centre(hit.x)) - left);
            if (rf.y.size % 2 == 1) {  // an odd field has a centre pixel
              const std::uint8_t* crop = thumb.pixel(q, r);
              const std::uint8_t* over = thumb.pixel(q, 16 + r);
              for (std::size_t k3 = 0; k3 < 3; ++k3) CHECK(int(over[k3]) == int(0.5 * crop[k3] + 0.5 * rgb[k3] + 0.5));
            }
          }
        }
      }
  }
}

TEST_CASE("atlas site: the same files whatever the batch; larger thumbnails; by max only, no overlay", "[atlas][site]") {
  TempDir dir;
  const std::vector<std::string> images = write_photos(dir);
  const fmviz::Network<float> net = small_network();
  const fmviz::Atlas atlas = atlas_by_hand(net, images, {"conv2_1", "conv2_2"}, 4, 32);
  fmviz::AtlasSiteOptions one;
  one.batch = 1;
  fmviz::AtlasSiteOptions three;
  three.batch = 3;
  const fs::path a = dir.path() / "a", b = dir.path() / "b";
  fmviz::write_atlas_site(net, atlas, a.string(), one);
  fmviz::write_atlas_site(net, atlas, b.string(), three);
  const std::set<std::string> files = listing(a);
  CHECK(files == listing(b));
  CHECK(files.count("conv2_2/c0002-mean-4.png"));
  for (const std::string& f : files)
    if (fs::is_regular_file(a / f)) CHECK(read_text(a / f) == read_text(b / f));
  const fmviz::Image8 t = fmviz::to_image8(fmviz::read_image((a / "conv2_1" / "c0000-max-1.png").string()));
  CHECK(t.width == 80);
  CHECK(t.height == 160);

  fmviz::AtlasSiteOptions plain;
  plain.overlay = false;
  plain.by_mean = false;
  plain.layers = {"conv2_2"};
  const fs::path c = dir.path() / "c";
  fmviz::write_atlas_site(net, atlas, c.string(), plain);
  CHECK_FALSE(fs::exists(c / "conv2_1.html"));
  CHECK_FALSE(fs::exists(c / "conv2_2" / "c0000-mean-1.png"));
  const fmviz::Image8 p = fmviz::to_image8(fmviz::read_image((c / "conv2_2" / "c0000-max-1.png").string()));
  CHECK(p.height == 80);
  CHECK(count_of(read_text(c / "conv2_2.html"), "width=\"80\" height=\"80\"") == 3 * 4);
}

TEST_CASE("atlas site: unreadable images become placeholders; a wrong atlas value is pointed out", "[atlas][site]") {
  TempDir dir;
  std::vector<std::string> images = write_photos(dir);
  const fmviz::Network<float> net = small_network();
  fmviz::Atlas atlas = atlas_by_hand(net, images, {"conv2_1"}, 6, 32);
  fmviz_test::write_file(images[1], {'n', 'o', 't'});  // now corrupt
  fs::remove(images[2]);                              // now missing
  atlas.layers[0].channels[0].by_max[0].value += 5.0f;
  std::vector<std::uint64_t> skipped;
  fmviz::AtlasSiteOptions o;
  o.on_skipped = [&](std::uint64_t image, const fmviz::Error& e) {
    skipped.push_back(image);
    CHECK(e.path() == images[image]);
  };
  const fs::path out = dir.path() / "site";
  fmviz::write_atlas_site(net, atlas, out.string(), o);
  CHECK(skipped == std::vector<std::uint64_t>{1, 2});
  const std::string page = read_text(out / "conv2_1.html");
  CHECK(count_of(page, ">unreadable</span>") == 5 * 2 * 2);  // 5 channels, two rows, two images each
  CHECK(count_of(page, "<img loading") == 5 * 2 * 4);
  CHECK_THAT(page, contains("1 of 20 images give another value"));
  const std::string index = read_text(out / "index.html");
  CHECK_THAT(index, contains("Unreadable images"));
  CHECK_THAT(index, contains("a &lt;b&gt; &amp;"));
  CHECK_THAT(index, contains("1 of 20 top images give another value"));
}

TEST_CASE("atlas site: bad atlases and options are refused before anything is written", "[atlas][site]") {
  TempDir dir;
  const std::vector<std::string> images = write_photos(dir, 3);
  const fmviz::Network<float> net = small_network();
  const fmviz::Atlas good = atlas_by_hand(net, images, {"conv1_1", "conv2_1"}, 2, 32);
  const fs::path out = dir.path() / "site";
  struct Case {
    const char* what;
    std::function<void(fmviz::Atlas&, fmviz::AtlasSiteOptions&)> change;
    const char* field;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"image index", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[1].channels[2].by_mean[1].image = 3; }, "conv2_1",
       "channel 2 by mean, place 2: image 3 is not in the atlas's list of 3 images"},
      {"row", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[0].channels[0].by_max[0].y = 32; }, "conv1_1", "outside the 32 x 32 map"},
      {"column", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[1].channels[4].by_max[1].x = 16; }, "conv2_1", "position (" },
      {"too many", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[0].channels[1].by_max.push_back({0, 0.f, 0, 0}); }, "conv1_1",
       "3 images, more than the atlas's top 2"},
      {"nan", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[0].channels[1].by_mean[0].value = std::numeric_limits<float>::quiet_NaN(); },
       "conv1_1", "not finite"},
      {"channels", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[1].channels.pop_back(); }, "conv2_1", "the atlas has 4 channels"},
      {"map size", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[1].height = 17; }, "conv2_1", "but the network gives"},
      {"image size", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.settings.size = 64; }, "conv1_1", "but the network gives"},
      {"size 0", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.settings.size = 0; }, "size", "must be 1 to 8192"},
      {"not in the network", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[1].name = "conv3_1"; }, "conv3_1", "no such layer"},
      {"not a conv", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[1].name = "pool1"; }, "pool1", "not a conv layer"},
      {"twice", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[1] = a.layers[0]; }, "conv1_1", "twice"},
      {"file name", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers[1].name = "../conv2_1"; }, "../conv2_1", "cannot name a page"},
      {"no layers", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.layers.clear(); }, "layers", "no layers"},
      {"empty path", [](fmviz::Atlas& a, fmviz::AtlasSiteOptions&) { a.images[1].clear(); }, "images", "image 1 has an empty path"},
      {"thumbnail", [](fmviz::Atlas&, fmviz::AtlasSiteOptions& o) { o.thumbnail = 8; }, "thumbnail", "16 to 512"},
      {"alpha", [](fmviz::Atlas&, fmviz::AtlasSiteOptions& o) { o.alpha = 2; }, "alpha", "between 0 and 1"},
      {"batch", [](fmviz::Atlas&, fmviz::AtlasSiteOptions& o) { o.batch = 0; }, "batch", "1 to 256"},
      {"layer choice", [](fmviz::Atlas&, fmviz::AtlasSiteOptions& o) { o.layers = {"conv2_2"}; }, "conv2_2", "not in the atlas"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    fmviz::Atlas atlas = good;
    fmviz::AtlasSiteOptions o;
    c.change(atlas, o);
    const auto e = error_of([&] { fmviz::write_atlas_site(net, atlas, out.string(), o); });
    REQUIRE(e);
    CHECK(e->field() == c.field);
    CHECK_THAT(e->what(), contains(c.message));
    CHECK_FALSE(fs::exists(out));
  }
  CHECK(error_of([&] { fmviz::write_atlas_site(net, good, ""); }));
  // Tap::relu needs the ReLU after the conv layer.
  std::vector<fmviz::Layer<float>> bare;
  bare.emplace_back("conv1_1", conv(4, 3, 1));
  const fmviz::Network<float> no_relu(std::move(bare));
  fmviz::Atlas one = good;
  one.layers.resize(1);
  const auto e = error_of([&] { fmviz::write_atlas_site(no_relu, one, out.string()); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("no ReLU"));
  one.settings.tap = fmviz::Tap::conv;
  fmviz::write_atlas_site(no_relu, one, out.string());
  CHECK(fs::exists(out / "conv1_1.html"));
}

TEST_CASE("atlas site: a failure takes back what the call wrote and nothing else", "[atlas][site]") {
  TempDir dir;
  const std::vector<std::string> images = write_photos(dir, 4);
  const fmviz::Network<float> net = small_network();
  const fmviz::Atlas atlas = atlas_by_hand(net, images, {"conv1_1", "conv2_1"}, 2, 32);

  // The last page cannot be written (a folder has its name), after every thumbnail was.
  const fs::path out = dir.path() / "site";
  fs::create_directories(out / "index.html");
  fs::create_directories(out / "conv1_1");
  fmviz_test::write_file((out / "conv1_1" / "mine.txt").string(), {'k', 'e', 'e', 'p'});
  const std::set<std::string> before = listing(out);
  const auto e = error_of([&] { fmviz::write_atlas_site(net, atlas, out.string()); });
  REQUIRE(e);
  CHECK(e->path() == (out / "index.html").string());
  CHECK(listing(out) == before);  // conv1_1/ was there: kept; conv2_1/ and every thumbnail and page: gone

  // A new folder under a file cannot be made.
  const fs::path blocked = dir.path() / "file" / "site";
  fmviz_test::write_file((dir.path() / "file").string(), {'x'});
  CHECK(error_of([&] { fmviz::write_atlas_site(net, atlas, blocked.string()); }));
  // A new site folder (and its parent), all of it taken back when the run stops after its first batch.
  const fs::path fresh = dir.path() / "new" / "site";
  fmviz::AtlasSiteOptions o;
  o.batch = 2;
  o.on_progress = [](std::size_t, std::size_t) { throw fmviz::Error({}, "progress", "stop here"); };
  const auto f = error_of([&] { fmviz::write_atlas_site(net, atlas, fresh.string(), o); });
  REQUIRE(f);
  CHECK(f->field() == "progress");
  CHECK_FALSE(fs::exists(dir.path() / "new"));
}
