// Class activation maps and saliency: Grad-CAM, Grad-CAM++, LayerCAM and guided backpropagation against a
// PyTorch reference (pytorch-grad-cam's formulas on autograd's activations and gradients, written by
// tools/fixtures/make_reference.py), SmoothGrad's determinism, the cheap trace, and bad requests.
#include <fmviz/fmviz.hpp>
#include <nlohmann/json.hpp>

#include "conv_reference.hpp"
#include "reference_trace.hpp"
#include "test_support.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using fmviz::Shape;
using fmviz::Tensor;
using fmviz_test::contains;
using fmviz_test::error_of;

namespace {

Tensor<float> random_tensor(Shape shape, std::uint32_t seed, double scale = 1.0) {
  Tensor<float> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-scale, scale);
  for (float& v : t) v = static_cast<float>(dist(rng));
  return t;
}

// A small classifier: conv, ReLU, conv, ReLU, max-pool, flatten, linear (7 classes).
fmviz::Network<float> small_classifier() {
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("conv1_1", fmviz::Conv2d<float>(random_tensor({6, 3, 3, 3}, 1, 0.5), random_tensor({6}, 2, 0.1), 1, 1));
  layers.emplace_back("relu1_1", fmviz::ReLU{});
  layers.emplace_back("conv1_2", fmviz::Conv2d<float>(random_tensor({8, 6, 3, 3}, 3, 0.4), random_tensor({8}, 4, 0.1), 1, 1));
  layers.emplace_back("relu1_2", fmviz::ReLU{});
  layers.emplace_back("pool1", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("flatten", fmviz::Flatten{});
  layers.emplace_back("fc8", fmviz::Linear<float>(random_tensor({7, 8 * 6 * 6}, 5, 0.2), random_tensor({7}, 6, 0.1)));
  return fmviz::Network<float>(std::move(layers));
}

double max_abs(const Tensor<float>& t) {
  double m = 0;
  for (float v : t) m = std::max(m, std::abs(double(v)));
  return m;
}

// max |a - b| / max |b|.
double relative_error(const Tensor<float>& a, const Tensor<float>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  const double m = max_abs(b);
  return m > 0 ? d / m : d;
}

bool same_bits(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

TEST_CASE("cam: Grad-CAM, Grad-CAM++ and LayerCAM match pytorch-grad-cam's formulas on autograd", "[cam][reference][full-scale]") {
  const std::string dir = FMVIZ_TEST_DATA_DIR "/reference";
  std::ifstream in(dir + "/manifest.json");
  REQUIRE(in);
  const auto manifest = nlohmann::json::parse(in);
  if (!manifest.contains("explanations")) FAIL("the reference fixture has no explanations: regenerate it (ctest -R fixtures_reference)");
  const auto& ex = manifest.at("explanations");
  const auto net = fmviz::load_vgg16<float>(dir + "/" + ex.at("weights").get<std::string>());
  const bool verbose = std::getenv("FMVIZ_TEST_VERBOSE") != nullptr;
  // PyTorch's own conv outputs in the trace (reference_trace.hpp says why).
  const fmviz::ForwardTrace<float> trace = fmviz_test::pytorch_trace(net, dir, ex.at("input").get<std::string>());
  std::size_t checked = 0;
  for (const auto& c : ex.at("cams")) {
    fmviz::CamOptions o;
    o.layer = c.at("layer").get<std::string>();
    o.tap = fmviz::parse_tap(c.at("tap").get<std::string>());
    o.class_index = c.at("class").get<std::size_t>();
    o.methods = {fmviz::parse_cam_method(c.at("method").get<std::string>())};
    const auto maps = fmviz::class_activation_maps(net, trace, o);
    REQUIRE(maps.size() == 1);
    REQUIRE(maps[0].size() == 1);
    const auto& m = maps[0][0];
    CHECK(m.target.index == *o.class_index);
    const auto ref = fmviz::read_npy<float>(dir + "/" + c.at("map").get<std::string>());
    REQUIRE(ref.size() == m.map.size());
    CHECK(max_abs(ref) > 0);
    const double err = relative_error(m.map, ref);
    const auto heat = fmviz::cam_heatmap(m, 224, 224);
    const auto ref_heat = fmviz::read_npy<float>(dir + "/" + c.at("heatmap").get<std::string>());
    const double heat_err = relative_error(heat, ref_heat);
    if (verbose)
      std::printf("%-9s %s %-4s class %3zu: map %.2e, heatmap %.2e\n", to_string(o.methods[0]), o.layer.c_str(), to_string(o.tap),
                  *o.class_index, err, heat_err);
    INFO(to_string(o.methods[0]) << " at " << o.layer << " (" << to_string(o.tap) << "), class " << *o.class_index);
    CHECK(err <= 1e-4);
    CHECK(heat_err <= 1e-4);
    ++checked;
  }
  CHECK(checked == 9);
  // Guided backpropagation's input gradient.
  for (const auto& item : ex.at("guided").items()) {
    fmviz::SaliencyOptions o;
    o.class_index = std::stoul(item.key());
    o.methods = {fmviz::SaliencyMethod::guided};
    const auto s = fmviz::saliency_maps(net, trace, o);
    const auto ref = fmviz::read_npy<float>(dir + "/" + item.value().get<std::string>());
    const double err = relative_error(s[0][0].gradient, ref);
    if (verbose) std::printf("guided backpropagation, class %s: %.2e\n", item.key().c_str(), err);
    CHECK(max_abs(ref) > 0);
    CHECK(err <= 1e-4);
  }
  // The plain saliency gradient is the input gradient test_backward.cpp checks against autograd.
  const auto& grads = manifest.at("gradients");
  fmviz::SaliencyOptions o;
  o.methods = {fmviz::SaliencyMethod::vanilla};
  const auto s = fmviz::saliency_maps(net, trace, o);
  CHECK(s[0][0].target.index == grads.at("top").get<std::size_t>());
  const std::string top_dir = grads.at("classes").at(std::to_string(s[0][0].target.index)).at("dir").get<std::string>();
  const auto ref = fmviz::read_npy<float>(dir + "/" + top_dir + "/input.npy");
  CHECK(relative_error(s[0][0].gradient, ref) <= 1e-4);
}

TEST_CASE("cam: the maps' formulas on a small network, by hand", "[cam]") {
  const auto net = small_classifier();
  const auto trace = net.trace(random_tensor({1, 3, 12, 12}, 7));
  fmviz::CamOptions o;
  o.layer = "conv1_2";
  const auto maps = fmviz::class_activation_maps(net, trace, o)[0];
  REQUIRE(maps.size() == 3);
  // The gradient at relu1_2 for the top class, and the formulas written out once more.
  const auto& logits = trace.outputs.back();
  std::size_t top = 0;
  for (std::size_t i = 1; i < 7; ++i)
    if (logits[i] > logits[top]) top = i;
  Tensor<float> seed = Tensor<float>::zeros({1, 7});
  seed[top] = 1;
  const auto g = net.backward(trace, "fc8", seed, "relu1_2");
  const auto& a = trace.outputs[3];
  const std::size_t plane = 144;
  std::vector<double> grad_cam(plane, 0), layer_cam(plane, 0);
  for (std::size_t k = 0; k < 8; ++k) {
    double w = 0;
    for (std::size_t i = 0; i < plane; ++i) w += g[k * plane + i] / double(plane);
    for (std::size_t i = 0; i < plane; ++i) {
      grad_cam[i] += w * a[k * plane + i];
      layer_cam[i] += std::max(0.0, double(g[k * plane + i])) * a[k * plane + i];
    }
  }
  std::size_t positive = 0;
  for (std::size_t i = 0; i < plane; ++i) {
    CHECK(maps[0].map[i] == Approx(std::max(0.0, grad_cam[i])).margin(1e-6));
    CHECK(maps[2].map[i] == Approx(std::max(0.0, layer_cam[i])).margin(1e-6));
    positive += maps[0].map[i] > 0;
  }
  CHECK(positive > 0);
  CHECK(maps[0].target.index == top);
  CHECK(maps[1].channel_weights.size() == 8);
  CHECK(maps[2].channel_weights.empty());
}

TEST_CASE("cam: the cheap trace gives the same maps as the full one, bit for bit, and images do not mix", "[cam]") {
  const auto net = small_classifier();
  const auto x = random_tensor({2, 3, 12, 12}, 8);
  fmviz::CamOptions o;
  o.layer = "conv1_2";
  for (fmviz::Tap tap : {fmviz::Tap::relu, fmviz::Tap::conv}) {
    o.tap = tap;
    const auto cheap = fmviz::class_activation_maps(net, x, o);
    const auto full = fmviz::class_activation_maps(net, net.trace(x), o);
    const auto alone = fmviz::class_activation_maps(net, fmviz::batch_item(x, 1), o);
    REQUIRE(cheap.size() == 2);
    for (std::size_t m = 0; m < 3; ++m) {
      for (std::size_t k = 0; k < 2; ++k) CHECK(same_bits(cheap[k][m].map, full[k][m].map));
      CHECK(fmviz_test::max_rel_diff(alone[0][m].map, cheap[1][m].map) < 1e-5);
    }
  }
}

TEST_CASE("saliency: SmoothGrad is deterministic for a seed; no noise gives the plain gradient", "[saliency]") {
  const auto net = small_classifier();
  const auto x = random_tensor({1, 3, 12, 12}, 9);
  fmviz::SaliencyOptions o;
  o.methods = {fmviz::SaliencyMethod::smoothgrad, fmviz::SaliencyMethod::vanilla};
  o.samples = 6;
  const auto a = fmviz::saliency_maps(net, x, o)[0];
  const auto b = fmviz::saliency_maps(net, x, o)[0];
  CHECK(same_bits(a[0].gradient, b[0].gradient));
  o.seed = 1;
  const auto c = fmviz::saliency_maps(net, x, o)[0];
  CHECK_FALSE(same_bits(a[0].gradient, c[0].gradient));
  CHECK(fmviz_test::max_rel_diff(a[0].gradient, a[1].gradient) > 1e-3);  // the noise changed something
  o.noise = 0;
  const auto d = fmviz::saliency_maps(net, x, o)[0];
  CHECK(fmviz_test::max_rel_diff(d[0].gradient, d[1].gradient) < 1e-6);
  // The map is the largest |gradient| over the colours.
  for (std::size_t i = 0; i < 144; ++i)
    CHECK(d[1].map[i] == std::max({std::abs(d[1].gradient[i]), std::abs(d[1].gradient[144 + i]), std::abs(d[1].gradient[288 + i])}));
  // Pictures: grey for the gradient, colour for guided backpropagation.
  CHECK(fmviz::saliency_picture(d[1]).channels == 1);
  o.methods = {fmviz::SaliencyMethod::guided};
  CHECK(fmviz::saliency_picture(fmviz::saliency_maps(net, x, o)[0][0]).channels == 3);
}

TEST_CASE("cam and saliency: bad requests name the option at fault", "[cam][saliency]") {
  const auto net = small_classifier();
  const auto x = random_tensor({1, 3, 12, 12}, 10);
  fmviz::CamOptions o;
  o.layer = "conv1_2";
  o.class_index = 7;
  auto e = error_of([&] { fmviz::class_activation_maps(net, x, o); });
  REQUIRE(e);
  CHECK(e->field() == "class");
  CHECK_THAT(e->what(), contains("classes 0-6"));
  o.class_index.reset();
  o.layer = "relu1_2";
  e = error_of([&] { fmviz::class_activation_maps(net, x, o); });
  REQUIRE(e);
  CHECK(e->field() == "cam-layer");
  CHECK_THAT(e->what(), contains("not a conv layer"));
  o.layer = "conv9_9";
  e = error_of([&] { fmviz::class_activation_maps(net, x, o); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("conv1_1,conv1_2"));
  o.layer = "conv1_2";
  o.methods.clear();
  CHECK(error_of([&] { fmviz::class_activation_maps(net, x, o); }));
  CHECK(error_of([] { fmviz::parse_cam_method("gradcam+"); })->field() == "cam-method");
  CHECK(fmviz::parse_cam_method("gradcam++") == fmviz::CamMethod::grad_cam_plus_plus);
  // A network without its classifier.
  std::vector<fmviz::Layer<float>> convs;
  convs.emplace_back("conv1_1", fmviz::Conv2d<float>(random_tensor({6, 3, 3, 3}, 1), random_tensor({6}, 2), 1, 1));
  convs.emplace_back("relu1_1", fmviz::ReLU{});
  const fmviz::Network<float> headless(std::move(convs));
  o = {};
  o.layer = "conv1_1";
  e = error_of([&] { fmviz::class_activation_maps(headless, x, o); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("needs the classifier"));
  fmviz::SaliencyOptions s;
  s.samples = 0;
  e = error_of([&] { fmviz::saliency_maps(net, x, s); });
  REQUIRE(e);
  CHECK(e->field() == "samples");
  s.samples = 4;
  s.noise = -1;
  CHECK(error_of([&] { fmviz::saliency_maps(net, x, s); })->field() == "noise");
  CHECK(error_of([&] { fmviz::saliency_maps(headless, x, fmviz::SaliencyOptions{}); }));
  // A trace that did not keep what saliency needs.
  CHECK(error_of([&] { fmviz::saliency_maps(net, net.trace(x, "", "pool1"), fmviz::SaliencyOptions{}); })->field() == "trace");
}
