// Unit tests for raw float32 weight files: format detection, read_raw, and load_vgg16 of the conv
// stack, the full model and conv-layer prefixes, with their size errors and last_layer rules.
#include <fmviz/vgg_loader.hpp>

#include "test_support.hpp"

#include <string>
#include <variant>
#include <vector>

using fmviz::Shape;
using fmviz::Tensor;
using fmviz_test::contains;
using fmviz_test::error_of;
using fmviz_test::TempDir;
using fmviz_test::vgg_value_f32;

namespace {

const fmviz::Conv2d<float>& conv_of(const fmviz::Network<float>& net, const std::string& name) {
  return net.conv(name);
}
const fmviz::Linear<float>& linear_of(const fmviz::Network<float>& net, const std::string& name) {
  return net.layer(name).get<fmviz::Linear<float>>();
}

/// Every element of t equals vgg_value_f32(id, i).
bool holds_values_of(const Tensor<float>& t, std::size_t id) {
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t[i] != vgg_value_f32(id, i)) return false;
  return true;
}

std::size_t prefix_tensor_count(const std::string& last_conv) {
  const auto plan = fmviz::vgg_plan(fmviz::VggVariant::vgg16);
  for (std::size_t i = 0; i < plan.size(); ++i)
    if (plan[i].name == last_conv) return fmviz::state_dict_specs(plan, i + 1).size();
  FAIL("no layer " << last_conv);
  return 0;
}

}  // namespace

TEST_CASE("detect_weight_format: by extension, then by content", "[weights]") {
  TempDir dir;
  const std::string raw = dir.file("weights.bin");
  fmviz_test::write_file(raw, fmviz_test::f32_bytes({1.f, 2.f, 3.f, 4.f}));
  CHECK(fmviz::detect_weight_format(raw) == fmviz::WeightFormat::raw);

  const auto st = fmviz_test::safetensors_file({{"w", "F32", {2}, fmviz_test::f32_bytes({1.f, 2.f})}});
  const std::string st_no_ext = dir.file("weights.st");
  fmviz_test::write_file(st_no_ext, st);
  CHECK(fmviz::detect_weight_format(st_no_ext) == fmviz::WeightFormat::safetensors);

  const std::string named = dir.file("model.safetensors");
  fmviz_test::write_file(named, fmviz_test::f32_bytes({1.f, 2.f, 3.f, 4.f}));
  CHECK(fmviz::detect_weight_format(named) == fmviz::WeightFormat::safetensors);

  const std::string tiny = dir.file("tiny.bin");
  fmviz_test::write_file(tiny, {1, 2, 3});
  CHECK(fmviz::detect_weight_format(tiny) == fmviz::WeightFormat::raw);

  auto e = error_of([&] { fmviz::detect_weight_format(dir.file("missing.bin")); });
  REQUIRE(e);
  CHECK(e->path() == dir.file("missing.bin"));
}

TEST_CASE("looks_like_safetensors: a header length that fits, then '{'", "[weights]") {
  const auto st = fmviz_test::safetensors_file({{"w", "F32", {2}, fmviz_test::f32_bytes({1.f, 2.f})}});
  CHECK(fmviz::looks_like_safetensors(st.data(), st.size(), st.size()));
  CHECK_FALSE(fmviz::looks_like_safetensors(st.data(), 8, st.size()));       // too few bytes to tell
  CHECK_FALSE(fmviz::looks_like_safetensors(st.data(), st.size(), 20));      // the header would run past the end
  const auto raw = fmviz_test::f32_bytes({1.f, 2.f, 3.f, 4.f});
  CHECK_FALSE(fmviz::looks_like_safetensors(raw.data(), raw.size(), raw.size()));
}

