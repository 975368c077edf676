// End-to-end checks against PyTorch: VGG16 weight files of every supported kind, loaded by fmviz and
// run on a real photo, must reproduce torchvision's conv activations and logits. VGG11, VGG13 and VGG19
// conv stacks (seeded like VGG16's) must reproduce every conv on a small 64x64 input.
//
// The fixture (weights, inputs, reference activations, manifest.json) is generated into
// FMVIZ_TEST_DATA_DIR/reference by tools/fixtures/make_reference.py; CTest runs it first
// (tests/fixtures.cmake). Tolerance everywhere: max |fmviz - PyTorch| <= 1e-4 x max |PyTorch| per layer.
// Set FMVIZ_TEST_VERBOSE=1 to print the measured relative error of every comparison.

#include <fmviz/image.hpp>
#include <fmviz/npy.hpp>
#include <fmviz/vgg.hpp>

#include <nlohmann/json.hpp>

#include "catch.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace {

using fmviz::Tensor;
namespace fs = std::filesystem;

constexpr double tolerance = 1e-4;  // relative to the layer's max |reference|

const std::vector<std::string> all_convs = {"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                                            "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"};
const std::vector<std::string> convs_to_3_1(all_convs.begin(), all_convs.begin() + 5);

std::string ref_dir() { return FMVIZ_TEST_DATA_DIR "/reference"; }
std::string ref_path(const std::string& name) { return ref_dir() + "/" + name; }

/// manifest.json of the fixture; fails the test with instructions when it has not been generated.
const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream in(ref_path("manifest.json"));
    if (!in)
      FAIL("missing " << ref_path("manifest.json") << ": generate the fixture with `ctest -R fixtures_reference` or "
                      << "/usr/bin/python3 tools/fixtures/make_reference.py --out " << ref_dir());
    return nlohmann::json::parse(in);
  }();
  return m;
}

std::string weights(const std::string& label) { return ref_path(manifest().at("weights").at(label).get<std::string>()); }

/// Reference .npy files, read once.
const Tensor<float>& reference(const std::string& name) {
  static std::map<std::string, Tensor<float>> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, fmviz::read_npy<float>(ref_path(name))).first;
  return it->second;
}

const Tensor<float>& input() { return reference("input.npy"); }

template <typename T>
Tensor<T> converted(const Tensor<float>& x) {
  Tensor<T> y(x.shape());
  std::transform(x.begin(), x.end(), y.begin(), [](float v) { return static_cast<T>(v); });
  return y;
}

/// max |got - ref| / max |ref| (ref through ReLU if asked); infinity for a NaN or a shape mismatch.
template <typename T>
double relative_error(const Tensor<T>& got, const Tensor<float>& ref, bool relu = false) {
  if (got.shape() != ref.shape()) return std::numeric_limits<double>::infinity();
  double max_ref = 0, max_err = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double r = relu ? std::max(0.0, double(ref[i])) : double(ref[i]);
    const double e = std::abs(double(got[i]) - r);
    max_ref = std::max(max_ref, std::abs(r));
    if (!(e <= max_err)) max_err = std::isnan(e) ? std::numeric_limits<double>::infinity() : e;
  }
  return max_ref > 0 ? max_err / max_ref : max_err;
}

void report(const std::string& what, const std::string& layer, double err) {
  if (std::getenv("FMVIZ_TEST_VERBOSE")) std::printf("reference %-28s %-8s error %.3e\n", what.c_str(), layer.c_str(), err);
}

/// Every layer in `layers` was recorded and matches `set`/LAYER.npy.
template <typename T>
void check_layers(const fmviz::ActivationRecorder<T>& rec, const std::string& set, const std::vector<std::string>& layers,
                  const std::string& what, bool relu = false) {
  for (const std::string& layer : layers) {
    INFO(what << ": " << layer << (relu ? " (after ReLU)" : ""));
    REQUIRE(rec.contains(layer));
    const Tensor<float>& ref = reference(set + "/" + layer + ".npy");
    CHECK(rec.at(layer).shape() == ref.shape());
    const double err = relative_error(rec.at(layer), ref, relu);
    report(what, layer, err);
    CHECK(err <= tolerance);
  }
}

