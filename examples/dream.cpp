// Feature visualisation: for each LAYER:CHANNELS given, images optimised from noise to excite those channels (Lucid's
// recipe: Fourier image, decorrelated colours, random transforms, Adam), one row per layer, written as one PNG.
//
//   dream WEIGHTS OUT.png LAYER:C,C,... [LAYER:C,C,... ...] [--caffe] [--last LAYER] [--size N] [--steps N]
//         [--seed N] [--relu] [--neuron] [--zoom K] [--labels]
//     --caffe       Caffe input convention (BGR, 0-255, mean subtracted): the original Oxford weights
//     --last LAYER  stop at LAYER, for a weights file that holds only the first layers (e.g. conv3_1)
//     --relu        maximise the output after ReLU instead of the conv's output before it (the default)
//     --neuron      maximise the channel at the centre position instead of its mean
//     --zoom K      draw every pixel as K x K (default 1)
//     --labels      write LAYER:CHANNEL in each picture's corner
#include <fmviz/fmviz.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

int main(int argc, char** argv) try {
  if (argc < 4) {
    std::cerr << "usage: dream WEIGHTS OUT.png LAYER:C,C,... [LAYER:C,... ...] [--caffe] [--last LAYER] [--size N] [--steps N]"
                 " [--seed N] [--relu] [--neuron] [--zoom K] [--labels]\n";
    return 2;
  }
  fmviz::FeatureVisOptions options;  // Lucid's defaults: 128 x 128, 512 steps, Adam at 0.05, seed 0
  fmviz::LoadOptions load;
  std::size_t zoom = 1;
  bool labelled = false;
  std::vector<std::pair<std::string, std::vector<int>>> rows;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool value = i + 1 < argc;
    if (arg == "--caffe") options.preset = fmviz::Preset::caffe;
    else if (arg == "--relu") options.tap = fmviz::Tap::relu;
    else if (arg == "--neuron") options.objective = fmviz::FeatureObjective::neuron;
    else if (arg == "--last" && value) load.last_layer = argv[++i];
    else if (arg == "--size" && value) options.size = std::stoul(argv[++i]);
    else if (arg == "--steps" && value) options.steps = std::stoul(argv[++i]);
    else if (arg == "--seed" && value) options.seed = std::stoull(argv[++i]);
    else if (arg == "--labels") labelled = true;
    else if (arg == "--zoom" && value) zoom = std::max<std::size_t>(1, std::stoul(argv[++i]));
    else if (arg.find(':') != std::string::npos && arg[0] != '-') {
      std::vector<int> channels;
      std::string list = arg.substr(arg.find(':') + 1) + ",";
      for (std::size_t p; (p = list.find(',')) != std::string::npos; list.erase(0, p + 1))
        if (p > 0) channels.push_back(std::stoi(list.substr(0, p)));
      rows.emplace_back(arg.substr(0, arg.find(':')), channels);
    } else {
      std::cerr << "dream: unknown option " << arg << "\n";
      return 2;
    }
  }
  if (rows.empty()) {
    std::cerr << "dream: give at least one LAYER:CHANNELS, e.g. conv3_1:0,1,2,3\n";
    return 2;
  }

  const auto net = fmviz::load_vgg16<float>(argv[1], load);
  std::vector<std::vector<fmviz::ChannelVisualization>> results;
  for (const auto& row : rows) {  // one batch per layer: each step is one forward and one backward for all its channels
    results.push_back(fmviz::visualize_channels(net, row.first, row.second, options));
    for (const auto& v : results.back())
      std::printf("%s channel %d: objective %.3g at the first step, %.3g at the last, %.3g on the final image\n", v.layer.c_str(),
                  v.channel, v.activation_history.front(), v.activation_history.back(), v.final_activation);
  }

  // One row per layer (white where a row is shorter), labelled with the channel, each pixel drawn zoom x zoom.
  std::size_t columns = 0;
  for (const auto& r : results) columns = std::max(columns, r.size());
  std::vector<fmviz::Image8> cells;
  std::vector<std::string> labels;
  for (const auto& r : results)
    for (std::size_t c = 0; c < columns; ++c) {
      cells.push_back(c < r.size() ? fmviz::to_image8(r[c].image) : fmviz::Image8(options.size, options.size, 3, 255));
      labels.push_back(c < r.size() && labelled ? r[c].layer + ":" + std::to_string(r[c].channel) : std::string());
    }
  fmviz::MosaicOptions mosaic;
  mosaic.columns = columns;
  mosaic.zoom = zoom;
  const fmviz::Image8 picture = fmviz::mosaic(cells, mosaic, labels);
  fmviz::write_png(argv[2], picture);
  std::printf("-> %s\n", argv[2]);
} catch (const std::exception& e) {
  std::cerr << "dream: " << e.what() << "\n";
  return 1;
}
