// fmviz_gallery_demo ROOT FOLDER...: writes a gallery page ROOT/FOLDER/index.html for each FOLDER and a
// top-level ROOT/index.html linking them, through fmviz::write_gallery and fmviz::write_gallery_index.
// Each page shows FOLDER/input.png and the layers below, FOLDER/LAYER.png each (made beforehand by
// check_gallery.py); the picture sizes are read from the PNG headers, except for the last layer, whose
// size the page is not told.
#include <fmviz/gallery.hpp>

#include <cstddef>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

// A PNG file's width and height from its IHDR chunk; {0, 0} when it is not a readable PNG.
std::pair<std::size_t, std::size_t> png_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[24] = {};
  if (!in.read(reinterpret_cast<char*>(head), sizeof head) || head[1] != 'P' || head[2] != 'N' || head[3] != 'G') return {0, 0};
  auto be32 = [&](int at) {
    return (std::size_t{head[at]} << 24) | (std::size_t{head[at + 1]} << 16) | (std::size_t{head[at + 2]} << 8) | head[at + 3];
  };
  return {be32(16), be32(20)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: fmviz_gallery_demo ROOT FOLDER...\n";
    return 2;
  }
  const std::string root = argv[1];
  struct Layer {
    const char* name;
    std::size_t channels, size;
  };
  const Layer layers[] = {{"conv1_1", 64, 224}, {"conv2_1", 128, 112}, {"conv3_1", 256, 56}, {"conv4_1", 512, 28}, {"conv5_3", 512, 14}};
  try {
    std::vector<fmviz::GalleryIndexEntry> entries;
    for (int i = 2; i < argc; ++i) {
      const std::string folder = argv[i];
      fmviz::GalleryPage page;
      page.title = "fmviz: " + folder;
      page.input_picture = "input.png";
      page.input_name = folder + ".jpg";
      page.options = {{"weights", "vgg16 & <friends>.safetensors"}, {"tap", "conv"}, {"preset", "torchvision"}, {"size", "224"}};
      page.back_link = "../index.html";
      for (const Layer& l : layers) {
        fmviz::GalleryLayer layer;
        layer.name = l.name;
        layer.picture = layer.name + ".png";
        if (&l != &layers[std::size(layers) - 1])
          std::tie(layer.width, layer.height) = png_size(root + "/" + folder + "/" + layer.picture);
        layer.shape = {l.channels, l.size, l.size};
        layer.min = -static_cast<float>(l.channels) / 100.f;
        layer.max = static_cast<float>(l.size) / 10.f;
        for (std::size_t c = 0; c < 16; ++c) layer.channels.push_back(c);
        layer.note = "first 16 channels, each min-max scaled to grey";
        page.layers.push_back(std::move(layer));
      }
      fmviz::write_gallery(root + "/" + folder + "/index.html", page);
      entries.push_back({folder, folder, folder + "/input.png"});
    }
    fmviz::write_gallery_index(root + "/index.html", "fmviz: " + std::to_string(entries.size()) + " images", entries);
  } catch (const std::exception& e) {
    std::cerr << "fmviz_gallery_demo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
