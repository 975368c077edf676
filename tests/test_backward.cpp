// Backward passes: every layer's input gradient against finite differences (double), the Winograd and GEMM
// paths against each other, MaxPool's ties, and the whole of VGG16 against PyTorch autograd (float, a real
// photo, two classes, every layer's output and the input).
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
using fmviz_test::ThreadCount;

namespace {

template <typename T>
Tensor<T> random_values(Shape shape, std::uint32_t seed, double scale = 1.0) {
  Tensor<T> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-scale, scale);
  for (T& v : t) v = static_cast<T>(dist(rng));
  return t;
}

// Every layer kind: conv (stride 1, pad 1), ReLU, conv (stride 2: the col2im path), ReLU, max-pool, adaptive
// average pool to a larger size (overlapping windows), flatten, linear, dropout, linear.
fmviz::Network<double> every_kind() {
  std::vector<fmviz::Layer<double>> layers;
  layers.emplace_back("conv_a", fmviz::Conv2d<double>(random_values<double>({4, 3, 3, 3}, 1, 0.5), random_values<double>({4}, 2), 1, 1));
  layers.emplace_back("relu_a", fmviz::ReLU{});
  layers.emplace_back("conv_b", fmviz::Conv2d<double>(random_values<double>({5, 4, 3, 3}, 3, 0.5), random_values<double>({5}, 4), 2, 1));
  layers.emplace_back("relu_b", fmviz::ReLU{});
  layers.emplace_back("pool", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("avg", fmviz::AdaptiveAvgPool2d(3, 3));
  layers.emplace_back("flat", fmviz::Flatten{});
  layers.emplace_back("fc_a", fmviz::Linear<double>(random_values<double>({6, 45}, 5, 0.3), random_values<double>({6}, 6)));
  layers.emplace_back("drop", fmviz::Dropout{});
  layers.emplace_back("fc_b", fmviz::Linear<double>(random_values<double>({3, 6}, 7), random_values<double>({3}, 8)));
  return fmviz::Network<double>(std::move(layers));
}

double loss(const Tensor<double>& out, const Tensor<double>& weights) {
  double s = 0;
  for (std::size_t i = 0; i < out.size(); ++i) s += out[i] * weights[i];
  return s;
}

}  // namespace

TEST_CASE("backward: every layer kind agrees with finite differences", "[backward]") {
  const auto net = every_kind();
  const Tensor<double> x = random_values<double>({2, 3, 10, 10}, 9);
  const auto trace = net.trace(x);
  const Tensor<double> c = random_values<double>(trace.outputs.back().shape(), 10);
  for (const std::string& to : {std::string(), std::string("relu_a"), std::string("pool"), std::string("flat")}) {
    const Tensor<double> analytic = net.backward(trace, "fc_b", c, to);
    // d loss / d (output of `to`), by central differences on that tensor, running the rest of the network.
    std::size_t first = 0;
    if (!to.empty())
      for (std::size_t i = 0; i < net.layers().size(); ++i)
        if (net.layers()[i].info.name == to) first = i + 1;
    const Tensor<double>& at = to.empty() ? trace.input : trace.outputs[first - 1];
    REQUIRE(analytic.shape() == at.shape());
    auto rest = [&](const Tensor<double>& v) {
      Tensor<double> h = v;
      for (std::size_t i = first; i < net.layers().size(); ++i) h = std::visit([&](const auto& op) { return op.forward(h); }, net.layers()[i].op);
      return loss(h, c);
    };
    double worst = 0, largest = 0;
    const double eps = 1e-6;
    for (std::size_t i = 0; i < at.size(); ++i) {
      Tensor<double> up = at, down = at;
      up[i] += eps;
      down[i] -= eps;
      const double numeric = (rest(up) - rest(down)) / (2 * eps);
      worst = std::max(worst, std::abs(numeric - analytic[i]));
      largest = std::max(largest, std::abs(numeric));
    }
    INFO("gradient at " << (to.empty() ? "the input" : to) << ": worst difference " << worst << ", largest " << largest);
    CHECK(largest > 0);
    CHECK(worst <= 1e-6 * largest);
  }
}

