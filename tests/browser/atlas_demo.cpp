// fmviz_atlas_demo ROOT: writes a small channel atlas site into ROOT/site (ROOT/site/index.html is its top page) for
// the browser test, with no data files: twelve textured 64x64 photos with awkward names in ROOT/images, a small
// seeded network (conv1_1, pool1, conv2_1, conv2_2 of 96 channels), its atlas made by fmviz::make_atlas, and fmviz::write_atlas_site.
// One photo is spoiled after the atlas is made, so the site also shows an unreadable image's placeholders.
#include <fmviz/atlas.hpp>
#include <fmviz/png.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

fmviz::Tensor<float> random_tensor(fmviz::Shape shape, std::uint32_t seed, float scale) {
  fmviz::Tensor<float> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (float& v : t) v = dist(rng);
  return t;
}

fmviz::Conv2d<float> conv(std::size_t out, std::size_t in, std::uint32_t seed) {
  return fmviz::Conv2d<float>(random_tensor({out, in, 3, 3}, seed, 0.5f), random_tensor({out}, seed + 1, 0.1f), 1, 1);
}

// Stripes at an angle, a colour gradient and seeded noise: no window of it is flat.
fmviz::Image8 photo(std::size_t side, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double angle = 6.283 * u(rng), period = 6 + 10 * u(rng);
  const double ca = std::cos(angle), sa = std::sin(angle);
  const int base[3] = {static_cast<int>(rng() % 160), static_cast<int>(rng() % 160), static_cast<int>(rng() % 160)};
  fmviz::Image8 img(side, side, 3);
  for (std::size_t y = 0; y < side; ++y)
    for (std::size_t x = 0; x < side; ++x) {
      const double t = (ca * static_cast<double>(x) + sa * static_cast<double>(y)) / period;
      const int stripe = (static_cast<long>(std::floor(t)) % 2 == 0) ? 70 : 0;
      for (std::size_t k = 0; k < 3; ++k) {
        const int v = base[k] + stripe + static_cast<int>((k == 0 ? x : y) / 2) + static_cast<int>(rng() % 24);
        img.pixel(x, y)[k] = static_cast<std::uint8_t>(v > 255 ? 255 : v);
      }
    }
  return img;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fmviz_atlas_demo ROOT\n";
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path root = argv[1];
  try {
    fs::create_directories(root / "images");
    const char* names[] = {"cat photo #1.png", "Stra\303\237e & <Hund> 100%.png", "it's \"quoted\".png", "plain.png"};
    std::vector<std::string> images;
    for (std::uint32_t i = 0; i < 12; ++i) {
      images.push_back((root / "images" / (std::to_string(i) + " " + names[i % 4])).string());
      fmviz::write_png(images.back(), photo(64, 100 + i));
    }
    std::vector<fmviz::Layer<float>> layers;
    layers.emplace_back("conv1_1", conv(6, 3, 1));
    layers.emplace_back("relu1_1", fmviz::ReLU{});
    layers.emplace_back("pool1", fmviz::MaxPool2d(2, 2));
    layers.emplace_back("conv2_1", conv(8, 6, 3));
    layers.emplace_back("relu2_1", fmviz::ReLU{});
    layers.emplace_back("conv2_2", conv(96, 8, 5));  // enough channels for a row of channel links wider than the window
    layers.emplace_back("relu2_2", fmviz::ReLU{});
    const fmviz::Network<float> net(std::move(layers));

    fmviz::AtlasOptions options;
    options.layers = {"conv1_1", "conv2_2"};
    options.top_k = 4;
    options.size = 64;
    options.weights_label = "seeded <demo> & weights.bin";
    const fmviz::Atlas atlas = fmviz::make_atlas(net, images, options);
    // Channel 0's best image, so that the spoiled one is sure to be among the top images.
    std::ofstream(images[atlas.layers[0].channels[0].by_max[0].image], std::ios::trunc) << "no longer a picture";

    fmviz::AtlasSiteOptions site;
    site.thumbnail = 64;
    site.title = "fmviz atlas demo: <12> photos & a spoiled one";
    fmviz::write_atlas_site(net, atlas, (root / "site").string(), site);
  } catch (const std::exception& e) {
    std::cerr << "fmviz_atlas_demo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