TEST_CASE("read_raw: slices the first layout whose size matches", "[weights]") {
  TempDir dir;
  const std::string path = dir.file("two.bin");
  fmviz_test::write_file(path, fmviz_test::f32_bytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  const fmviz::RawLayout small{"small", {{"a", {2, 2}}, {"b", {2}}}};
  const fmviz::RawLayout right{"right", {{"a", {2, 3}}, {"b", {4}}}};
  const auto table = fmviz::read_raw(path, {small, right});
  REQUIRE(table.tensors.size() == 2);
  CHECK(table.path() == path);
  CHECK(table.tensors[0].name == "a");
  CHECK(table.tensors[0].shape == Shape{2, 3});
  CHECK(table.tensors[0].dtype == fmviz::DType::f32);
  CHECK(table.tensors[0].byte_size == 24);
  REQUIRE(table.find("b") != nullptr);
  CHECK(table.find("c") == nullptr);
  const auto b = fmviz::to_tensor<float>(*table.find("b"));
  CHECK(b.shape() == Shape{4});
  CHECK(b[0] == 7.f);
  CHECK(b[3] == 10.f);
  const auto a = fmviz::to_tensor<double>(table.tensors[0]);
  CHECK(a[5] == 6.0);

  auto e = error_of([&] { fmviz::read_raw(path, {small}, "try harder"); });
  REQUIRE(e);
  CHECK(e->path() == path);
  CHECK(e->field() == "size");
  CHECK_THAT(e->what(), contains("40 bytes") && contains("expected 24 (small)") && contains("; try harder"));
}

TEST_CASE("load_vgg16: raw size errors list both expected sizes", "[weights][raw][errors]") {
  TempDir dir;
  const std::string path = dir.file("wrong.bin");
  fmviz_test::write_file(path, fmviz_test::Bytes(4000, 0));
  auto e = error_of([&] { fmviz::load_vgg16<float>(path); });
  REQUIRE(e);
  CHECK(e->path() == path);
  CHECK(e->field() == "size");
  CHECK_THAT(e->what(), contains("4,000 bytes") && contains("58,858,752 (VGG16 conv stack)") &&
                            contains("553,430,176 (VGG16 full model)"));
  CHECK_THAT(e->what(), !contains("multiple of 4"));

  fmviz_test::write_file(path, fmviz_test::Bytes(4001, 0));
  e = error_of([&] { fmviz::load_vgg16<float>(path); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("4,001 bytes") && contains("not a multiple of 4") && contains("58,858,752"));

  // One float short of the conv stack.
  fmviz_test::write_file(path, fmviz_test::Bytes(58858752 - 4, 0));
  e = error_of([&] { fmviz::load_vgg16<float>(path); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("58,858,748 bytes; expected 58,858,752"));

  fmviz_test::write_file(path, {});
  CHECK_THROWS_WITH(fmviz::load_vgg16<float>(path), contains("0 bytes"));

  CHECK_THROWS_AS(fmviz::load_vgg16<float>(dir.file("absent.bin")), fmviz::Error);
}

TEST_CASE("load_vgg16: a raw conv stack puts every tensor in its layer", "[weights][raw][vgg]") {
  TempDir dir;
  const std::string path = dir.file("vgg16_features.bin");
  const auto specs = fmviz_test::vgg16_specs(false);
  fmviz_test::write_raw_vgg(path, specs, specs.size());
  REQUIRE(fmviz_test::fs::file_size(path) == 58858752);

  const auto net = fmviz::load_vgg16<float>(path);
  CHECK(net.layers().back().info.name == "pool5");
  CHECK(net.layers().size() == 31);
  CHECK_FALSE(net.has_classifier());
  CHECK(net.conv_names().size() == 13);
  CHECK(net.notes().empty());
  CHECK(net.output_shape({1, 3, 224, 224}) == Shape{1, 512, 7, 7});

  const auto& conv1_1 = conv_of(net, "conv1_1");
  CHECK(conv1_1.weight().shape() == Shape{64, 3, 3, 3});
  CHECK(conv1_1.weight()[0] == 1.0f);  // features.0.weight[0,0,0,0]: tensor 0, element 0
  CHECK(conv1_1.weight().at(1, 2, 0, 1) == vgg_value_f32(0, 27 + 18 + 1));
  CHECK(conv1_1.options().pad_h == 1);
  CHECK(conv1_1.options().stride_w == 1);
  CHECK(holds_values_of(conv1_1.bias(), 1));

  const auto& conv1_2 = conv_of(net, "conv1_2");
  CHECK(conv1_2.bias().shape() == Shape{64});
  CHECK(conv1_2.bias()[0] == 4.0f);  // features.2.bias: tensor 3
  CHECK(conv1_2.bias()[63] == vgg_value_f32(3, 63));
  CHECK(holds_values_of(conv1_2.weight(), 2));

  const auto& conv5_3 = conv_of(net, "conv5_3");
  CHECK(conv5_3.weight().shape() == Shape{512, 512, 3, 3});
  CHECK(holds_values_of(conv5_3.weight(), 24));
  CHECK(conv5_3.bias()[511] == vgg_value_f32(25, 511));  // the file's last float
  CHECK(holds_values_of(conv5_3.bias(), 25));

  std::size_t id = 0;
  for (const auto& l : net.layers()) {
    if (l.info.kind != fmviz::LayerKind::conv2d) continue;
    CAPTURE(l.info.name);
    const auto& conv = l.get<fmviz::Conv2d<float>>();
    CHECK(holds_values_of(conv.weight(), id));
    CHECK(holds_values_of(conv.bias(), id + 1));
    id += 2;
  }
  CHECK(id == 26);

  // The net is usable: a small image goes all the way to pool5; one too small fails at pool5.
  const std::string stop = "conv1_1";
  const auto y = net.forward(Tensor<float>::zeros({1, 3, 32, 32}), stop);
  CHECK(y.shape() == Shape{1, 64, 32, 32});
  CHECK(y[0] > 0.f);
  auto e = error_of([&] { net.output_shape({1, 3, 16, 16}); });
  REQUIRE(e);
  CHECK(e->field() == "pool5");
}

TEST_CASE("load_vgg16: a raw full model ends in fc8", "[weights][raw][vgg][big]") {
  TempDir dir;
  const std::string path = dir.file("vgg16.bin");
  const auto specs = fmviz_test::vgg16_specs(true);
  fmviz_test::write_raw_vgg(path, specs, specs.size());
  REQUIRE(fmviz_test::fs::file_size(path) == 553430176);

  {
    const auto net = fmviz::load_vgg16<float>(path);
    CHECK(net.has_classifier());
    CHECK(net.layers().size() == 40);
    CHECK(net.layers().back().info.name == "fc8");
    CHECK(net.output_shape({1, 3, 224, 224}) == Shape{1, 1000});
    CHECK(net.output_shape({2, 3, 97, 131}) == Shape{2, 1000});  // the adaptive pool takes any size
    CHECK(holds_values_of(conv_of(net, "conv5_3").bias(), 25));
    const auto& fc6 = linear_of(net, "fc6");
    CHECK(fc6.weight().shape() == Shape{4096, 25088});
    CHECK(fc6.weight()[0] == 27.0f);  // classifier.0.weight: tensor 26
    CHECK(holds_values_of(fc6.weight(), 26));
    CHECK(holds_values_of(fc6.bias(), 27));
    CHECK(holds_values_of(linear_of(net, "fc7").weight(), 28));
    const auto& fc8 = linear_of(net, "fc8");
    CHECK(fc8.weight().shape() == Shape{1000, 4096});
    CHECK(holds_values_of(fc8.weight(), 30));
    CHECK(fc8.bias()[999] == vgg_value_f32(31, 999));
    CHECK(holds_values_of(fc8.bias(), 31));
  }
  {
    // last_layer inside the conv stack: the classifier in the file is not built.
    const auto net = fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"conv2_2"});
    CHECK(net.layers().back().info.name == "relu2_2");
    CHECK(net.conv_names().size() == 4);
    CHECK(net.notes().empty());
  }
  {
    const auto net = fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"fc6"});
    CHECK(net.layers().back().info.name == "fc6");
    CHECK(net.output_shape({1, 3, 224, 224}) == Shape{1, 4096});
  }
}