template <typename T>
void check_logits(const Tensor<T>& logits, const std::string& set, const std::string& what) {
  INFO(what << ": logits");
  const Tensor<float>& ref = reference(set + "/logits.npy");
  REQUIRE(logits.shape() == ref.shape());
  const double err = relative_error(logits, ref);
  report(what, "logits", err);
  CHECK(err <= tolerance);
}

/// Loads `label`'s weights as Network<T>, runs the reference input and compares the 13 convs (and
/// the logits when the file holds the classifier) with the `set` references.
template <typename T>
fmviz::Network<T> check_weight_file(const std::string& label, const std::string& set, bool full, const std::string& what) {
  fmviz::Network<T> net = fmviz::load_vgg16<T>(weights(label));
  CHECK(net.conv_names() == all_convs);
  CHECK(net.has_classifier() == full);
  fmviz::ActivationRecorder<T> rec;
  const Tensor<T> out = net.forward(converted<T>(input()), rec);
  CHECK(rec.names() == all_convs);
  check_layers(rec, set, all_convs, what);
  if (full) check_logits(out, set, what);
  else CHECK(out.shape() == fmviz::Shape{1, 512, 7, 7});
  return net;
}

/// The Oxford part of the manifest, or null after a WARN saying why it was skipped.
const nlohmann::json* oxford() {
  const nlohmann::json& m = manifest();
  if (m.at("oxford").is_null()) {
    WARN("skipped: Oxford VGG16 weights not available (" << m.value("oxford_skipped", std::string("no reason recorded")) << ")");
    return nullptr;
  }
  const nlohmann::json& o = m.at("oxford");
  if (!fs::is_regular_file(o.at("weights").get<std::string>())) {
    WARN("skipped: " << o.at("weights").get<std::string>() << " no longer exists (regenerate the fixture)");
    return nullptr;
  }
  return &o;
}

std::string oxford_weights(const nlohmann::json& o) { return o.at("weights").get<std::string>(); }

fmviz::LoadOptions up_to(const std::string& last_layer) {
  fmviz::LoadOptions options;
  options.last_layer = last_layer;
  return options;
}

}  // namespace

// ---- one test per weight file ------------------------------------------------------------------

TEST_CASE("reference: raw float32 full model matches PyTorch", "[reference]") {
  check_weight_file<float>("raw_full", "f32", true, "raw full");
}

TEST_CASE("reference: raw float32 conv stack ends at pool5 and matches PyTorch", "[reference]") {
  const auto net = check_weight_file<float>("raw_convs", "f32", false, "raw conv stack");
  CHECK_FALSE(net.has_classifier());
  CHECK(net.layers().back().info.name == "pool5");
  CHECK_FALSE(net.has_layer("fc6"));
}

TEST_CASE("reference: safetensors F32 with torchvision names matches PyTorch", "[reference][safetensors]") {
  const auto net = check_weight_file<float>("st_f32", "f32", true, "safetensors F32");
  CHECK(net.notes().empty());
}

TEST_CASE("reference: safetensors F16 with timm names matches PyTorch on F16-rounded weights", "[reference][safetensors]") {
  check_weight_file<float>("st_f16_timm", "f16", true, "safetensors F16 timm");
}

TEST_CASE("reference: safetensors BF16 conv stack matches PyTorch on BF16-rounded weights", "[reference][safetensors]") {
  check_weight_file<float>("st_bf16_convs", "bf16", false, "safetensors BF16 convs");
}

