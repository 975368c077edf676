// What a gradient costs: VGG16 with its classifier on one 1x3x224x224 input, a plain forward against a traced
// forward against the three class activation maps at conv5_3 (a forward that keeps only conv5_3 on, and one
// backward), a traced forward that keeps every layer, and the backward of one logit to relu5_3 and to the input
// (saliency). Medians of R interleaved runs after a warm-up; the ratios are the figures to watch (a Grad-CAM at
// most 1.5x a forward).
#include <fmviz/fmviz.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

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
    // The forward and each gradient job alternate, run by run, so that the machine's drift hits both alike.
    const auto trace = net.trace(x);
    fmviz::CamOptions cam;  // conv5_3 after its ReLU, the three methods: one cheap trace and one backward
    std::vector<std::function<void()>> jobs = {
        [&] { (void)net.forward(x); },
        [&] { (void)fmviz::class_activation_maps(net, x, cam); },
        [&] { (void)net.trace(x); },
        [&] { (void)net.backward(trace, "fc8", one_hot, "relu5_3"); },
        [&] { (void)net.backward(trace, "fc8", one_hot); },
    };
    std::vector<std::vector<double>> times(jobs.size());
    for (auto& job : jobs) job();  // warm-up: first-touch memory, the backward's transposed layers built
    for (int r = 0; r < runs; ++r)
      for (std::size_t j = 0; j < jobs.size(); ++j) {
        const auto t0 = std::chrono::steady_clock::now();
        jobs[j]();
        times[j].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    std::vector<double> m;
    for (auto& t : times) {
      std::sort(t.begin(), t.end());
      m.push_back(t[t.size() / 2]);
    }
    const double forward = m[0], grad_cam = m[1], traced = m[2], to_relu5_3 = m[3], to_input = m[4];
    std::printf("VGG16 with classifier, 1x3x224x224, %d threads, medians of %d interleaved runs:\n", fmviz::thread_count(), runs);
    std::printf("  forward                                  %.4f s\n", forward);
    std::printf("  Grad-CAM, Grad-CAM++, LayerCAM at conv5_3 %.4f s  (%.2fx the forward; target at most 1.5x)\n", grad_cam, grad_cam / forward);
    std::printf("  traced forward, every layer kept         %.4f s  (%.2fx the forward)\n", traced, traced / forward);
    std::printf("  backward fc8 -> relu5_3                  %.4f s\n", to_relu5_3);
    std::printf("  backward fc8 -> input                    %.4f s  (%.2fx the forward)\n", to_input, to_input / forward);
    std::printf("  saliency (full trace + to input)         %.4f s  (%.2fx the forward)\n", traced + to_input, (traced + to_input) / forward);
  } catch (const fmviz::Error& e) {
    std::fprintf(stderr, "fmviz_backward_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
