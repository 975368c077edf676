// How many threads fmviz uses depends only on how the consumer builds: this program is built twice, linked to
// fmviz::fmviz (no OpenMP: one thread, whatever OMP_NUM_THREADS says) and to fmviz::openmp (OpenMP when the
// package has it). It checks fmviz::thread_count() against the expected count and runs a small forward
// (conv1_1 and conv1_2 on a real photo).
#include <fmviz/vgg.hpp>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: threads WEIGHTS IMAGE EXPECTED_THREADS\n";
    return 2;
  }
  const int expected = std::atoi(argv[3]);
#if defined(_OPENMP)
  const char* openmp = "yes";
#else
  const char* openmp = "no";
#endif
  const int threads = fmviz::thread_count();
  std::cout << "openmp: " << openmp << ", threads: " << threads << "\n";
  if (threads != expected) {
    std::cerr << "fmviz::thread_count() is " << threads << ", expected " << expected << "\n";
    return 1;
  }

  fmviz::LoadOptions options;
  options.last_layer = "conv1_2";
  const auto net = fmviz::load_vgg16<float>(argv[1], options);
  const auto x = fmviz::load_image<float>(argv[2]);
  fmviz::ActivationRecorder<float> recorder;
  net.forward(x, recorder);
  if (recorder.size() != 2) {
    std::cerr << "recorded " << recorder.size() << " layers, expected conv1_1 and conv1_2\n";
    return 1;
  }
  for (const std::string& name : recorder.names()) {
    const auto& t = recorder.at(name);
    double largest = 0;
    for (const float v : t) {
      if (!std::isfinite(v)) {
        std::cerr << name << ": a value is not finite\n";
        return 1;
      }
      largest = std::fmax(largest, std::fabs(v));
    }
    std::cout << name << ": " << t.size() << " values, largest |value| " << largest << "\n";
    if (t.size() != 64u * 224u * 224u || largest == 0) {
      std::cerr << name << ": wrong size or all zero\n";
      return 1;
    }
  }
  return 0;
}
