// The channel atlas: the accumulator against a brute-force ranking (ties, NaN), splits and thread counts that
// must not change it, the table on disk (round trip, every kind of damage refused with a clear error), merging
// shards exactly, resuming a finished run, and a small network end to end.
#include <fmviz/fmviz.hpp>

#include "conv_reference.hpp"
#include "test_support.hpp"

#include <map>
#include <random>

using fmviz_test::contains;
using fmviz_test::error_of;
using fmviz_test::TempDir;
namespace fs = std::filesystem;

namespace {

fmviz::Tensor<float> random_tensor(fmviz::Shape shape, std::uint32_t seed, float scale = 0.3f) {
  return fmviz_test::random_tensor<float>(std::move(shape), seed, -scale, scale);
}

// Activations with many ties (values on a coarse grid), some NaN, and some whole-map ties.
fmviz::Tensor<float> tied_activation(std::size_t n, std::size_t c, std::size_t h, std::size_t w, std::uint32_t seed) {
  fmviz::Tensor<float> t({n, c, h, w});
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(0, 4), nan(0, 60);
  for (float& v : t) v = nan(rng) == 0 ? std::nanf("") : static_cast<float>(level(rng)) * 0.5f;
  // Channel 0 of every image: all zero (a dead ReLU channel): every image ties.
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < h * w; ++k) t.data()[(i * c) * h * w + k] = 0.0f;
  return t;
}

struct Ranked {
  std::vector<fmviz::AtlasHit> by_max, by_mean;
};

// The ranking done the obvious way: every image's max (first in row-major order), mean in double, sorted.
std::vector<Ranked> brute_force(const fmviz::Tensor<float>& a, const std::vector<std::uint64_t>& ids, std::size_t k) {
  const std::size_t n = a.dim(0), c = a.dim(1), h = a.dim(2), w = a.dim(3);
  std::vector<Ranked> out(c);
  for (std::size_t ch = 0; ch < c; ++ch) {
    for (std::size_t i = 0; i < n; ++i) {
      const float* v = a.data() + (i * c + ch) * h * w;
      bool has_nan = false;
      for (std::size_t q = 0; q < h * w; ++q) has_nan = has_nan || std::isnan(v[q]);
      if (has_nan) continue;
      std::size_t best = 0;
      double sum = 0;
      for (std::size_t q = 0; q < h * w; ++q) {
        if (v[q] > v[best]) best = q;
        sum += v[q];
      }
      const auto y = static_cast<std::uint32_t>(best / w), x = static_cast<std::uint32_t>(best % w);
      out[ch].by_max.push_back({ids[i], v[best], y, x});
      out[ch].by_mean.push_back({ids[i], static_cast<float>(sum / static_cast<double>(h * w)), y, x});
    }
    for (auto* list : {&out[ch].by_max, &out[ch].by_mean}) {
      std::sort(list->begin(), list->end(), [](const fmviz::AtlasHit& p, const fmviz::AtlasHit& q) {
        return p.value != q.value ? p.value > q.value : p.image < q.image;
      });
      if (list->size() > k) list->resize(k);
    }
  }
  return out;
}

bool same_hits(const std::vector<fmviz::AtlasHit>& a, const std::vector<fmviz::AtlasHit>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].image != b[i].image || std::memcmp(&a[i].value, &b[i].value, 4) != 0 || a[i].y != b[i].y || a[i].x != b[i].x) return false;
  return true;
}

bool same_layer(const fmviz::AtlasLayer& a, const fmviz::AtlasLayer& b) {
  if (a.name != b.name || a.height != b.height || a.width != b.width || a.channels.size() != b.channels.size()) return false;
  for (std::size_t c = 0; c < a.channels.size(); ++c)
    if (!same_hits(a.channels[c].by_max, b.channels[c].by_max) || !same_hits(a.channels[c].by_mean, b.channels[c].by_mean)) return false;
  return true;
}

