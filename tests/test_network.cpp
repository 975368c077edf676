// Unit tests for fmviz::Network (a hand-built network: visiting, stopping, shapes, errors) and the
// VGG family's plan: layer names, torchvision state_dict indices and parameter counts.
#include <fmviz/network.hpp>
#include <fmviz/vgg_config.hpp>

#include "test_support.hpp"

#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using fmviz::LayerKind;
using fmviz::Shape;
using fmviz::Tensor;
using fmviz_test::contains;
using fmviz_test::error_of;

namespace {

Tensor<float> random_tensor(Shape shape, std::uint32_t seed) {
  Tensor<float> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (float& v : t) v = dist(rng);
  return t;
}

using Log = std::vector<std::tuple<std::string, LayerKind, Shape, std::size_t>>;

struct Logger {
  Log* log;
  void operator()(const fmviz::LayerInfo& info, const Tensor<float>& out) const {
    log->emplace_back(info.name, info.kind, out.shape(), info.index);
  }
};

struct TinyNet {
  fmviz::Conv2d<float> c1{random_tensor({2, 1, 3, 3}, 1), random_tensor({2}, 2), 1, 1};
  fmviz::Conv2d<float> c2{random_tensor({3, 2, 3, 3}, 3), random_tensor({3}, 4)};
  fmviz::Linear<float> fc{random_tensor({2, 3}, 5), random_tensor({2}, 6)};

  // c1 (1->2, 3x3 pad 1), r1, p1 (2x2), c2 (2->3, 3x3 no pad), r2, gap (1x1), flat, fc (3->2), drop.
  fmviz::Network<float> build(bool with_dropout = true) const {
    std::vector<fmviz::Layer<float>> layers;
    layers.emplace_back("c1", c1);
    layers.emplace_back("r1", fmviz::ReLU{});
    layers.emplace_back("p1", fmviz::MaxPool2d(2, 2));
    layers.emplace_back("c2", c2);
    layers.emplace_back("r2", fmviz::ReLU{});
    layers.emplace_back("gap", fmviz::AdaptiveAvgPool2d(1, 1));
    layers.emplace_back("flat", fmviz::Flatten{});
    layers.emplace_back("fc", fc);
    if (with_dropout) layers.emplace_back("drop", fmviz::Dropout{});
    return fmviz::Network<float>(std::move(layers), {"built by hand"});
  }

