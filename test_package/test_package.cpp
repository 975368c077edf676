// Conan test_package: the package's headers compile, its dependencies link, and stb works.
#include <fmviz/image.hpp>
#include <fmviz/vgg.hpp>
#include <fmviz/version.hpp>

#include <iostream>

int main() {
  // stb is linked (its implementation compiled once, by fmviz::stb_implementation): decoding garbage fails cleanly.
  const unsigned char garbage[4] = {1, 2, 3, 4};
  int w = 0, h = 0, c = 0;
  const bool decoded = stbi_info_from_memory(garbage, 4, &w, &h, &c) != 0;

  fmviz::ActivationRecorder<float> recorder;
  try {
    fmviz::load_vgg16<float>("no-such-file.safetensors");
    return 1;
  } catch (const fmviz::Error& e) {
    std::cout << "fmviz " << FMVIZ_VERSION_STRING << " (" << fmviz::thread_count() << " threads): " << e.what() << "\n";
  }
  return decoded || recorder.size() != 0 ? 1 : 0;
}
