// Why the network decided what it did: where it looked (Grad-CAM, Grad-CAM++ and LayerCAM over the photo) and
// which pixels mattered (the gradient, SmoothGrad and guided backpropagation), for its top class, as PNGs.
#include <fmviz/fmviz.hpp>

#include <filesystem>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: explain FULL_WEIGHTS IMAGE OUT_DIR   (the weights must hold the classifier, fc6 ... fc8)\n";
    return 2;
  }
  try {
    const fmviz::Network<float> net = fmviz::load_vgg16<float>(argv[1]);
    const fmviz::RgbImage photo = fmviz::resize_bilinear(fmviz::read_image(argv[2]), 224, 224);
    const fmviz::Tensor<float> x = fmviz::to_tensor<float>(photo, fmviz::Preset::torchvision);
    const std::string out = argv[3];
    std::filesystem::create_directories(out);
    const auto cams = fmviz::class_activation_maps(net, x, fmviz::CamOptions{});  // conv5_3, the top class, 3 methods
    for (const fmviz::ClassActivationMap& cam : cams[0])
      fmviz::write_png(out + "/" + fmviz::to_string(cam.method) + ".png", fmviz::cam_overlay(photo, cam));
    const auto saliency = fmviz::saliency_maps(net, x, fmviz::SaliencyOptions{});  // 25 SmoothGrad samples, seed 0
    for (const fmviz::SaliencyMap& s : saliency[0])
      fmviz::write_png(out + "/saliency_" + fmviz::to_string(s.method) + ".png", fmviz::saliency_picture(s));
    std::cout << "explained " << fmviz::imagenet_class_name(cams[0][0].target.index) << " in " << out << "\n";
  } catch (const fmviz::Error& e) {
    std::cerr << "explain: " << e.what() << "\n";
    return 1;
  }
}