TEST_CASE("backward: a conv's Winograd and GEMM backward agree; any thread count gives the same bits", "[backward]") {
  const auto w = random_values<float>({24, 20, 3, 3}, 11, 0.2);
  const auto b = random_values<float>({24}, 12);
  const fmviz::Conv2d<float> wino(w, b, 1, 1, 1, 1, fmviz::ConvAlgorithm::winograd);
  const fmviz::Conv2d<float> gemm(w, b, 1, 1, 1, 1, fmviz::ConvAlgorithm::gemm);
  REQUIRE(wino.algorithm() == fmviz::ConvAlgorithm::winograd);
  const auto x = random_values<float>({2, 20, 13, 11}, 13);
  const auto g = random_values<float>(wino.output_shape(x.shape()), 14);
  Tensor<float> one, two;
  {
    ThreadCount t(1);
    one = wino.backward(x, Tensor<float>(), g);
  }
  {
    ThreadCount t(2);
    two = wino.backward(x, Tensor<float>(), g);
  }
  CHECK(std::equal(one.begin(), one.end(), two.begin()));
  const auto by_gemm = gemm.backward(x, Tensor<float>(), g);
  const auto by_col2im = fmviz::detail::col2im_gemm_backward(w, gemm.options(), g, x.shape());
  REQUIRE(one.shape() == x.shape());
  CHECK(fmviz_test::max_rel_diff(one, by_col2im) < 1e-4);  // Winograd rounds otherwise (the project's tolerance)
  CHECK(fmviz_test::max_rel_diff(by_gemm, by_col2im) < 1e-5);
}

TEST_CASE("backward: MaxPool2d sends a tie's gradient to the first of the equal values", "[backward]") {
  Tensor<float> x({1, 1, 2, 4});
  const float values[] = {1, 1, 2, 2, 1, 0, 2, 2};
  std::copy(std::begin(values), std::end(values), x.begin());
  Tensor<float> g({1, 1, 1, 2});
  g[0] = 3;
  g[1] = 5;
  const auto gi = fmviz::MaxPool2d(2, 2).backward(x, Tensor<float>(), g);
  const std::vector<float> expected = {3, 0, 5, 0, 0, 0, 0, 0};
  CHECK(std::vector<float>(gi.begin(), gi.end()) == expected);
}

