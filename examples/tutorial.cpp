// The classic tutorial's figure for every conv layer: its first 16 channels in 2 rows x 8 columns,
// each channel min-max scaled on its own, grey. Writes OUT_DIR/conv1_1.png, OUT_DIR/conv1_2.png, ...
//
//   tutorial WEIGHTS IMAGE OUT_DIR [--caffe] [--last LAYER]
//     --caffe       Caffe input convention (BGR, 0-255, mean subtracted): the original Oxford weights
//     --last LAYER  stop at LAYER, for a weights file that holds only the first layers (e.g. conv3_1)
#include <fmviz/fmviz.hpp>

#include <filesystem>
#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  if (argc < 4) {
    std::cerr << "usage: tutorial WEIGHTS IMAGE OUT_DIR [--caffe] [--last LAYER]\n";
    return 2;
  }
  fmviz::ImageOptions image;  // 224 x 224, torchvision's normalisation
  fmviz::LoadOptions load;    // all the layers the file holds
  for (int i = 4; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--caffe") image.preset = fmviz::Preset::caffe;
    else if (arg == "--last" && i + 1 < argc) load.last_layer = argv[++i];
    else { std::cerr << "tutorial: unknown option " << arg << "\n"; return 2; }
  }

  const auto net = fmviz::load_vgg16<float>(argv[1], load);
  fmviz::ActivationRecorder<float> recorder;  // every conv output, before its ReLU
  net.forward(fmviz::load_image<float>(argv[2], image), recorder);

  const std::filesystem::path out = argv[3];
  std::filesystem::create_directories(out);
  for (const std::string& layer : recorder.names()) {
    const fmviz::Grid grid = fmviz::make_grid(recorder.at(layer));  // the defaults are the tutorial's figure
    const std::string file = (out / (layer + ".png")).string();
    fmviz::write_png(file, grid.image);
    std::cout << layer << ": channels 0-" << grid.channels.back() << ", " << grid.rows << " x " << grid.columns << " cells of "
              << grid.cell_width << " x " << grid.cell_height << " -> " << file << "\n";
  }
} catch (const std::exception& e) {
  std::cerr << "tutorial: " << e.what() << "\n";
  return 1;
}