bool same_atlas(const fmviz::Atlas& a, const fmviz::Atlas& b) {
  if (!fmviz::atlas_difference(a, b).empty() || a.skipped != b.skipped || a.layers.size() != b.layers.size()) return false;
  for (std::size_t l = 0; l < a.layers.size(); ++l)
    if (!same_layer(a.layers[l], b.layers[l])) return false;
  return true;
}

// Items [first, first + count) of a batch.
fmviz::Tensor<float> slice(const fmviz::Tensor<float>& a, std::size_t first, std::size_t count) {
  const std::size_t per = a.size() / a.dim(0);
  fmviz::Tensor<float> s({count, a.dim(1), a.dim(2), a.dim(3)});
  std::copy(a.data() + first * per, a.data() + (first + count) * per, s.data());
  return s;
}

fmviz::Network<float> small_net() {
  std::vector<fmviz::Layer<float>> layers;
  layers.emplace_back("conv1_1", fmviz::Conv2d<float>(random_tensor({8, 3, 3, 3}, 1), random_tensor({8}, 2), 1, 1));
  layers.emplace_back("relu1_1", fmviz::ReLU{});
  layers.emplace_back("pool1", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("conv2_1", fmviz::Conv2d<float>(random_tensor({16, 8, 3, 3}, 3), random_tensor({16}, 4), 1, 1));
  layers.emplace_back("relu2_1", fmviz::ReLU{});
  layers.emplace_back("pool2", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("conv3_1", fmviz::Conv2d<float>(random_tensor({12, 16, 3, 3}, 5), random_tensor({12}, 6), 1, 1));
  layers.emplace_back("relu3_1", fmviz::ReLU{});
  return fmviz::Network<float>(std::move(layers));
}

// `count` small random photos in `dir`, named so that their sorted order is their number.
std::vector<std::string> photos(const fs::path& dir, std::size_t count) {
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < count; ++i) {
    fmviz::RgbImage img;
    img.width = 20 + i % 3;
    img.height = 18 + i % 4;
    img.pixels.resize(img.width * img.height * 3);
    std::mt19937 rng(static_cast<std::uint32_t>(100 + i));
    std::uniform_real_distribution<float> dist(0.f, 1.f);
    for (float& v : img.pixels) v = dist(rng);
    char name[32];
    std::snprintf(name, sizeof name, "p%03zu.png", i);
    paths.push_back((dir / name).string());
    fmviz::write_png(paths.back(), fmviz::to_image8(img));
  }
  return paths;
}

fmviz::AtlasOptions small_options() {
  fmviz::AtlasOptions o;
  o.size = 16;
  o.top_k = 4;
  o.weights_label = "small";
  return o;
}

std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).generic_string()] = fmviz_test::read_text(e.path());
  return files;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A table in memory with a few hits, valid.
fmviz::Atlas tiny_atlas() {
  fmviz::Atlas a;
  a.settings.top_k = 3;
  a.settings.size = 32;
  a.settings.weights_label = "w.bin";
  fmviz::set_atlas_images(a, {"a.png", "b.png", "c.png", "d.png"});
  a.skipped = {2};
  fmviz::AtlasLayer l;
  l.name = "conv1_1";
  l.height = 4;
  l.width = 5;
  l.channels.resize(2);
  l.channels[0].by_max = {{3, 2.5f, 1, 4}, {0, 1.0f, 0, 0}, {1, 1.0f, 3, 2}};
  l.channels[0].by_mean = {{1, 0.75f, 3, 2}, {0, 0.25f, 0, 0}};
  l.channels[1].by_max = {{0, -1.0f, 2, 2}};
  a.layers.push_back(l);
  return a;
}

}  // namespace

