// Feature visualisation (explain/feature_vis.hpp): the pieces' adjoints are exact (dot-product tests), the Fourier image
// is numpy's inverse real DFT, the whole parameters-to-input gradient agrees with finite differences, results are the
// same bits for the same seed, the objective climbs, ends far above what real photos give, and bad requests are
// refused naming the option. Small sizes and few steps: these also run under the sanitizers.
#include <fmviz/explain/feature_vis.hpp>
#include <fmviz/image.hpp>
#include <fmviz/recorder.hpp>
#include <fmviz/vgg_loader.hpp>

#include <nlohmann/json.hpp>

#include "conv_reference.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using fmviz::Tensor;
using fmviz_test::error_of;
using fmviz_test::ThreadCount;

namespace {

/// Values in [-1, 1) from our own generator (no std distribution: the same on every standard library).
template <typename T>
std::vector<T> noise(std::size_t n, std::uint64_t seed) {
  fmviz::detail::Random r(seed);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(2 * r.uniform() - 1);
  return v;
}

template <typename T>
double dot(const std::vector<T>& a, const std::vector<T>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

template <typename T>
double norm(const std::vector<T>& a) {
  return std::sqrt(dot(a, a));
}

Tensor<float> random_tensor(fmviz::Shape shape, std::uint64_t seed, double scale) {
  Tensor<float> t(std::move(shape));
  const auto v = noise<float>(t.size(), seed);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(scale) * v[i];
  return t;
}

/// A small conv network with random weights: enough layers (conv, ReLU, max-pool) for the optimisation to mean something.
fmviz::Network<float> small_network() {
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("conv1", fmviz::Conv2d<float>(random_tensor({8, 3, 3, 3}, 1, 0.4), random_tensor({8}, 2, 0.1), 1, 1));
  layers.emplace_back("relu1", fmviz::ReLU{});
  layers.emplace_back("conv2", fmviz::Conv2d<float>(random_tensor({12, 8, 3, 3}, 3, 0.25), random_tensor({12}, 4, 0.1), 1, 1));
  layers.emplace_back("relu2", fmviz::ReLU{});
  layers.emplace_back("pool", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("conv3", fmviz::Conv2d<float>(random_tensor({16, 12, 3, 3}, 5, 0.2), random_tensor({16}, 6, 0.1), 1, 1));
  return fmviz::Network<float>(std::move(layers));
}

/// Mean of each run of `window` values, in order.
std::vector<double> window_means(const std::vector<double>& v, std::size_t window) {
  std::vector<double> means;
  for (std::size_t i = 0; i + window <= v.size(); i += window) {
    double s = 0;
    for (std::size_t j = i; j < i + window; ++j) s += v[j];
    means.push_back(s / static_cast<double>(window));
  }
  return means;
}

/// The history rises: each 16-step mean at least the previous one, less `slack` of the whole rise, and the last
/// value far above the first.
void check_climbs(const std::vector<double>& history, double slack = 0.1, bool last_step_too = true) {
  const auto means = window_means(history, 16);
  REQUIRE(means.size() >= 2);
  const double rise = means.back() - means.front();
  INFO("first " << history.front() << ", last " << history.back() << ", 16-step means from " << means.front() << " to " << means.back());
  CHECK(rise > 0);
  for (std::size_t i = 1; i < means.size(); ++i) {
    INFO("16-step mean " << i << ": " << means[i] << " after " << means[i - 1]);
    CHECK(means[i] >= means[i - 1] - slack * rise);
  }
  if (last_step_too) CHECK(history.back() - history.front() > 0.5 * rise);
  if (std::getenv("FMVIZ_TEST_VERBOSE")) {
    for (double m : means) std::printf(" %.3f", m);
    std::printf("  (first %.3f last %.3f)\n", history.front(), history.back());
  }
}

bool same_bits(const fmviz::ChannelVisualization& a, const fmviz::ChannelVisualization& b) {
  return a.image.pixels == b.image.pixels && a.activation_history == b.activation_history && a.final_activation == b.final_activation;
}

}  // namespace

// ---- the pieces ----------------------------------------------------------------------------------------------------

TEST_CASE("feature vis: the Fourier image is numpy's irfft2 of the scaled half spectrum and inverts a real image's DFT", "[feature_vis]") {
  for (const auto& hw : {std::pair<std::size_t, std::size_t>{8, 8}, {6, 9}, {7, 10}}) {
    const std::size_t H = hw.first, W = hw.second, K = W / 2 + 1;
    INFO(H << " x " << W);
    const fmviz::detail::FourierImage<double> f(H, W, 1.0);
    REQUIRE(f.parameter_count() == 2 * H * K);
    // A real image, its DFT by the definition, the half spectrum divided by Lucid's scale: to_image gives the image back.
    const auto image = noise<double>(H * W, 7);
    std::vector<double> params(f.parameter_count());
    const double pi = 3.14159265358979323846;
    for (std::size_t ky = 0; ky < H; ++ky)
      for (std::size_t kx = 0; kx < K; ++kx) {
        std::complex<double> X = 0;
        for (std::size_t y = 0; y < H; ++y)
          for (std::size_t x = 0; x < W; ++x)
            X += image[y * W + x] * std::polar(1.0, -2 * pi * (double(ky * y) / double(H) + double(kx * x) / double(W)));
        const double fy = (2 * ky < H ? double(ky) : double(ky) - double(H)) / double(H), fx = double(kx) / double(W);
        const double scale = std::sqrt(double(H * W)) / 4 / std::max(std::hypot(fx, fy), 1.0 / double(std::max(H, W)));
        params[ky * K + kx] = X.real() / scale;
        params[H * K + ky * K + kx] = X.imag() / scale;
      }
    std::vector<double> back(H * W);
    f.to_image(params.data(), back.data());
    double worst = 0;
    for (std::size_t i = 0; i < back.size(); ++i) worst = std::max(worst, std::abs(back[i] - image[i]));
    CHECK(worst < 1e-12);
  }
}

TEST_CASE("feature vis: the Fourier image's adjoint is exact (dot-product test)", "[feature_vis]") {
  for (const auto& hw : {std::pair<std::size_t, std::size_t>{16, 16}, {7, 10}, {12, 9}}) {
    INFO(hw.first << " x " << hw.second);
    const fmviz::detail::FourierImage<double> fd(hw.first, hw.second);
    const auto p = noise<double>(fd.parameter_count(), 1), y = noise<double>(hw.first * hw.second, 2);
    std::vector<double> ap(y.size()), aty(p.size());
    fd.to_image(p.data(), ap.data());
    fd.adjoint(y.data(), aty.data());
    CHECK(std::abs(dot(ap, y) - dot(p, aty)) <= 1e-12 * norm(ap) * norm(y) + 1e-12 * norm(p) * norm(aty));
    // float: the same within float rounding
    const fmviz::detail::FourierImage<float> ff(hw.first, hw.second);
    const auto pf = noise<float>(ff.parameter_count(), 3), yf = noise<float>(hw.first * hw.second, 4);
    std::vector<float> apf(yf.size()), atyf(pf.size());
    ff.to_image(pf.data(), apf.data());
    ff.adjoint(yf.data(), atyf.data());
    CHECK(std::abs(dot(apf, yf) - dot(pf, atyf)) <= 1e-5 * norm(apf) * norm(yf));
  }
}

TEST_CASE("feature vis: the random warp's adjoint is exact, and without scale or rotation it is a shift with grey around", "[feature_vis]") {
  fmviz::detail::Random random(42);
  for (int trial = 0; trial < 20; ++trial) {
    const std::size_t size = trial % 2 ? 17 : 24;
    const fmviz::detail::AffineWarp w = fmviz::detail::transform_warp(fmviz::detail::draw_transform(random), size);
    REQUIRE(w.out_h == size + 12);
    const auto x = noise<double>(size * size, 10 + trial), y = noise<double>(w.out_h * w.out_w, 50 + trial);
    std::vector<double> ax(y.size()), aty(x.size());
    w.apply(x.data(), ax.data(), 0.0);  // the linear part: fill 0
    w.adjoint(y.data(), aty.data());
    INFO("trial " << trial);
    CHECK(std::abs(dot(ax, y) - dot(x, aty)) <= 1e-12 * norm(ax) * norm(y));
  }
  fmviz::detail::TransformDraw d;
  d.jitter1_x = 3, d.jitter1_y = 8, d.jitter2_x = 4, d.jitter2_y = 0;
  const std::size_t size = 10;
  const auto w = fmviz::detail::transform_warp(d, size);
  const auto x = noise<float>(size * size, 5);
  std::vector<float> out(w.out_h * w.out_w);
  w.apply(x.data(), out.data(), 0.5f);
  // Output (i, j) is padded image (i + jitter2 + jitter1): source (i + 8 - 12, j + 7 - 12).
  for (std::size_t i = 0; i < w.out_h; ++i)
    for (std::size_t j = 0; j < w.out_w; ++j) {
      const long sy = long(i) + 8 - 12, sx = long(j) + 7 - 12;
      const bool inside = sy >= 0 && sx >= 0 && sy < long(size) && sx < long(size);
      const float expected = inside ? x[std::size_t(sy) * size + std::size_t(sx)] : 0.5f;
      CHECK(std::abs(out[i * w.out_w + j] - expected) < 1e-6f);
    }
}

TEST_CASE("feature vis: the gradient from the network input back to the parameters agrees with finite differences", "[feature_vis]") {
  for (const fmviz::Preset preset : {fmviz::Preset::torchvision, fmviz::Preset::caffe}) {
    const std::size_t size = 12;
    const fmviz::detail::FeatureInput<double> input(size, preset, true, 1.0);
    fmviz::detail::Random random(3);
    fmviz::detail::TransformDraw d = fmviz::detail::draw_transform(random);
    d.scale = 1.06, d.degrees = 7;  // a real rotation and scale, whatever the draw
    const auto warp = fmviz::detail::transform_warp(d, size);
    std::vector<double> params(input.spectral.parameter_count());
    input.spectral.initialise(params.data(), random, 0.3);  // far from grey: the sigmoid is not linear here
    const auto weights = noise<double>(3 * input.side_pixels(), 9);
    std::vector<double> rgb(3 * input.pixels()), x(3 * input.side_pixels());
    auto loss = [&](const std::vector<double>& p) {
      input.forward(p.data(), warp, rgb.data(), x.data());
      return dot(x, weights);
    };
    loss(params);
    std::vector<double> grad_x = weights, grad(params.size());
    input.backward(rgb.data(), warp, grad_x.data(), grad.data());
    double worst = 0, largest = 0;
    const double eps = 1e-6;
    for (std::size_t i = 0; i < params.size(); i += 3) {
      std::vector<double> up = params, down = params;
      up[i] += eps, down[i] -= eps;
      const double numeric = (loss(up) - loss(down)) / (2 * eps);
      worst = std::max(worst, std::abs(numeric - grad[i]));
      largest = std::max(largest, std::abs(numeric));
    }
    INFO(fmviz::to_string(preset) << ": worst difference " << worst << ", largest " << largest);
    CHECK(largest > 0);
    CHECK(worst <= 1e-6 * largest);
  }
}

// ---- the optimisation ----------------------------------------------------------------------------------------------

TEST_CASE("feature vis: the same seed gives the same bits, another seed another image", "[feature_vis]") {
  const auto net = small_network();
  fmviz::FeatureVisOptions o;
  o.size = 16;
  o.steps = 12;
  o.seed = 5;
  const auto a = fmviz::visualize_channels(net, "conv3", {3, 7}, o);
  const auto b = fmviz::visualize_channels(net, "conv3", {3, 7}, o);
  REQUIRE(a.size() == 2);
  CHECK(a[0].image.width == 16);
  CHECK(a[0].image.pixels.size() == 16 * 16 * 3);
  CHECK(a[0].activation_history.size() == 12);
  CHECK(same_bits(a[0], b[0]));
  CHECK(same_bits(a[1], b[1]));
  CHECK_FALSE(same_bits(a[0], a[1]));
  o.seed = 6;
  const auto c = fmviz::visualize_channels(net, "conv3", {3, 7}, o);
  CHECK(c[0].image.pixels != a[0].image.pixels);
  CHECK(c[0].activation_history != a[0].activation_history);
  // Image n draws from its own streams: channel 3 first in a batch of two is channel 3 alone (up to the batch's rounding).
  o.seed = 5;
  const auto alone = fmviz::visualize_channels(net, "conv3", {3}, o);
  double worst = 0;
  for (std::size_t i = 0; i < alone[0].image.pixels.size(); ++i)
    worst = std::max(worst, double(std::abs(alone[0].image.pixels[i] - a[0].image.pixels[i])));
  CHECK(worst < 1e-4);
}

TEST_CASE("feature vis: one thread or two give the same bits", "[feature_vis]") {
  const auto net = small_network();
  fmviz::FeatureVisOptions o;
  o.size = 16;
  o.steps = 6;
  std::vector<fmviz::ChannelVisualization> one, two;
  {
    ThreadCount t(1);
    one = fmviz::visualize_channels(net, "conv3", {1, 2, 4}, o);
  }
  {
    ThreadCount t(2);
    two = fmviz::visualize_channels(net, "conv3", {1, 2, 4}, o);
  }
  for (std::size_t n = 0; n < one.size(); ++n) CHECK(same_bits(one[n], two[n]));
}

TEST_CASE("feature vis: on a small network each channel's objective climbs, before and after ReLU, channel and neuron", "[feature_vis]") {
  const auto net = small_network();
  fmviz::FeatureVisOptions o;
  o.size = 32;
  o.steps = 96;
  std::size_t steps_seen = 0;
  const auto v = fmviz::visualize_channels(net, "conv3", {0, 5, 11}, o, [&](const fmviz::FeatureVisStep& s) {
    CHECK(s.step == ++steps_seen);
    CHECK(s.objectives.size() == 3);
  });
  CHECK(steps_seen == 96);
  for (const auto& r : v) {
    INFO("channel " << r.channel);
    CHECK(r.layer == "conv3");
    check_climbs(r.activation_history);
    CHECK(r.final_activation > r.activation_history.front());
    CHECK(std::all_of(r.image.pixels.begin(), r.image.pixels.end(), [](float p) { return p >= 0.0f && p <= 1.0f; }));
  }
  o.tap = fmviz::Tap::relu;
  check_climbs(fmviz::visualize_channels(net, "conv2", {4}, o).front().activation_history);
  o.tap = fmviz::Tap::conv;
  o.objective = fmviz::FeatureObjective::neuron;
  const auto neuron = fmviz::visualize_channels(net, "conv3", {2}, o).front();
  check_climbs(neuron.activation_history, 0.15, false);  // the centre moves with the jitter: single steps are noisy
  const auto means = window_means(neuron.activation_history, 16);
  CHECK(neuron.final_activation > neuron.activation_history.front() + 0.5 * (means.back() - means.front()));
  const auto layer = fmviz::visualize_layer(net, "conv2", o);
  CHECK(layer.channel == -1);
  check_climbs(layer.activation_history);
}

TEST_CASE("feature vis: bad requests are refused before any work, naming the option", "[feature_vis]") {
  const auto net = small_network();
  fmviz::FeatureVisOptions o;
  o.size = 16;
  o.steps = 4;
  bool worked = false;
  const fmviz::FeatureVisObserver observer = [&](const fmviz::FeatureVisStep&) { worked = true; };
  auto field_of = [&](const std::vector<int>& channels, const fmviz::FeatureVisOptions& options, const std::string& layer = "conv3") {
    const auto e = error_of([&] { fmviz::visualize_channels(net, layer, channels, options, observer); });
    REQUIRE(e);
    INFO(e->what());
    CHECK(std::string(e->what()).find(e->field()) == 0);
    return e->field();
  };
  CHECK(field_of({0}, o, "conv9") == "layer");
  CHECK(field_of({0}, o, "pool") == "layer");
  CHECK(field_of({16}, o) == "channels");
  CHECK(field_of({-1}, o) == "channels");
  CHECK(field_of({}, o) == "channels");
  auto bad = o;
  bad.size = 4;
  CHECK(field_of({0}, bad) == "size");
  bad.size = 4096;
  CHECK(field_of({0}, bad) == "size");
  bad = o;
  bad.steps = 0;
  CHECK(field_of({0}, bad) == "steps");
  bad = o;
  bad.learning_rate = 0;
  CHECK(field_of({0}, bad) == "learning_rate");
  bad.learning_rate = std::nan("");
  CHECK(field_of({0}, bad) == "learning_rate");
  bad = o;
  bad.tap = fmviz::Tap::relu;
  CHECK(field_of({0}, bad) == "tap");  // conv3 is the last layer: no ReLU after it
  const auto e = error_of([&] { fmviz::visualize_channels(net, "conv3", {99}, o); });
  REQUIRE(e);
  CHECK_THAT(e->what(), fmviz_test::contains("channel 99 is out of range: conv3 has channels 0-15"));
  CHECK_FALSE(worked);
}

// ---- real weights, real photos -------------------------------------------------------------------------------------

namespace {

const std::string reference_dir = FMVIZ_TEST_DATA_DIR "/reference";

nlohmann::json reference_manifest() {
  std::ifstream in(reference_dir + "/manifest.json");
  if (!in) FAIL("missing " << reference_dir << "/manifest.json: generate the fixture with `ctest -R fixtures_reference`");
  return nlohmann::json::parse(in);
}

/// The photos of the reference fixture: Grace Hopper (matplotlib's sample data) and Chelsea the cat (skimage's), 224 x 224.
std::vector<std::string> photos() {
  return {reference_dir + "/grace_hopper.png", reference_dir + "/chelsea224.jpg", reference_dir + "/grace_hopper224.jpg"};
}

/// The mean of each channel in `channels` of `layer` (before ReLU) on each photo: the largest over the photos.
std::vector<double> best_on_photos(const fmviz::Network<float>& net, const std::string& layer, const std::vector<int>& channels,
                                   fmviz::Preset preset) {
  std::vector<double> best(channels.size(), -1e300);
  fmviz::ImageOptions io;
  io.preset = preset;
  for (const std::string& photo : photos()) {
    fmviz::ActivationRecorder<float> rec(fmviz::Tap::conv, {layer});
    net.forward(fmviz::load_image<float>(photo, io), rec, layer);
    const Tensor<float>& a = rec.at(layer);
    for (std::size_t k = 0; k < channels.size(); ++k) {
      const std::size_t plane = a.dim(2) * a.dim(3);
      double s = 0;
      for (std::size_t i = 0; i < plane; ++i) s += a.channel(0, std::size_t(channels[k]))[i];
      best[k] = std::max(best[k], s / double(plane));
    }
  }
  return best;
}

/// Visualises `channels` of `layer` and checks that each objective climbed and ended far above its best photo.
void check_against_photos(const fmviz::Network<float>& net, const std::string& layer, const std::vector<int>& channels,
                          fmviz::Preset preset) {
  fmviz::FeatureVisOptions o;
  o.size = 32;
  o.steps = 48;
  o.preset = preset;
  const auto v = fmviz::visualize_channels(net, layer, channels, o);
  const auto photo = best_on_photos(net, layer, channels, preset);
  for (std::size_t k = 0; k < v.size(); ++k) {
    INFO(layer << " channel " << channels[k] << ": first step " << v[k].activation_history.front() << ", last "
                << v[k].activation_history.back() << ", final image " << v[k].final_activation << ", best photo " << photo[k]);
    if (std::getenv("FMVIZ_TEST_VERBOSE"))
      std::printf("%s channel %d: first %.4g last %.4g final %.4g best photo %.4g\n", layer.c_str(), channels[k],
                  v[k].activation_history.front(), v[k].activation_history.back(), v[k].final_activation, photo[k]);
    check_climbs(v[k].activation_history, 0.1);
    CHECK(v[k].final_activation > 2 * std::abs(photo[k]));
  }
}

}  // namespace

TEST_CASE("feature vis: VGG16 (Oxford weights) channels climb far above their best real photo", "[feature_vis][reference][oxford][full-scale]") {
  const auto m = reference_manifest();
  if (m.at("oxford").is_null() || !std::filesystem::is_regular_file(m.at("oxford").at("weights").get<std::string>())) {
    WARN("skipped: Oxford VGG16 weights not available");
    return;
  }
  fmviz::LoadOptions load;
  load.last_layer = "conv2_1";
  const auto net = fmviz::load_vgg16<float>(m.at("oxford").at("weights").get<std::string>(), load);
  check_against_photos(net, "conv2_1", {3, 40}, fmviz::Preset::caffe);
}