TEST_CASE("backward: bad requests name what is wrong", "[backward]") {
  const auto net = every_kind();
  const auto trace = net.trace(random_values<double>({1, 3, 10, 10}, 15), "pool");
  auto e = error_of([&] { net.backward(trace, "fc_b", Tensor<double>::zeros({1, 3})); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("was not run"));
  e = error_of([&] { net.backward(trace, "pool", Tensor<double>::zeros({1, 5, 9, 9})); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("gradient of shape"));
  e = error_of([&] { net.backward(trace, "relu_a", Tensor<double>::zeros(trace.outputs[1].shape()), "pool"); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("comes after"));
  CHECK(error_of([&] { net.backward(trace, "nope", Tensor<double>::zeros({1})); }));
}

TEST_CASE("backward: a trace that keeps only the later layers gives the same gradients there", "[backward]") {
  const auto net = every_kind();
  const Tensor<double> x = random_values<double>({2, 3, 10, 10}, 16);
  const auto full = net.trace(x);
  const auto tail = net.trace(x, "", "relu_b");  // conv_a, relu_a and conv_b run as a plain forward
  CHECK(tail.kept_from == 3);
  CHECK(tail.input.size() == 0);
  CHECK(tail.outputs[2].size() == 0);
  REQUIRE(tail.outputs.size() == full.outputs.size());
  for (std::size_t i = 3; i < full.outputs.size(); ++i) CHECK(fmviz_test::max_rel_diff(tail.outputs[i], full.outputs[i]) == 0);
  const Tensor<double> c = random_values<double>(full.outputs.back().shape(), 17);
  const auto a = net.backward(full, "fc_b", c, "relu_b");
  const auto b = net.backward(tail, "fc_b", c, "relu_b");
  CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  auto e = error_of([&] { net.backward(tail, "fc_b", c, "conv_b"); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("before what the trace kept"));
  e = error_of([&] { net.backward(tail, "fc_b", c); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("input"));
  e = error_of([&] { net.trace(x, "pool", "fc_a"); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("comes after"));
}

TEST_CASE("backward: guided backpropagation also stops negative gradients at each ReLU", "[backward]") {
  // Two layers: conv then ReLU. The guided gradient at the conv's output is the plain one where both the output
  // and the incoming gradient are positive, zero elsewhere; then back through the conv as usual.
  std::vector<fmviz::Layer<double>> layers;
  layers.emplace_back("conv", fmviz::Conv2d<double>(random_values<double>({4, 3, 3, 3}, 18, 0.5), random_values<double>({4}, 19), 1, 1));
  layers.emplace_back("relu", fmviz::ReLU{});
  const fmviz::Network<double> net(std::move(layers));
  const auto trace = net.trace(random_values<double>({1, 3, 6, 6}, 20));
  const Tensor<double> g = random_values<double>(trace.outputs[1].shape(), 21);
  const auto plain = net.backward(trace, "relu", g, "conv");
  const auto guided = net.backward(trace, "relu", g, "conv", fmviz::GradientRule::guided);
  std::size_t passed = 0, stopped = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool through = trace.outputs[1][i] > 0;
    CHECK(plain[i] == (through ? g[i] : 0.0));
    CHECK(guided[i] == (through && g[i] > 0 ? g[i] : 0.0));
    passed += through && g[i] > 0;
    stopped += through && g[i] < 0;
  }
  CHECK(passed > 0);
  CHECK(stopped > 0);  // the two rules differ somewhere
  const auto to_input = net.backward(trace, "relu", g, "", fmviz::GradientRule::guided);
  const auto by_conv = net.layers()[0].get<fmviz::Conv2d<double>>().backward(trace.input, trace.outputs[0], guided);
  CHECK(std::equal(to_input.begin(), to_input.end(), by_conv.begin(), by_conv.end()));
}

TEST_CASE("backward: VGG16's gradients match PyTorch autograd on a real photo", "[backward][reference]") {
  const std::string dir = FMVIZ_TEST_DATA_DIR "/reference";
  std::ifstream in(dir + "/manifest.json");
  REQUIRE(in);
  const auto manifest = nlohmann::json::parse(in);
  if (!manifest.contains("gradients")) FAIL("the reference fixture has no gradients: regenerate it (ctest -R fixtures_reference)");
  const auto& grads = manifest.at("gradients");
  const auto net = fmviz::load_vgg16<float>(dir + "/" + grads.at("weights").get<std::string>());
  const bool verbose = std::getenv("FMVIZ_TEST_VERBOSE") != nullptr;
  // PyTorch's own conv outputs in the trace (reference_trace.hpp says why).
  const fmviz::ForwardTrace<float> trace = fmviz_test::pytorch_trace(net, dir, grads.at("input").get<std::string>());
  // The decision agrees (else every gradient would differ for a reason of its own), and fmviz's own forward
  // makes the same one.
  std::size_t top = 0, own_top = 0;
  const auto own = net.forward(trace.input);
  for (std::size_t i = 1; i < 1000; ++i) {
    if (trace.outputs.back()[i] > trace.outputs.back()[top]) top = i;
    if (own[i] > own[own_top]) own_top = i;
  }
  CHECK(top == grads.at("top").get<std::size_t>());
  CHECK(own_top == top);
  for (const auto& item : grads.at("classes").items()) {
    const std::string label = item.key();  // not a structured binding: lambdas below capture it
    const auto& cls = item.value();
    const std::size_t c = static_cast<std::size_t>(std::stoul(label));
    Tensor<float> grad = Tensor<float>::zeros({1, 1000});
    grad[c] = 1;
    // Back one layer at a time from fc8, comparing wherever PyTorch's gradient was kept.
    const auto& names = grads.at("layer_names");
    const auto kept = cls.at("layers").get<std::vector<std::string>>();
    const std::string folder = dir + "/" + cls.at("dir").get<std::string>();
    double worst = 0;
    std::string worst_at;
    auto compare = [&](const std::string& name, const Tensor<float>& got) {
      const auto ref = fmviz::read_npy<float>(folder + "/" + name + ".npy");
      REQUIRE(ref.shape() == got.shape());
      double largest = 0, diff = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) {
        largest = std::max(largest, std::abs(double(ref[i])));
        diff = std::max(diff, std::abs(double(ref[i]) - double(got[i])));
      }
      const double rel = largest > 0 ? diff / largest : diff;
      if (verbose) std::printf("class %s %-8s max |error| / max |reference| %.2e\n", label.c_str(), name.c_str(), rel);
      if (rel > worst) worst = rel, worst_at = name;
      INFO("class " << label << ", gradient at " << name << ": " << rel);
      CHECK(rel <= 1e-4);
    };
    std::string from = names.back().get<std::string>();
    for (std::size_t i = names.size(); i-- > 0;) {
      const std::string name = names[i].get<std::string>();
      if (i + 1 < names.size()) {
        grad = net.backward(trace, from, std::move(grad), name);
        from = name;
      }
      if (std::find(kept.begin(), kept.end(), name) != kept.end()) compare(name, grad);
    }
    compare("input", net.backward(trace, from, std::move(grad)));
    INFO("worst: " << worst_at);
    CHECK(worst <= 1e-4);
  }
}
