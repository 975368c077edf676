// Where in the photo a layer responds: its activation (the mean over its channels after ReLU, or one
// channel), upsampled to the photo's size, coloured with turbo and blended over the photo.
//
//   overlay WEIGHTS IMAGE LAYER OUT.png [--channel N] [--caffe] [--last LAYER]
//     --channel N   show channel N instead of the mean over all channels
//     --caffe       Caffe input convention (BGR, 0-255, mean subtracted): the original Oxford weights
//     --last LAYER  stop at LAYER, for a weights file that holds only the first layers (e.g. conv3_1)
#include <fmviz/fmviz.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  if (argc < 5) {
    std::cerr << "usage: overlay WEIGHTS IMAGE LAYER OUT.png [--channel N] [--caffe] [--last LAYER]\n";
    return 2;
  }
  const std::string layer = argv[3];
  fmviz::ImageOptions image;
  fmviz::LoadOptions load;
  fmviz::OverlayOptions options;  // turbo, alpha 0.5, the map's own min and max
  for (int i = 5; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--caffe") image.preset = fmviz::Preset::caffe;
    else if (arg == "--last" && i + 1 < argc) load.last_layer = argv[++i];
    else if (arg == "--channel" && i + 1 < argc) options.channel = std::stoul(argv[++i]);
    else { std::cerr << "overlay: unknown option " << arg << "\n"; return 2; }
  }

  const auto net = fmviz::load_vgg16<float>(argv[1], load);
  const fmviz::RgbImage photo = fmviz::read_image(argv[2]);          // full size, for the picture
  fmviz::ActivationRecorder<float> recorder(fmviz::Tap::relu, {layer});  // after ReLU: only positive responses
  net.forward(fmviz::preprocess<float>(photo, image), recorder, layer);

  const fmviz::Image8 picture = fmviz::overlay(photo, recorder.at(layer), options);
  fmviz::write_png(argv[4], picture);
  std::cout << layer << (options.channel ? " channel " + std::to_string(*options.channel) : std::string(" channel mean"))
            << " over " << picture.width << " x " << picture.height << " -> " << argv[4] << "\n";
} catch (const std::exception& e) {
  std::cerr << "overlay: " << e.what() << "\n";
  return 1;
}
