// Uses stb_image directly and through fmviz in the same program.
#include <fmviz/image.hpp>
#include <fmviz/version.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: own_stb IMAGE\n";
    return 2;
  }
  int w = 0, h = 0, c = 0;
  if (!stbi_info(argv[1], &w, &h, &c)) {
    std::cerr << "stbi_info failed: " << stbi_failure_reason() << "\n";
    return 1;
  }
  const auto x = fmviz::load_image<float>(argv[1]);
  std::cout << "fmviz " << FMVIZ_VERSION_STRING << ": stb sees " << w << "x" << h << ", fmviz gives " << x.size()
            << " values\n";
  return x.size() == 3u * 224u * 224u ? 0 : 1;
}
