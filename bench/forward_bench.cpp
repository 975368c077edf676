// Times VGG16's conv stack (features) on one 1x3x224x224 input: load once, then N timed forwards.
// Prints one line per run and the median, for comparison with bench/torch_forward.py in the same session.
#include <fmviz/vgg.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fmviz_forward_bench WEIGHTS [RUNS=5] [THREADS=all]\n");
    return 2;
  }
  try {
    const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    if (argc > 3) fmviz::set_thread_count(std::atoi(argv[3]));
    fmviz::LoadOptions options;
    options.last_layer = "pool5";
    const auto net = fmviz::load_vgg16<float>(argv[1], options);
    fmviz::Tensor<float> x({1, 3, 224, 224});
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 1000) / 500.f - 1.f;
    std::vector<double> times;
    float checksum = 0;
    for (int r = 0; r < runs; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto y = net.forward(x);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      checksum += y[0];
      std::printf("run %d: %.4f s\n", r + 1, times.back());
    }
    std::sort(times.begin(), times.end());
    std::printf("fmviz features forward, %d threads: median %.4f s (checksum %g)\n", fmviz::thread_count(),
                times[times.size() / 2], static_cast<double>(checksum));
  } catch (const fmviz::Error& e) {
    std::fprintf(stderr, "fmviz_forward_bench: %s\n", e.what());
    return 1;
  }
}