TEST_CASE("load_vgg16: a raw prefix of conv layers needs last_layer", "[weights][raw][vgg]") {
  TempDir dir;
  const std::string path = dir.file("conv1_1-conv3_1.bin");
  const auto specs = fmviz_test::vgg16_specs(false);
  const std::size_t count = prefix_tensor_count("conv3_1");
  REQUIRE(count == 10);
  fmviz_test::write_raw_vgg(path, specs, count);

  auto e = error_of([&] { fmviz::load_vgg16<float>(path); });
  REQUIRE(e);
  CHECK(e->path() == path);
  CHECK_THAT(e->what(), contains("58,858,752 (VGG16 conv stack)") && contains("553,430,176 (VGG16 full model)"));
  CHECK_THAT(e->what(), contains("conv1_1...conv3_1") && contains("--last-layer conv3_1"));

  const auto net = fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"conv3_1"});
  CHECK(net.layers().back().info.name == "relu3_1");
  CHECK(net.conv_names() == std::vector<std::string>{"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"});
  const auto& conv3_1 = conv_of(net, "conv3_1");
  CHECK(conv3_1.weight().shape() == Shape{256, 128, 3, 3});
  CHECK(holds_values_of(conv3_1.weight(), 8));
  CHECK(holds_values_of(conv3_1.bias(), 9));
  CHECK(net.output_shape({1, 3, 224, 224}) == Shape{1, 256, 56, 56});

  // relu3_1 means the same prefix; pool2 (no conv3_1) or conv3_2 do not match the file.
  CHECK(fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"relu3_1"}).layers().size() == 12);
  e = error_of([&] { fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"conv3_2"}); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("(conv1_1...conv3_2 only)"));

  // A single conv layer.
  const std::string one = dir.file("conv1_1.bin");
  fmviz_test::write_raw_vgg(one, specs, 2);
  CHECK_THROWS_WITH(fmviz::load_vgg16<float>(one), contains("--last-layer conv1_1"));
  CHECK(fmviz::load_vgg16<float>(one, fmviz::LoadOptions{"conv1_1"}).layers().size() == 2);
}

