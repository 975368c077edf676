// What a feature-visualisation step costs: one step of visualize_channels (batch N at size S, objective at LAYER) against
// a plain Network::forward of the same depth on the same batch shape (N x 3 x (S+12) x (S+12): what the step's network
// sees), in the same run. The step is timed from the optimiser's own progress reports (median interval); its parts
// (traced forward, backward to the input, the image's parameterisation and warp both ways) are timed alone.
// Target: a step at most 3x the forward.
#include <fmviz/fmviz.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double median_seconds(int runs, const std::function<void()>& f) {
  f();  // warm-up: first-touch memory, the backward's transposed layers built
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    f();
    times.push_back(seconds_since(t0));
  }
  return median(times);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fmviz_feature_vis_bench WEIGHTS [LAYER=conv3_1] [BATCH=4] [SIZE=128] [RUNS=7] [THREADS=all]\n"
                         "WEIGHTS: VGG16, e.g. tools/export_vgg16.py --seed 0 --conv-only -o vgg16.bin\n");
    return 2;
  }
  try {
    const std::string layer = argc > 2 ? argv[2] : "conv3_1";
    const std::size_t batch = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 4;
    const std::size_t size = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 128;
    const int runs = argc > 5 ? std::max(1, std::atoi(argv[5])) : 7;
    if (argc > 6) fmviz::set_thread_count(std::atoi(argv[6]));
    fmviz::LoadOptions load;
    load.last_layer = layer;
    const auto net = fmviz::load_vgg16<float>(argv[1], load);
    fmviz::FeatureVisOptions options;
    options.size = size;
    options.steps = static_cast<std::size_t>(runs) + 1;  // the first step is the warm-up
    std::vector<int> channels;
    for (std::size_t n = 0; n < batch; ++n) channels.push_back(static_cast<int>(n));

    const std::size_t side = size + 12;
    fmviz::Tensor<float> x({batch, 3, side, side});
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 1000) / 500.f - 1.f;

    // Interleaved, so that a noisy neighbour slows both alike: forward, step, forward, step...
    std::vector<double> forward_times, step_times;
    for (int round = 0; round < 2; ++round) {
      forward_times.push_back(median_seconds(runs, [&] { (void)net.forward(x, layer); }));
      std::vector<double> intervals;
      auto last = Clock::now();
      fmviz::visualize_channels(net, layer, channels, options, [&](const fmviz::FeatureVisStep& s) {
        const auto now = Clock::now();
        if (s.step > 1) intervals.push_back(std::chrono::duration<double>(now - last).count());
        last = now;
      });
      step_times.push_back(median(intervals));
    }
    const double forward = std::min(forward_times[0], forward_times[1]), step = std::min(step_times[0], step_times[1]);

    // The parts of a step.
    const double traced = median_seconds(runs, [&] { (void)net.trace(x, layer); });
    const auto trace = net.trace(x, layer);
    const double back = median_seconds(runs, [&] {
      (void)net.backward(trace, layer, fmviz::Tensor<float>::zeros(trace.outputs[net.layer(layer).info.index].shape()));
    });
    const fmviz::detail::FeatureInput<float> input(size, options.preset, true, 1.0);
    std::vector<float> params(input.spectral.parameter_count(), 0.01f), rgb(3 * input.pixels()), grad(params.size());
    std::vector<float> in(3 * input.side_pixels());
    fmviz::detail::Random random(0);
    const auto warp = fmviz::detail::transform_warp(fmviz::detail::draw_transform(random), size);
    const double image = median_seconds(runs, [&] {
      for (std::size_t n = 0; n < batch; ++n) {
        input.forward(params.data(), warp, rgb.data(), in.data());
        input.backward(rgb.data(), warp, in.data(), grad.data());
      }
    });

    std::printf("feature visualisation step, VGG16 to %s, batch %zu, image %zux%zu (network input %zux%zu), %d threads, medians of %d:\n",
                layer.c_str(), batch, size, size, side, side, fmviz::thread_count(), runs);
    std::printf("  forward to %-8s              %.4f s\n", layer.c_str(), forward);
    std::printf("  one step                         %.4f s  (%.2fx the forward)\n", step, step / forward);
    std::printf("    traced forward                 %.4f s  (%.2fx)\n", traced, traced / forward);
    std::printf("    backward to the input          %.4f s  (%.2fx)\n", back, back / forward);
    std::printf("    image both ways, one thread    %.4f s  (%.2fx)\n", image, image / forward);
  } catch (const fmviz::Error& e) {
    std::fprintf(stderr, "fmviz_feature_vis_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