TEST_CASE("the accumulator ranks as a brute-force sort does, ties and NaN included", "[atlas]") {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    const std::size_t n = 37, c = 5, h = 3, w = 4;
    const fmviz::Tensor<float> a = tied_activation(n, c, h, w, seed);
    std::vector<std::uint64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = 1000 - 7 * i;  // any indices, not in order
    for (std::size_t k : {std::size_t(1), std::size_t(5), std::size_t(50)}) {
      fmviz::AtlasAccumulator acc("conv", c, h, w, k);
      acc.add(a, ids);
      const fmviz::AtlasLayer got = acc.result();
      const std::vector<Ranked> want = brute_force(a, ids, k);
      for (std::size_t ch = 0; ch < c; ++ch) {
        INFO("seed " << seed << " k " << k << " channel " << ch);
        CHECK(same_hits(got.channels[ch].by_max, want[ch].by_max));
        CHECK(same_hits(got.channels[ch].by_mean, want[ch].by_mean));
        CHECK(got.channels[ch].by_max.size() == std::min(k, want[ch].by_max.size()));
      }
    }
  }
}

TEST_CASE("NaN maps are left out, ties go to the lower image, the first maximum is the position", "[atlas]") {
  fmviz::Tensor<float> a({3, 1, 2, 2});
  const float v[] = {1, 5, 5, 0,  // image 10: max 5 twice: (0, 1), the first in row-major order
                     std::nanf(""), 9, 9, 9,  // image 11: a NaN: no rank
                     5, 0, 0, 0};  // image 12: max 5 at (0, 0), ties image 10 by max: image 10 first
  std::copy(std::begin(v), std::end(v), a.data());
  fmviz::AtlasAccumulator acc("conv", 1, 2, 2, 5);
  acc.add(a, {10, 11, 12});
  const fmviz::AtlasLayer r = acc.result();
  REQUIRE(r.channels[0].by_max.size() == 2);
  CHECK(r.channels[0].by_max[0].image == 10);
  CHECK(r.channels[0].by_max[0].y == 0);
  CHECK(r.channels[0].by_max[0].x == 1);
  CHECK(r.channels[0].by_max[1].image == 12);
  REQUIRE(r.channels[0].by_mean.size() == 2);
  CHECK(r.channels[0].by_mean[0].image == 10);
  CHECK(r.channels[0].by_mean[0].value == 2.75f);
  CHECK(r.channels[0].by_mean[1].value == 1.25f);
  CHECK(r.channels[0].by_mean[1].x == 0);  // by mean, the hit still says where the maximum is
  // +inf and -inf in one map: the mean is NaN, so no rank either way.
  fmviz::Tensor<float> inf({1, 1, 1, 2});
  inf.data()[0] = INFINITY;
  inf.data()[1] = -INFINITY;
  fmviz::AtlasAccumulator acc2("conv", 1, 1, 2, 5);
  acc2.add(inf, {0});
  CHECK(acc2.result().channels[0].by_max.empty());
}

TEST_CASE("any split of the images, in any order, merged, gives the whole", "[atlas]") {
  const std::size_t n = 60, c = 4, h = 2, w = 3, k = 7;
  const fmviz::Tensor<float> a = tied_activation(n, c, h, w, 9);
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = i;
  fmviz::AtlasAccumulator whole("conv", c, h, w, k);
  whole.add(a, ids);
  const fmviz::AtlasLayer want = whole.result();
  std::mt19937 rng(5);
  for (int trial = 0; trial < 8; ++trial) {
    // Random cuts into batches, fed to random parts, the parts merged in a random order.
    const std::size_t parts = 1 + rng() % 4;
    std::vector<fmviz::AtlasAccumulator> accs;
    for (std::size_t p = 0; p < parts; ++p) accs.emplace_back("conv", c, h, w, k);
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t first = 0; first < n;) {
      const std::size_t count = std::min<std::size_t>(n - first, 1 + rng() % 9);
      fmviz::Tensor<float> batch({count, c, h, w});
      std::vector<std::uint64_t> batch_ids;
      for (std::size_t q = 0; q < count; ++q) {
        const fmviz::Tensor<float> one = slice(a, order[first + q], 1);
        std::copy(one.begin(), one.end(), batch.data() + q * c * h * w);
        batch_ids.push_back(ids[order[first + q]]);
      }
      accs[rng() % parts].add(batch, batch_ids);
      first += count;
    }
    fmviz::AtlasAccumulator merged("conv", c, h, w, k);
    std::vector<std::size_t> merge_order(parts);
    for (std::size_t p = 0; p < parts; ++p) merge_order[p] = p;
    std::shuffle(merge_order.begin(), merge_order.end(), rng);
    for (std::size_t p : merge_order) merged.add(accs[p].result());
    INFO("trial " << trial << ", " << parts << " parts");
    CHECK(same_layer(merged.result(), want));
  }
}