  /// The same computation, layer by layer, without the Network.
  Tensor<float> by_hand(const Tensor<float>& x) const {
    auto y = fmviz::ReLU{}.forward(c1.forward(x));
    y = fmviz::MaxPool2d(2, 2).forward(y);
    y = fmviz::ReLU{}.forward(c2.forward(y));
    y = fmviz::AdaptiveAvgPool2d(1, 1).forward(y);
    y = fmviz::Flatten{}.forward(std::move(y));
    return fc.forward(y);
  }
};

bool same_values(const Tensor<float>& a, const Tensor<float>& b) {
  if (a.shape() != b.shape()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

std::vector<std::string> names_of(const Log& log) {
  std::vector<std::string> names;
  for (const auto& entry : log) names.push_back(std::get<0>(entry));
  return names;
}

}  // namespace

TEST_CASE("Network: forward shows every layer's output to the visitor, in order", "[network]") {
  TinyNet tiny;
  const auto net = tiny.build();
  const auto x = random_tensor({1, 1, 6, 6}, 10);
  Log log;
  auto y = net.forward(x, Logger{&log});
  const Log expected = {
      {"c1", LayerKind::conv2d, {1, 2, 6, 6}, 0},   {"r1", LayerKind::relu, {1, 2, 6, 6}, 1},
      {"p1", LayerKind::maxpool2d, {1, 2, 3, 3}, 2}, {"c2", LayerKind::conv2d, {1, 3, 1, 1}, 3},
      {"r2", LayerKind::relu, {1, 3, 1, 1}, 4},      {"gap", LayerKind::adaptive_avgpool2d, {1, 3, 1, 1}, 5},
      {"flat", LayerKind::flatten, {1, 3}, 6},       {"fc", LayerKind::linear, {1, 2}, 7},
      {"drop", LayerKind::dropout, {1, 2}, 8},
  };
  CHECK(log == expected);
  CHECK(same_values(y, tiny.by_hand(x)));
  CHECK(same_values(net.forward(x), y));  // the visitor-less overload
  CHECK(net.notes() == std::vector<std::string>{"built by hand"});
  CHECK(net.layers().size() == 9);
  for (std::size_t i = 0; i < net.layers().size(); ++i) CHECK(net.layers()[i].info.index == i);
}

TEST_CASE("Network: without a visitor, each conv and its ReLU run as one pass with the same values", "[network]") {
  // Winograd (16 channels and more, 3x3 stride 1) and GEMM (the 3-channel first layer, the strided one) layers.
  fmviz::Conv2d<float> first{random_tensor({16, 3, 3, 3}, 21), random_tensor({16}, 22), 1, 1};
  fmviz::Conv2d<float> wino{random_tensor({24, 16, 3, 3}, 23), random_tensor({24}, 24), 1, 1};
  fmviz::Conv2d<float> strided{random_tensor({8, 24, 3, 3}, 25), random_tensor({8}, 26), 2, 0};
  REQUIRE(first.algorithm() == fmviz::ConvAlgorithm::gemm);
  REQUIRE(wino.algorithm() == fmviz::ConvAlgorithm::winograd);
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("c1", first);
  layers.emplace_back("r1", fmviz::ReLU{});
  layers.emplace_back("c2", wino);
  layers.emplace_back("r2", fmviz::ReLU{});
  layers.emplace_back("c3", strided);
  layers.emplace_back("r3", fmviz::ReLU{});
  const fmviz::Network<float> net(std::move(layers), {});
  const auto x = random_tensor({2, 3, 19, 23}, 27);
  Log log;
  const auto seen = net.forward(x, Logger{&log});  // a visitor: every layer on its own
  REQUIRE(log.size() == 6);
  CHECK(same_values(net.forward(x), seen));
  CHECK(same_values(net.forward(x, "r2"), net.forward(x, Logger{&log}, "r2")));
  CHECK(same_values(net.forward(x, "c2"), net.forward(x, Logger{&log}, "c2")));  // a conv stop includes its ReLU
  const auto h = fmviz::ReLU{}.forward(first.forward(x));
  CHECK(same_values(wino.forward_relu(h), fmviz::ReLU{}.forward(wino.forward(h))));
  CHECK(same_values(first.forward_relu(x), h));
}

TEST_CASE("Network: the visitor sees the pre- and post-activation values", "[network]") {
  TinyNet tiny;
  const auto net = tiny.build();
  const auto x = random_tensor({1, 1, 6, 6}, 11);
  std::vector<Tensor<float>> seen;
  net.forward(x, [&](const fmviz::LayerInfo&, const Tensor<float>& out) { seen.push_back(out); }, "r1");
  REQUIRE(seen.size() == 2);
  const auto conv = tiny.c1.forward(x);
  CHECK(same_values(seen[0], conv));
  CHECK(same_values(seen[1], fmviz::ReLU{}.forward(conv)));
  bool any_negative = false;
  for (float v : seen[0]) any_negative = any_negative || v < 0;
  CHECK(any_negative);  // so the two really differ
}

TEST_CASE("Network: stop_after ends the forward early; a conv stop includes its ReLU", "[network]") {
  TinyNet tiny;
  const auto net = tiny.build();
  const auto x = random_tensor({1, 1, 6, 6}, 12);

  Log log;
  auto y = net.forward(x, Logger{&log}, "c1");
  CHECK(names_of(log) == std::vector<std::string>{"c1", "r1"});
  CHECK(same_values(y, fmviz::ReLU{}.forward(tiny.c1.forward(x))));
  CHECK(net.last_index("c1") == 1);
  CHECK(net.output_shape({1, 1, 6, 6}, "c1") == Shape{1, 2, 6, 6});

  log.clear();
  net.forward(x, Logger{&log}, "c2");
  CHECK(names_of(log) == std::vector<std::string>{"c1", "r1", "p1", "c2", "r2"});

  log.clear();
  net.forward(x, Logger{&log}, "p1");
  CHECK(names_of(log) == std::vector<std::string>{"c1", "r1", "p1"});
  CHECK(net.output_shape({1, 1, 6, 6}, "p1") == Shape{1, 2, 3, 3});

  log.clear();
  net.forward(x, Logger{&log}, "r1");
  CHECK(names_of(log) == std::vector<std::string>{"c1", "r1"});

  log.clear();
  net.forward(x, Logger{&log}, "drop");
  CHECK(log.size() == 9);

  // A conv that is not followed by a ReLU stops on itself.
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("conv", tiny.c1);
  layers.emplace_back("pool", fmviz::MaxPool2d(2, 2));
  const fmviz::Network<float> bare(std::move(layers));
  log.clear();
  bare.forward(x, Logger{&log}, "conv");
  CHECK(names_of(log) == std::vector<std::string>{"conv"});
  CHECK(bare.last_index("conv") == 0);
}

TEST_CASE("Network: unknown layer names throw listing the known ones", "[network][errors]") {
  TinyNet tiny;
  const auto net = tiny.build();
  const auto x = random_tensor({1, 1, 6, 6}, 13);
  // stop_after is passed as a const std::string lvalue: a string literal or a non-const std::string would be
  // taken for the visitor by the template overload of forward() and not compile.
  const std::string unknown = "conv9";
  auto e = error_of([&] { net.forward(x, unknown); });
  REQUIRE(e);
  CHECK(e->field() == "conv9");
  CHECK_THAT(e->what(), contains("no such layer") && contains("c1 r1 p1 c2 r2 gap flat fc drop"));
  CHECK_THROWS_WITH(net.output_shape({1, 1, 6, 6}, "fc9"), contains("c1 r1 p1 c2 r2 gap flat fc drop"));
  CHECK_THROWS_AS(net.layer("nope"), fmviz::Error);
  CHECK_FALSE(net.has_layer("nope"));
  CHECK(net.has_layer("gap"));
  CHECK(net.layer("p1").info.kind == LayerKind::maxpool2d);
  CHECK(net.layer("fc").info.index == 7);
}

TEST_CASE("Network: output_shape and the queries", "[network]") {
  TinyNet tiny;
  const auto net = tiny.build();
  CHECK(net.output_shape({1, 1, 6, 6}) == Shape{1, 2});
  CHECK(net.output_shape({4, 1, 9, 8}) == Shape{4, 2});
  CHECK(net.conv_names() == std::vector<std::string>{"c1", "c2"});
  CHECK_FALSE(net.has_classifier());  // ends in Dropout
  CHECK(tiny.build(false).has_classifier());
  CHECK(std::string(fmviz::to_string(LayerKind::conv2d)) == "Conv2d");
  CHECK(std::string(fmviz::to_string(LayerKind::adaptive_avgpool2d)) == "AdaptiveAvgPool2d");
  CHECK(std::string(fmviz::to_string(LayerKind::dropout)) == "Dropout");
}

TEST_CASE("Network: an input too small fails before running, naming the layer", "[network][errors]") {
  TinyNet tiny;
  const auto net = tiny.build();
  Log log;
  // 3x3 -> c1 (pad 1) 3x3 -> p1 1x1 -> c2 needs 3x3: c2 is the layer that cannot take it.
  auto e = error_of([&] { net.forward(Tensor<float>::zeros({1, 1, 3, 3}), Logger{&log}); });
  REQUIRE(e);
  CHECK(e->field() == "c2");
  CHECK_THAT(e->what(), contains("cannot take input (1,2,1,1)") && contains("smaller than the 3x3 kernel"));
  CHECK(log.empty());  // nothing ran, not even c1

  e = error_of([&] { net.output_shape({1, 1, 1, 1}); });
  REQUIRE(e);
  CHECK(e->field() == "p1");

  e = error_of([&] { net.forward(Tensor<float>::zeros({1, 3, 6, 6}), Logger{&log}); });
  REQUIRE(e);
  CHECK(e->field() == "c1");
  CHECK_THAT(e->what(), contains("cannot take input (1,3,6,6)"));
  CHECK(log.empty());

  // Stopping before the layer that cannot take the input is fine.
  CHECK_NOTHROW(net.forward(Tensor<float>::zeros({1, 1, 3, 3}), Logger{&log}, "p1"));
  CHECK(names_of(log) == std::vector<std::string>{"c1", "r1", "p1"});
}

TEST_CASE("Network: construction refuses duplicate names; an empty network cannot run", "[network][errors]") {
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("a", fmviz::ReLU{});
  layers.emplace_back("b", fmviz::ReLU{});
  layers.emplace_back("a", fmviz::Dropout{});
  auto e = error_of([&] { fmviz::Network<float> net(layers); });
  REQUIRE(e);
  CHECK(e->field() == "a");
  CHECK_THAT(e->what(), contains("used twice"));

  const fmviz::Network<float> empty;
  CHECK_THROWS_AS(empty.forward(Tensor<float>::zeros({1, 1, 2, 2})), fmviz::Error);
  CHECK_THROWS_WITH(empty.output_shape({1}), contains("has no layers"));
  CHECK_FALSE(empty.has_classifier());
}

// ---- the VGG plan -------------------------------------------------------------------------------

TEST_CASE("vgg_plan(vgg16): layer names and torchvision indices", "[network][vgg]") {
  const auto plan = fmviz::vgg_plan(fmviz::VggVariant::vgg16);
  std::vector<std::string> names;
  for (const auto& p : plan) names.push_back(p.name);
  const std::vector<std::string> expected_names = {
      "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",                                               //
      "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",                                               //
      "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "pool3",                         //
      "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "pool4",                         //
      "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "pool5",                         //
      "avgpool", "flatten", "fc6",     "relu6",   "drop6",   "fc7",     "relu7", "drop7", "fc8"};
  CHECK(names == expected_names);

  std::vector<std::string> conv_names, conv_prefixes, fc_prefixes;
  for (const auto& p : plan) {
    if (p.kind == fmviz::LayerKind::conv2d) {
      conv_names.push_back(p.name);
      conv_prefixes.push_back(p.state_prefix);
    }
    if (p.kind == fmviz::LayerKind::linear) fc_prefixes.push_back(p.state_prefix);
    if (p.kind != fmviz::LayerKind::conv2d && p.kind != fmviz::LayerKind::linear) CHECK(p.state_prefix.empty());
    CHECK(p.in_classifier == (p.name == "avgpool" || p.name == "flatten" || p.name.rfind("fc", 0) == 0 ||
                              p.name == "relu6" || p.name == "relu7" || p.name.rfind("drop", 0) == 0));
  }
  CHECK(conv_names == std::vector<std::string>{"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                                               "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"});
  CHECK(conv_prefixes == std::vector<std::string>{"features.0", "features.2", "features.5", "features.7", "features.10",
                                                  "features.12", "features.14", "features.17", "features.19",
                                                  "features.21", "features.24", "features.26", "features.28"});
  CHECK(fc_prefixes == std::vector<std::string>{"classifier.0", "classifier.3", "classifier.6"});

  CHECK(plan[0].in == 3);
  CHECK(plan[0].out == 64);
  CHECK(plan[28].name == "conv5_3");
  CHECK(plan[28].in == 512);
  CHECK(plan[28].out == 512);
  CHECK(plan[33].name == "fc6");
  CHECK(plan[33].in == 25088);
  CHECK(plan[33].out == 4096);
  CHECK(plan.back().in == 4096);
  CHECK(plan.back().out == 1000);
  CHECK(std::string(fmviz::to_string(fmviz::VggVariant::vgg16)) == "VGG16");
}

TEST_CASE("state_dict_specs: VGG16 tensors in torchvision order and parameter counts", "[network][vgg]") {
  const auto plan = fmviz::vgg_plan(fmviz::VggVariant::vgg16);
  const auto all = fmviz::state_dict_specs(plan, plan.size());
  REQUIRE(all.size() == 32);
  CHECK(all[0].name == "features.0.weight");
  CHECK(all[0].shape == Shape{64, 3, 3, 3});
  CHECK(all[1].name == "features.0.bias");
  CHECK(all[1].shape == Shape{64});
  CHECK(all[3].name == "features.2.bias");
  CHECK(all[25].name == "features.28.bias");
  CHECK(all[24].shape == Shape{512, 512, 3, 3});
  CHECK(all[26].name == "classifier.0.weight");
  CHECK(all[26].shape == Shape{4096, 25088});
  CHECK(all[28].name == "classifier.3.weight");
  CHECK(all[31].name == "classifier.6.bias");
  CHECK(all[31].shape == Shape{1000});

  const auto convs = fmviz_test::vgg16_specs(false);
  CHECK(convs.size() == 26);
  CHECK(fmviz::element_count(convs) == 14714688);
  CHECK(fmviz::element_count(convs) * 4 == 58858752);
  CHECK(fmviz::element_count(all) == 138357544);
  CHECK(fmviz::element_count(all) * 4 == 553430176);
  // A prefix: conv1_1 alone.
  CHECK(fmviz::element_count(fmviz::state_dict_specs(plan, 1)) == 64 * 3 * 9 + 64);
  CHECK(fmviz::state_dict_specs(plan, 0).empty());
}

TEST_CASE("vgg_plan: VGG11, VGG13 and VGG19 from the same table", "[network][vgg]") {
  struct Expect {
    fmviz::VggVariant v;
    std::size_t convs;
    std::size_t params;
    std::vector<std::string> prefixes;
  };
  const std::vector<Expect> variants = {
      {fmviz::VggVariant::vgg11, 8, 132863336,
       {"features.0", "features.3", "features.6", "features.8", "features.11", "features.13", "features.16",
        "features.18"}},
      {fmviz::VggVariant::vgg13, 10, 133047848,
       {"features.0", "features.2", "features.5", "features.7", "features.10", "features.12", "features.15",
        "features.17", "features.20", "features.22"}},
      {fmviz::VggVariant::vgg19, 16, 143667240,
       {"features.0", "features.2", "features.5", "features.7", "features.10", "features.12", "features.14",
        "features.16", "features.19", "features.21", "features.23", "features.25", "features.28", "features.30",
        "features.32", "features.34"}},
  };
  for (const auto& ex : variants) {
    CAPTURE(fmviz::to_string(ex.v));
    const auto plan = fmviz::vgg_plan(ex.v);
    std::vector<std::string> prefixes;
    std::size_t pools = 0;
    for (const auto& p : plan) {
      if (p.kind == fmviz::LayerKind::conv2d) prefixes.push_back(p.state_prefix);
      pools += p.kind == fmviz::LayerKind::maxpool2d;
    }
    CHECK(prefixes.size() == ex.convs);
    CHECK(prefixes == ex.prefixes);
    CHECK(pools == 5);
    CHECK(plan.back().name == "fc8");
    CHECK(fmviz::element_count(fmviz::state_dict_specs(plan, plan.size())) == ex.params);
  }
  const auto vgg19 = fmviz::vgg_plan(fmviz::VggVariant::vgg19);
  std::vector<std::string> block5;
  for (const auto& p : vgg19)
    if (p.kind == fmviz::LayerKind::conv2d && p.name.rfind("conv5_", 0) == 0) block5.push_back(p.name);
  CHECK(block5 == std::vector<std::string>{"conv5_1", "conv5_2", "conv5_3", "conv5_4"});
}