TEST_CASE("load_vgg16: last_layer must name a layer, and the classifier needs its weights", "[weights][raw][errors]") {
  TempDir dir;
  const std::string path = dir.file("vgg16_features.bin");
  const auto specs = fmviz_test::vgg16_specs(false);
  fmviz_test::write_raw_vgg(path, specs, specs.size());

  auto e = error_of([&] { fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"conv6_1"}); });
  REQUIRE(e);
  CHECK(e->field() == "last_layer");
  CHECK_THAT(e->what(), contains("\"conv6_1\" is not a layer of VGG16") && contains("conv1_1 relu1_1 conv1_2") &&
                            contains("conv5_3 relu5_3 pool5 avgpool flatten fc6"));

  e = error_of([&] { fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"fc7"}); });
  REQUIRE(e);
  CHECK(e->path() == path);
  CHECK(e->field() == "fc7");
  CHECK_THAT(e->what(), contains("in the classifier") && contains("only the conv stack"));

  CHECK(fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"pool5"}).layers().size() == 31);
  CHECK(fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"pool4"}).layers().back().info.name == "pool4");

  // The format can be forced: a raw file named like a safetensors file.
  const std::string disguised = dir.file("conv1_1.safetensors");
  fmviz_test::write_raw_vgg(disguised, specs, 2);
  fmviz::LoadOptions options{"conv1_1"};
  options.format = fmviz::WeightFormat::raw;
  CHECK(fmviz::load_vgg16<float>(disguised, options).conv_names().size() == 1);
  CHECK_THROWS_AS(fmviz::load_vgg16<float>(disguised, fmviz::LoadOptions{"conv1_1"}), fmviz::Error);
}

TEST_CASE("load_vgg: other variants from raw files", "[weights][raw][vgg]") {
  TempDir dir;
  const auto plan = fmviz::vgg_plan(fmviz::VggVariant::vgg11);
  std::size_t pool5_end = 0;
  while (!plan[pool5_end].in_classifier) ++pool5_end;
  const auto specs = fmviz::state_dict_specs(plan, pool5_end);
  const std::string path = dir.file("vgg11_features.bin");
  fmviz_test::write_raw_vgg(path, specs, specs.size());
  const auto net = fmviz::load_vgg<float>(fmviz::VggVariant::vgg11, path);
  CHECK(net.conv_names().size() == 8);
  CHECK(net.layers().back().info.name == "pool5");
  CHECK(holds_values_of(conv_of(net, "conv5_2").bias(), 15));
  // The same file is not a VGG16.
  CHECK_THROWS_WITH(fmviz::load_vgg16<float>(path), contains("VGG16 conv stack"));
}