TEST_CASE("the accumulator's result does not depend on the thread count", "[atlas]") {
  const fmviz::Tensor<float> a = tied_activation(40, 64, 7, 7, 4);
  std::vector<std::uint64_t> ids(40);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = i * 3;
  const int saved = fmviz::thread_count();
  std::vector<fmviz::AtlasLayer> results;
  for (int threads : {1, 2, 4}) {
    fmviz::set_thread_count(threads);
    fmviz::AtlasAccumulator acc("conv", 64, 7, 7, 6);
    acc.add(a, ids);
    results.push_back(acc.result());
  }
  fmviz::set_thread_count(saved);
  CHECK(same_layer(results[0], results[1]));
  CHECK(same_layer(results[0], results[2]));
}

TEST_CASE("the accumulator refuses what does not fit it", "[atlas]") {
  fmviz::AtlasAccumulator acc("conv3_1", 4, 2, 2, 3);
  auto e = error_of([&] { acc.add(fmviz::Tensor<float>({1, 5, 2, 2}), {0}); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("conv3_1"));
  e = error_of([&] { acc.add(fmviz::Tensor<float>({2, 4, 2, 2}), {0}); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("image indices"));
  CHECK(error_of([] { fmviz::AtlasAccumulator("c", 1, 1, 1, 0); }));
}

TEST_CASE("a table round-trips, with deterministic bytes", "[atlas]") {
  TempDir tmp;
  const fmviz::Atlas a = tiny_atlas();
  fmviz::write_atlas_table(a, tmp.file("t"));
  CHECK(fs::exists(tmp.file("t/atlas.json")));
  CHECK(fs::exists(tmp.file("t/conv1_1.bin")));
  const fmviz::Atlas b = fmviz::read_atlas_table(tmp.file("t"));
  CHECK(same_atlas(a, b));
  fmviz::write_atlas_table(b, tmp.file("u"));
  CHECK(tree(tmp.file("t")) == tree(tmp.file("u")));
  // No temporary files are left.
  for (const auto& e : fs::directory_iterator(tmp.file("t"))) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("a damaged or inconsistent table is refused with an error naming the file and the field", "[atlas]") {
  TempDir tmp;
  const fmviz::Atlas good = tiny_atlas();
  fmviz::write_atlas_table(good, tmp.file("good"));
  const std::string manifest = fmviz_test::read_text(tmp.file("good/atlas.json"));
  const std::string layer = fmviz_test::read_text(tmp.file("good/conv1_1.bin"));

  // Changes to the manifest's text (the checksums still hold).
  const auto with_manifest = [&](const std::string& name, const std::string& text) {
    const fs::path dir = tmp.path() / name;
    fs::create_directories(dir);
    write_bytes(dir / "atlas.json", text);
    write_bytes(dir / "conv1_1.bin", layer);
    return dir.string();
  };
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = manifest;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  const std::vector<std::tuple<std::string, std::string, std::string>> manifest_cases = {
      {"truncated", manifest.substr(0, manifest.size() / 2), "not valid JSON"},
      {"empty", "", "not valid JSON"},
      {"array", "[1,2]", "expected a JSON object"},
      {"deep", "{\"a\":[[[[[[1]]]]]]}", "nested deeper"},
      {"version", replaced("\"version\": 2", "\"version\": 3"), "version"},
      {"image_count", replaced("\"image_count\": 4", "\"image_count\": 5"), "4 paths, but shard 0/1 of 5 images has 5"},
      {"image_count_huge", replaced("\"image_count\": 4", "\"image_count\": 18446744073709551615"), "4 paths, but shard"},
      {"images_crc32", replaced("\"images_crc32\": ", "\"images_crc32\": 1"), "images_crc32"},
      {"format", replaced("\"fmviz atlas\"", "\"something\""), "format"},
      {"topk", replaced("\"top_k\": 3", "\"top_k\": 100000"), "top_k"},
      {"topk_type", replaced("\"top_k\": 3", "\"top_k\": \"3\""), "top_k"},
      {"images_few", replaced("\"d.png\"", "\"d.png\"], \"x\": [0"), "unknown key"},
      {"skipped_range", replaced("\"skipped\": [\n  2\n ]", "\"skipped\": [\n  99\n ]"), "skipped"},
      {"shard", replaced("\"index\": 0", "\"index\": 5"), "shard"},
      {"name", replaced("\"name\": \"conv1_1\"", "\"name\": \"../etc\""), "not a layer name"},
      {"file", replaced("\"file\": \"conv1_1.bin\"", "\"file\": \"other.bin\""), "file"},
      {"channels", replaced("\"channels\": 2", "\"channels\": 3"), "channels"},
      {"height", replaced("\"height\": 4", "\"height\": 3"), "map size"},
      {"duplicate", replaced("\"size\": 32", "\"size\": 32, \"size\": 64"), "appears twice"},
      {"missing", replaced("\"tap\": \"relu\",", ""), "tap"},
      {"tap", replaced("\"tap\": \"relu\"", "\"tap\": \"pool\""), "tap"},
  };
  for (const auto& [name, text, fragment] : manifest_cases) {
    const std::string dir = with_manifest(name, text);
    const auto e = error_of([&] { fmviz::read_atlas_table(dir); });
    INFO(name);
    REQUIRE(e);
    CHECK_THAT(e->what(), contains(fragment));
    CHECK_THAT(e->what(), contains(dir));
  }

  // Changes to the layer file: the manifest's size and checksum are made to agree, so the layer checks are reached.
  const auto with_layer = [&](const std::string& name, const std::string& bytes) {
    const fs::path dir = tmp.path() / name;
    fs::create_directories(dir);
    nlohmann::json m = nlohmann::json::parse(manifest);
    m["layers"][0]["bytes"] = bytes.size();
    m["layers"][0]["crc32"] = fmviz::detail::Crc32::update(0, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    write_bytes(dir / "atlas.json", m.dump(1));
    write_bytes(dir / "conv1_1.bin", bytes);
    return dir.string();
  };
  const auto patched = [&](std::size_t offset, std::uint32_t v) {
    std::string s = layer;
    for (int b = 0; b < 4; ++b) s[offset + b] = static_cast<char>((v >> (8 * b)) & 0xff);
    return s;
  };
  // Channel 0 starts at 48: counts (3, 2), then hit 0 at 56: image (8 bytes), value, y, x.
  const std::vector<std::tuple<std::string, std::string, std::string>> layer_cases = {
      {"l_truncated", layer.substr(0, layer.size() - 7), "file ends"},
      {"l_short", layer.substr(0, 20), "shorter than"},
      {"l_extra", layer + "xyz", "after the last channel"},
      {"l_magic", "X" + layer.substr(1), "magic"},
      {"l_count", patched(48, 4), "more than top_k"},
      {"l_count_huge", patched(48, 0xffffffffu), "more than top_k"},
      {"l_image", patched(56, 77), "out of range"},
      {"l_skipped", patched(56, 2), "skipped"},
      {"l_y", patched(56 + 12, 4), "outside"},
      {"l_order", patched(56 + 8, 0x3f800000u /* 1.0 */), "out of order"},
      {"l_nan", patched(56 + 8, 0x7fc00000u), "NaN"},
      {"l_channels", patched(16, 1000), "channels"},
  };
  for (const auto& [name, bytes, fragment] : layer_cases) {
    const std::string dir = with_layer(name, bytes);
    const auto e = error_of([&] { fmviz::read_atlas_table(dir); });
    INFO(name);
    REQUIRE(e);
    CHECK_THAT(e->what(), contains(fragment));
    CHECK_THAT(e->what(), contains("conv1_1.bin"));
  }

  // A layer file of another run (the checksum differs), a missing layer file, a missing manifest.
  {
    const fs::path dir = tmp.path() / "swapped";
    fs::create_directories(dir);
    write_bytes(dir / "atlas.json", manifest);
    write_bytes(dir / "conv1_1.bin", patched(56 + 12, 2));
    const auto e = error_of([&] { fmviz::read_atlas_table(dir.string()); });
    REQUIRE(e);
    CHECK_THAT(e->what(), contains("checksum"));
    fs::remove(dir / "conv1_1.bin");
    CHECK(error_of([&] { fmviz::read_atlas_table(dir.string()); }));
    fs::remove(dir / "atlas.json");
    const auto m = error_of([&] { fmviz::read_atlas_table(dir.string()); });
    REQUIRE(m);
    CHECK_THAT(m->what(), contains("did not finish"));
  }
  // Every truncation of the manifest and of the layer file is refused without a crash.
  for (std::size_t cut = 0; cut + 1 < manifest.size(); cut += 7) {  // without its last "}"
    const std::string dir = with_manifest("cut_m", manifest.substr(0, cut));
    CHECK(error_of([&] { fmviz::read_atlas_table(dir); }));
  }
  for (std::size_t cut = 0; cut < layer.size(); ++cut) {
    const std::string dir = with_layer("cut_l", layer.substr(0, cut));
    CHECK(error_of([&] { fmviz::read_atlas_table(dir); }));
  }
  // Writing checks the atlas the same way: nothing is written for a bad one.
  fmviz::Atlas bad = good;
  bad.layers[0].channels[0].by_max[0].image = 9;
  const auto e = error_of([&] { fmviz::write_atlas_table(bad, tmp.file("bad")); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("out of range"));
  CHECK_FALSE(fs::exists(tmp.file("bad")));
}

TEST_CASE("shards of a small network's run merge into the single run's table, byte for byte", "[atlas]") {
  TempDir tmp;
  fs::create_directories(tmp.path() / "img");
  std::vector<std::string> images = photos(tmp.path() / "img", 11);
  // One unreadable image among them: skipped, in the shard that owns it, and in the merge.
  write_bytes(tmp.path() / "img" / "p005.png", "not a png");
  const fmviz::Network<float> net = small_net();
  fmviz::AtlasOptions o = small_options();
  o.layers = {"conv3_1", "conv1_1"};
  const fmviz::AtlasTableRun whole = fmviz::write_atlas(net, images, o, tmp.file("whole"));
  CHECK_FALSE(whole.reused);
  REQUIRE(whole.atlas.layers.size() == 2);
  CHECK(whole.atlas.layers[0].name == "conv1_1");  // network order
  CHECK(whole.atlas.layers[0].height == 16);
  CHECK(whole.atlas.layers[1].height == 4);
  CHECK(whole.atlas.layers[1].channels.size() == 12);
  CHECK(whole.atlas.skipped == std::vector<std::uint64_t>{5});
  for (const fmviz::ChannelTop& c : whole.atlas.layers[1].channels) {
    CHECK(c.by_max.size() == 4);
    for (const fmviz::AtlasHit& h : c.by_max) CHECK(h.image != 5);
  }

  // Shards: 3 of them, each with another batch size; merged from the tables in a shuffled order.
  std::vector<std::string> dirs;
  for (std::size_t i : {2u, 0u, 1u}) {
    fmviz::AtlasOptions s = o;
    s.shard = {i, 3};
    s.batch = 1 + i;
    dirs.push_back(tmp.file("shard" + std::to_string(i)));
    const fmviz::AtlasTableRun r = fmviz::write_atlas(net, images, s, dirs.back());
    for (const auto& layer : r.atlas.layers)
      for (const auto& c : layer.channels)
        for (const auto& h : c.by_max) CHECK(h.image % 3 == i);
  }
  // Each shard's table lists its own images only, with the whole list's length and checksum.
  for (std::size_t k = 0; k < dirs.size(); ++k) {
    const fmviz::Atlas part = fmviz::read_atlas_table(dirs[k]);
    CHECK(part.image_count == images.size());
    CHECK(part.images_crc32 == whole.atlas.images_crc32);
    REQUIRE(part.images.size() == (images.size() - part.shard.index + 2) / 3);
    for (std::size_t i = 0; i < part.images.size(); ++i) CHECK(part.images[i] == images[part.shard.index + 3 * i]);
  }
  const fmviz::Atlas merged = fmviz::merge_atlas_tables(dirs);
  CHECK(same_atlas(merged, whole.atlas));
  CHECK(merged.images == images);
  fmviz::write_atlas_table(merged, tmp.file("merged"));
  CHECK(tree(tmp.file("merged")) == tree(tmp.file("whole")));

  // Incomplete, repeated or mismatched sets of shards are refused.
  auto e = error_of([&] { fmviz::merge_atlas_tables({dirs[0], dirs[1]}); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("is missing"));
  e = error_of([&] { fmviz::merge_atlas_tables({dirs[0], dirs[1], dirs[2], dirs[0]}); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("given twice"));
  e = error_of([&] { fmviz::merge_atlas_tables({dirs[0], tmp.file("whole")}); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("counted alike"));
  fmviz::Atlas other = fmviz::read_atlas_table(dirs[1]);
  other.settings.top_k = 3;
  e = error_of([&] { fmviz::merge_atlases({fmviz::read_atlas_table(dirs[0]), other}, {"a", "b"}); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("top_k"));
  other = fmviz::read_atlas_table(dirs[1]);  // shard 0/3
  other.images[0] = "elsewhere.png";
  fmviz::AtlasOptions first_shard = o;
  first_shard.shard = {0, 3};
  CHECK_THAT(fmviz::atlas_difference(other, fmviz::plan_atlas(net, images, first_shard)), contains("image 0 is elsewhere.png"));
  e = error_of([&] { fmviz::merge_atlases({fmviz::read_atlas_table(dirs[0]), other, fmviz::read_atlas_table(dirs[2])}, {"a", "b", "c"}); });
  REQUIRE(e);
  CHECK(e->field() == "images_crc32");
  CHECK_THAT(e->what(), contains("do not make up the list"));

  // Thread count and batch size change nothing.
  const int saved = fmviz::thread_count();
  fmviz::set_thread_count(1);
  fmviz::AtlasOptions one = o;
  one.batch = 4;
  const fmviz::Atlas single_thread = fmviz::make_atlas(net, images, one);
  fmviz::set_thread_count(saved);
  CHECK(same_atlas(single_thread, whole.atlas));
}

TEST_CASE("a finished table is not made twice; another request's table is not overwritten", "[atlas]") {
  TempDir tmp;
  fs::create_directories(tmp.path() / "img");
  const std::vector<std::string> images = photos(tmp.path() / "img", 5);
  const fmviz::Network<float> net = small_net();
  fmviz::AtlasOptions o = small_options();
  o.shard = {1, 2};
  struct Count : fmviz::AtlasObserver {
    std::size_t calls = 0;
    void images_done(std::size_t, std::size_t) override { ++calls; }
  } first, second;
  const auto a = fmviz::write_atlas(net, images, o, tmp.file("t"), &first);
  CHECK_FALSE(a.reused);
  CHECK(first.calls > 0);
  const auto before = tree(tmp.file("t"));
  const auto b = fmviz::write_atlas(net, images, o, tmp.file("t"), &second);
  CHECK(b.reused);
  CHECK(second.calls == 0);
  CHECK(same_atlas(a.atlas, b.atlas));
  CHECK(tree(tmp.file("t")) == before);
  fmviz::AtlasOptions changed = o;
  changed.top_k = 5;
  auto e = error_of([&] { fmviz::write_atlas(net, images, changed, tmp.file("t")); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("another request"));
  CHECK_THAT(e->what(), contains("top_k"));
  changed = o;
  changed.shard = {0, 2};
  e = error_of([&] { fmviz::write_atlas(net, images, changed, tmp.file("t")); });
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("shard"));
  CHECK(tree(tmp.file("t")) == before);
  // Without its manifest (a run stopped before the end) the folder is not a finished table: the run is made again.
  fs::remove(tmp.file("t/atlas.json"));
  const auto c = fmviz::write_atlas(net, images, o, tmp.file("t"));
  CHECK_FALSE(c.reused);
  CHECK(tree(tmp.file("t")) == before);
}

TEST_CASE("a bad request fails before any image is read, naming the field", "[atlas]") {
  const fmviz::Network<float> net = small_net();
  const std::vector<std::string> images = {"/no/such/image.png"};
  const auto field_of = [&](const fmviz::AtlasOptions& o, const std::vector<std::string>& list) {
    const auto e = error_of([&] { fmviz::make_atlas(net, list, o); });
    return e ? e->field() : std::string("(no error)");
  };
  fmviz::AtlasOptions o = small_options();
  CHECK(field_of(o, {}) == "images");
  o.top_k = 0;
  CHECK(field_of(o, images) == "top_k");
  o.top_k = 1001;
  CHECK(field_of(o, images) == "top_k");
  o = small_options();
  o.layers = {"relu1_1"};
  CHECK(field_of(o, images) == "layers");
  o.layers = {"conv9_9"};
  CHECK(field_of(o, images) == "layers");
  o = small_options();
  o.size = 2;
  CHECK(field_of(o, images) == "size");
  o = small_options();
  o.shard = {3, 3};
  CHECK(field_of(o, images) == "shard");
  o.shard = {0, 0};
  CHECK(field_of(o, images) == "shard");
  o = small_options();
  CHECK(field_of(o, {std::string("bad\xff.png")}) == "images");
  // A good request with a missing image: skipped, or with stop_at_bad_image an error naming it.
  o = small_options();
  const fmviz::Atlas skipped = fmviz::make_atlas(net, images, o);
  CHECK(skipped.skipped == std::vector<std::uint64_t>{0});
  CHECK(skipped.layers[0].channels[0].by_max.empty());
  o.stop_at_bad_image = true;
  const auto e = error_of([&] { fmviz::make_atlas(net, images, o); });
  REQUIRE(e);
  CHECK(e->path() == images[0]);
}

TEST_CASE("the atlas of a small network agrees with the network's own activations", "[atlas]") {
  TempDir tmp;
  fs::create_directories(tmp.path() / "img");
  const std::vector<std::string> images = photos(tmp.path() / "img", 6);
  const fmviz::Network<float> net = small_net();
  fmviz::AtlasOptions o = small_options();
  o.tap = fmviz::Tap::conv;
  o.layers = {"conv2_1"};
  o.top_k = 6;
  const fmviz::Atlas atlas = fmviz::make_atlas(net, images, o);
  // Each image alone, recorded: its max and mean per channel.
  fmviz::Tensor<float> all({images.size(), 16, 8, 8});
  for (std::size_t i = 0; i < images.size(); ++i) {
    fmviz::ActivationRecorder<float> rec(fmviz::Tap::conv, {"conv2_1"});
    const fmviz::RgbImage photo = fmviz::resize_bilinear(fmviz::read_image(images[i]), 16, 16);
    net.forward(fmviz::to_tensor<float>(photo, o.preset), rec, "conv2_1");
    const auto& t = rec.at("conv2_1");
    std::copy(t.begin(), t.end(), all.data() + i * t.size());
  }
  std::vector<std::uint64_t> ids(images.size());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = i;
  const std::vector<Ranked> want = brute_force(all, ids, 6);
  REQUIRE(atlas.layers.size() == 1);
  for (std::size_t c = 0; c < 16; ++c) {
    INFO("channel " << c);
    CHECK(same_hits(atlas.layers[0].channels[c].by_max, want[c].by_max));
    CHECK(same_hits(atlas.layers[0].channels[c].by_mean, want[c].by_mean));
  }
}