TEST_CASE("reference: safetensors in shuffled order with an extra tensor matches PyTorch", "[reference][safetensors]") {
  const auto net = check_weight_file<float>("st_f32_shuffled", "f32", true, "safetensors shuffled");
  const std::string extra = manifest().at("extra_tensor").get<std::string>();
  const bool named = std::any_of(net.notes().begin(), net.notes().end(),
                                 [&](const std::string& note) { return note.find(extra) != std::string::npos; });
  INFO("notes: " << net.notes().size() << (net.notes().empty() ? "" : ", first: " + net.notes().front()));
  CHECK(named);
}

TEST_CASE("reference: a double precision network matches PyTorch too", "[reference][double]") {
  check_weight_file<double>("raw_full", "f32", true, "raw full, double");
}

// ---- recorder and forward options --------------------------------------------------------------

TEST_CASE("reference: Tap::relu records the conv outputs after ReLU", "[reference][recorder]") {
  const auto net = fmviz::load_vgg16<float>(weights("raw_convs"));
  fmviz::ActivationRecorder<float> rec(fmviz::Tap::relu);
  net.forward(input(), rec);
  CHECK(rec.tap() == fmviz::Tap::relu);
  CHECK(rec.names() == all_convs);
  check_layers(rec, "f32", all_convs, "Tap::relu", true);
}

TEST_CASE("reference: a recorder limited to chosen layers records only those", "[reference][recorder]") {
  const auto net = fmviz::load_vgg16<float>(weights("raw_convs"));
  fmviz::ActivationRecorder<float> rec(fmviz::Tap::conv, {"conv5_3", "conv1_2", "conv3_3"});
  net.forward(input(), rec);
  CHECK(rec.names() == std::vector<std::string>{"conv1_2", "conv3_3", "conv5_3"});  // network order
  CHECK(rec.size() == 3);
  CHECK_FALSE(rec.contains("conv1_1"));
  CHECK_FALSE(rec.contains("conv5_2"));
  check_layers(rec, "f32", {"conv1_2", "conv3_3", "conv5_3"}, "chosen layers");
}

TEST_CASE("reference: forward stopping after conv3_1 records the first five convs", "[reference][recorder]") {
  const auto net = fmviz::load_vgg16<float>(weights("raw_full"));
  fmviz::ActivationRecorder<float> rec;
  const Tensor<float> out = net.forward(input(), rec, "conv3_1");
  CHECK(rec.names() == convs_to_3_1);
  CHECK_FALSE(rec.contains("conv3_2"));
  check_layers(rec, "f32", convs_to_3_1, "stop after conv3_1");
  // A stop at a conv includes the ReLU right after it.
  const double err = relative_error(out, reference("f32/conv3_1.npy"), true);
  report("stop after conv3_1", "relu3_1", err);
  CHECK(err <= tolerance);
}

// ---- the sibling variants: VGG11, VGG13, VGG19 conv stacks on a small input ----------------------

namespace {

/// Loads the `variant` conv stack of the fixture, runs its small input and compares every conv
/// (the names must be exactly `expected`, which must also be PyTorch's list in the manifest).
void check_variant(fmviz::VggVariant variant, const std::string& key, const std::vector<std::string>& expected) {
  const nlohmann::json& v = manifest().at("variants").at(key);
  const std::vector<std::string> pytorch = v.at("layers").get<std::vector<std::string>>();
  REQUIRE(pytorch == expected);
  const auto net = fmviz::load_vgg<float>(variant, ref_path(v.at("weights").get<std::string>()));
  CHECK(net.conv_names() == pytorch);
  CHECK_FALSE(net.has_classifier());
  CHECK(net.layers().back().info.name == "pool5");
  fmviz::ActivationRecorder<float> rec;
  const Tensor<float>& x = reference(v.at("input").get<std::string>());
  const auto size = v.at("size").get<std::size_t>();
  REQUIRE(x.shape() == fmviz::Shape{1, 3, size, size});
  const Tensor<float> out = net.forward(x, rec);
  CHECK(rec.names() == pytorch);
  check_layers(rec, key, pytorch, key + " conv stack");
  CHECK(out.shape() == fmviz::Shape{1, 512, size / 32, size / 32});
}

}  // namespace

