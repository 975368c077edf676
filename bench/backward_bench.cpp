// What a gradient costs: VGG16 with its classifier on one 1x3x224x224 input, a plain forward against a traced
// forward plus the backward of one logit to conv5_3 (what Grad-CAM needs) and to the input (saliency).
// Medians of R runs after a warm-up; the ratios are the figures to watch (issue: a Grad-CAM at most 1.5x a forward).
#include <fmviz/fmviz.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

double median_seconds(int runs, const std::function<void()>& f) {
  f();  // warm-up: first-touch memory, the backward's transposed layers built
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fmviz_backward_bench FULL_WEIGHTS [RUNS=5] [THREADS=all]\n"
                         "FULL_WEIGHTS: VGG16 with its classifier, e.g. tools/export_vgg16.py --seed 0 -o vgg16_full.bin\n");
    return 2;
  }
  try {
    const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    if (argc > 3) fmviz::set_thread_count(std::atoi(argv[3]));
    const auto net = fmviz::load_vgg16<float>(argv[1]);
    if (!net.has_classifier()) throw fmviz::Error(argv[1], "classifier", "this benchmark needs the whole VGG16 (fc6 ... fc8)");
    fmviz::Tensor<float> x({1, 3, 224, 224});
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 1000) / 500.f - 1.f;
    fmviz::Tensor<float> one_hot = fmviz::Tensor<float>::zeros({1, 1000});
    one_hot[0] = 1;
    const double forward = median_seconds(runs, [&] { (void)net.forward(x); });
    const double traced = median_seconds(runs, [&] { (void)net.trace(x); });
    const auto trace = net.trace(x);
    const double to_conv5_3 = median_seconds(runs, [&] { (void)net.backward(trace, "fc8", one_hot, "conv5_3"); });
    const double to_input = median_seconds(runs, [&] { (void)net.backward(trace, "fc8", one_hot); });
    std::printf("VGG16 with classifier, %d threads, medians of %d runs:\n", fmviz::thread_count(), runs);
    std::printf("  forward                         %.4f s\n", forward);
    std::printf("  traced forward                  %.4f s  (%.2fx the forward)\n", traced, traced / forward);
    std::printf("  backward fc8 -> conv5_3         %.4f s\n", to_conv5_3);
    std::printf("  Grad-CAM (trace + to conv5_3)   %.4f s  (%.2fx the forward)\n", traced + to_conv5_3, (traced + to_conv5_3) / forward);
    std::printf("  backward fc8 -> input           %.4f s  (%.2fx the forward)\n", to_input, to_input / forward);
    std::printf("  saliency (trace + to input)     %.4f s  (%.2fx the forward)\n", traced + to_input, (traced + to_input) / forward);
  } catch (const fmviz::Error& e) {
    std::fprintf(stderr, "fmviz_backward_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
