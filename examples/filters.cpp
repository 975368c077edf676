// What the first layer looks for: conv1_1's 64 filters as enlarged colour patches (3x3 weights each,
// each scaled to its own range). The filters are weights, so no image is needed.
//
//   filters WEIGHTS OUT.png [--caffe]
//     --caffe   the weights expect BGR input (the original Oxford release): draw their planes as RGB
#include <fmviz/fmviz.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::cerr << "usage: filters WEIGHTS OUT.png [--caffe]\n";
    return 2;
  }
  fmviz::FilterGridOptions options;  // all 64 filters, 8 columns
  options.scale = 16;                                  // 16x16 pixels per weight
  options.scope = fmviz::NormScope::channel;           // each filter scaled to its own range: more contrast
  for (int i = 3; i < argc; ++i) {
    if (std::string(argv[i]) == "--caffe") options.bgr = true;
    else { std::cerr << "filters: unknown option " << argv[i] << "\n"; return 2; }
  }
  fmviz::LoadOptions load;
  load.last_layer = "conv1_1";  // only the first layer's weights are needed
  const auto net = fmviz::load_vgg16<float>(argv[1], load);
  const auto& conv = net.conv("conv1_1");
  const fmviz::Grid grid = fmviz::filter_grid(conv, options);
  fmviz::write_png(argv[2], grid.image);
  std::cout << "conv1_1: " << grid.channels.size() << " filters, " << grid.rows << " x " << grid.columns << " -> " << argv[2] << "\n";
} catch (const std::exception& e) {
  std::cerr << "filters: " << e.what() << "\n";
  return 1;
}
