// The 8 channels of one layer that respond most to the image (highest mean activation after ReLU), in
// viridis, all on the layer's one value scale so that the colour bar underneath holds for every cell.
//
//   top_channels WEIGHTS IMAGE LAYER OUT.png [--caffe] [--last LAYER]
//     --caffe       Caffe input convention (BGR, 0-255, mean subtracted): the original Oxford weights
//     --last LAYER  stop at LAYER, for a weights file that holds only the first layers (e.g. conv3_1)
#include <fmviz/fmviz.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  if (argc < 5) {
    std::cerr << "usage: top_channels WEIGHTS IMAGE LAYER OUT.png [--caffe] [--last LAYER]\n";
    return 2;
  }
  const std::string layer = argv[3];
  fmviz::ImageOptions image;
  fmviz::LoadOptions load;
  for (int i = 5; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--caffe") image.preset = fmviz::Preset::caffe;
    else if (arg == "--last" && i + 1 < argc) load.last_layer = argv[++i];
    else { std::cerr << "top_channels: unknown option " << arg << "\n"; return 2; }
  }

  const auto net = fmviz::load_vgg16<float>(argv[1], load);
  fmviz::ActivationRecorder<float> recorder(fmviz::Tap::relu, {layer});  // only this layer, after its ReLU
  net.forward(fmviz::load_image<float>(argv[2], image), recorder, layer);  // and stop there

  fmviz::GridOptions options;
  options.channels = fmviz::ChannelSelection::top(8);  // or fmviz::parse_channels("top8")
  options.columns = 4;
  options.min_cell = 160;                    // enlarge small maps (56 x 56 becomes 168 x 168)
  options.scope = fmviz::NormScope::layer;   // one scale for the whole layer
  options.clip_percent = 0.5;                // saturate the top 0.5% (and bottom): a few hot pixels would flatten the rest
  options.colormap = fmviz::Colormap::viridis;
  options.labels = true;                     // channel numbers in the cells
  options.legend = true;                     // colour bar with the value range
  const fmviz::Grid grid = fmviz::make_grid(recorder.at(layer), options);
  fmviz::write_png(argv[4], grid.image);

  std::cout << layer << ": top channels";
  for (std::size_t c : grid.channels) std::cout << " " << c;
  std::cout << "; values " << grid.range.lo << " to " << grid.range.hi << " -> " << argv[4] << "\n";
} catch (const std::exception& e) {
  std::cerr << "top_channels: " << e.what() << "\n";
  return 1;
}