TEST_CASE("reference: VGG11 conv stack matches PyTorch", "[reference][variants]") {
  check_variant(fmviz::VggVariant::vgg11, "vgg11",
                {"conv1_1", "conv2_1", "conv3_1", "conv3_2", "conv4_1", "conv4_2", "conv5_1", "conv5_2"});
}

TEST_CASE("reference: VGG13 conv stack matches PyTorch", "[reference][variants]") {
  check_variant(fmviz::VggVariant::vgg13, "vgg13",
                {"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv4_1", "conv4_2", "conv5_1", "conv5_2"});
}

TEST_CASE("reference: VGG19 conv stack matches PyTorch", "[reference][variants]") {
  check_variant(fmviz::VggVariant::vgg19, "vgg19",
                {"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
                 "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4"});
}

TEST_CASE("reference: a VGG16 raw file loaded as VGG19 fails naming VGG19's sizes", "[reference][variants]") {
  std::string message;
  try {
    (void)fmviz::load_vgg<float>(fmviz::VggVariant::vgg19, weights("raw_convs"));
  } catch (const fmviz::Error& e) {
    message = e.what();
  }
  INFO("message: " << message);
  CHECK(message.find("58,858,752 bytes") != std::string::npos);   // the VGG16 conv stack it was given
  CHECK(message.find("80,097,536 (VGG19 conv stack)") != std::string::npos);
  CHECK(message.find("574,668,960 (VGG19 full model)") != std::string::npos);
}

// ---- image preprocessing -----------------------------------------------------------------------

namespace {

/// load_image(path) with the torchvision preset, and max / mean |difference| from input.npy.
std::pair<double, double> torchvision_input_error(const std::string& path) {
  fmviz::ImageOptions options;
  options.size = manifest().at("input").at("size").get<std::size_t>();
  options.preset = fmviz::Preset::torchvision;
  const Tensor<float> x = fmviz::load_image<float>(path, options);
  REQUIRE(x.shape() == input().shape());
  double max_err = 0, sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = std::abs(double(x[i]) - double(input()[i]));
    max_err = std::max(max_err, e);
    sum += e;
  }
  return {max_err, sum / double(x.size())};
}

}  // namespace

TEST_CASE("reference: load_image reproduces the torchvision input tensor", "[reference][image]") {
  // The same pixels PIL decoded, stored as PNG: resize and normalisation must match PyTorch exactly.
  const auto [max_err, mean_err] = torchvision_input_error(ref_path(manifest().at("input").at("decoded_png").get<std::string>()));
  report("load_image torchvision PNG", "input", max_err);
  CHECK(max_err <= 1e-5);
  (void)mean_err;
}

#if defined(FMVIZ_HAVE_LIBJPEG)
TEST_CASE("reference: load_image on the JPEG reproduces the torchvision input tensor (libjpeg: PIL's pixels)", "[reference][image]") {
  const auto [max_err, mean_err] = torchvision_input_error(manifest().at("input").at("image").get<std::string>());
  report("load_image torchvision JPEG", "input", max_err);
  CHECK(max_err <= 1e-5);
  (void)mean_err;
}

