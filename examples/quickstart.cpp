#include <fmviz/fmviz.hpp>
#include <iostream>
int main(int argc, char** argv) {
  if (argc < 3) { std::cerr << "usage: quickstart WEIGHTS IMAGE\n"; return 2; }
  auto net = fmviz::load_vgg16<float>(argv[1]);        // .safetensors or raw .bin
  auto x = fmviz::load_image<float>(argv[2]);          // 1x3x224x224, normalised
  fmviz::ActivationRecorder<float> rec;
  net.forward(x, rec);
  for (const std::string& name : rec.names())          // conv1_1 ... conv5_3
    std::cout << name << ": " << rec.at(name).size() << " values\n";
}