TEST_CASE("reference: 224x224 JPEG photos give PyTorch's activations (PIL decoding) on all 13 layers", "[reference][image]") {
  const nlohmann::json& photos = manifest().at("jpeg224");
  REQUIRE(photos.size() >= 1);
  for (const nlohmann::json& j : photos) {
    const std::string image = j.at("image").get<std::string>();
    INFO(image);
    fmviz::ImageOptions options;
    options.preset = fmviz::Preset::torchvision;
    const Tensor<float> x = fmviz::load_image<float>(ref_path(image), options);
    const Tensor<float>& ref_input = reference(j.at("dir").get<std::string>() + "/input.npy");
    REQUIRE(x.shape() == ref_input.shape());
    double input_err = 0;
    for (std::size_t i = 0; i < x.size(); ++i) input_err = std::max(input_err, std::abs(double(x[i]) - double(ref_input[i])));
    report("JPEG " + image, "input", input_err);
    CHECK(input_err <= 1e-5);
    const fmviz::Network<float> net = fmviz::load_vgg16<float>(ref_path(j.at("weights").get<std::string>()));
    fmviz::ActivationRecorder<float> rec;
    (void)net.forward(x, rec);
    check_layers(rec, j.at("dir").get<std::string>(), all_convs, "JPEG " + image);
  }
}
#else
TEST_CASE("reference: load_image on the JPEG differs only by JPEG decoding (stb_image)", "[reference][image]") {
  WARN("fmviz is built without libjpeg: JPEGs go through stb_image, whose pixels differ from PIL's");
  // stb_image and PIL's libjpeg-turbo decode some pixels of this JPEG up to 3 levels apart (IDCT and
  // chroma upsampling differ), so only a decoder-sized difference is asked for: a few levels at most
  // (1 level is 1/255/0.225 = 0.017 after normalisation), and far less on average.
  const auto [max_err, mean_err] = torchvision_input_error(manifest().at("input").at("image").get<std::string>());
  report("load_image torchvision JPEG", "input", max_err);
  report("load_image torchvision JPEG", "mean", mean_err);
  CHECK(max_err <= 4 / 255.0 / 0.224);
  CHECK(mean_err <= 2e-3);
}
#endif

TEST_CASE("reference: load_image reproduces the Caffe input tensor", "[reference][image][oxford]") {
  const nlohmann::json* o = oxford();
  if (!o) return;
  const Tensor<float>& ref = reference(o->at("input").get<std::string>());
  fmviz::ImageOptions options;
  options.preset = fmviz::Preset::caffe;
  const Tensor<float> x = fmviz::load_image<float>(o->at("image").get<std::string>(), options);
  const double err = relative_error(x, ref);
  report("load_image caffe", "input", err);
  CHECK(err <= 1e-5);  // 0-255 scale: relative to the largest |value|
}

// ---- the real Oxford weights (conv1_1 ... conv3_1 only) -----------------------------------------

TEST_CASE("reference: Oxford VGG16 prefix loads with last_layer conv3_1", "[reference][oxford]") {
  const nlohmann::json* o = oxford();
  if (!o) return;
  const auto net = fmviz::load_vgg16<float>(oxford_weights(*o), up_to("conv3_1"));
  CHECK(net.conv_names() == convs_to_3_1);
  CHECK(net.layers().back().info.name == "relu3_1");
  CHECK_FALSE(net.has_classifier());
  const auto& conv1_1 = net.conv("conv1_1");
  CHECK(conv1_1.bias()[0] == 0.73429835f);
}

TEST_CASE("reference: Oxford VGG16 prefix matches PyTorch with the Caffe preset", "[reference][oxford]") {
  const nlohmann::json* o = oxford();
  if (!o) return;
  const auto net = fmviz::load_vgg16<float>(oxford_weights(*o), up_to("conv3_1"));
  fmviz::ActivationRecorder<float> rec;
  net.forward(reference(o->at("input").get<std::string>()), rec);
  CHECK(rec.names() == convs_to_3_1);
  check_layers(rec, "oxford", convs_to_3_1, "Oxford (Caffe preset)");
}

TEST_CASE("reference: Oxford VGG16 prefix without last_layer fails with a hint", "[reference][oxford]") {
  const nlohmann::json* o = oxford();
  if (!o) return;
  std::string message;
  try {
    (void)fmviz::load_vgg16<float>(oxford_weights(*o));
  } catch (const fmviz::Error& e) {
    message = e.what();
  }
  INFO("message: " << message);
  CHECK_FALSE(message.empty());
  CHECK(message.find("--last-layer conv3_1") != std::string::npos);
}
