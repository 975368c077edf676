// Unit tests for the safetensors reader: every validation rule with its own malformed file, exact
// F32/F16/BF16 decoding, and VGG16 loading from torchvision- and timm-named files.
#include <fmviz/vgg_loader.hpp>

#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <variant>
#include <vector>

using fmviz::Shape;
using fmviz::Tensor;
using fmviz_test::Bytes;
using fmviz_test::contains;
using fmviz_test::error_of;
using fmviz_test::f32_bytes;
using fmviz_test::json_entry;
using fmviz_test::safetensors_bytes;
using fmviz_test::StSpec;
using fmviz_test::TempDir;

namespace {

/// Writes `bytes` to a fresh file and returns the Error read_safetensors throws on it (none if it succeeds).
struct Malformed {
  TempDir dir;
  std::string path = dir.file("bad.safetensors");

  std::optional<fmviz::Error> read(const Bytes& bytes) {
    fmviz_test::write_file(path, bytes);
    return error_of([&] { fmviz::read_safetensors(path); });
  }
  /// A file whose header is `header` and whose data is `data_size` zero bytes.
  std::optional<fmviz::Error> read(const std::string& header, std::size_t data_size) {
    return read(safetensors_bytes(header, Bytes(data_size, 0)));
  }
};

/// The header of a file with one F32 tensor "w" of shape [2] (8 bytes), with `fields` as its entry.
std::string one_entry(const std::string& fields) { return "{\"w\":{" + fields + "}}"; }
const std::string good_fields = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";

}  // namespace

// ---- malformed files: one rule each -----------------------------------------------------------------

TEST_CASE("safetensors: a file shorter than 8 bytes", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(Bytes{1, 0, 0, 0, 0});
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "header");
  CHECK_THAT(e->what(), contains("file is 5 bytes, too short for the 8-byte header length"));
  e = m.read(Bytes{});
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("file is 0 bytes"));
}

TEST_CASE("safetensors: a header length over 100,000,000", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(safetensors_bytes("{}", {}, 100000001));
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "header");
  CHECK_THAT(e->what(), contains("header length 100000001 exceeds the limit of 100000000 bytes"));
  e = m.read(safetensors_bytes("{}", {}, std::numeric_limits<std::uint64_t>::max()));
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("exceeds the limit"));
  // Exactly the limit is not over it: the file is then too short instead.
  e = m.read(safetensors_bytes("{}", {}, 100000000));
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("runs past the end"));
}

TEST_CASE("safetensors: a header length past the end of the file", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(safetensors_bytes("{}", {}, 3));
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "header");
  CHECK_THAT(e->what(), contains("header length 3 runs past the end of the 10-byte file"));
}

TEST_CASE("safetensors: a header that is not valid JSON", "[safetensors][errors]") {
  Malformed m;
  for (const std::string& header : {std::string(R"({"w": )"), std::string("{} trailing"), std::string(""),
                                   std::string(R"({'w': 1})")}) {
    CAPTURE(header);
    auto e = m.read(header, 0);
    REQUIRE(e);
    CHECK(e->path() == m.path);
    CHECK(e->field() == "header");
    CHECK_THAT(e->what(), contains("is not valid JSON"));
  }
}

TEST_CASE("safetensors: a header that is not an object", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read("[1, 2]", 0);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "header");
  CHECK_THAT(e->what(), contains("expected a JSON object, found array"));
  e = m.read("42", 0);
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("expected a JSON object, found number"));
}

TEST_CASE("safetensors: a duplicate tensor name", "[safetensors][errors]") {
  Malformed m;
  const std::string header = "{" + json_entry("w", "F32", {2}, 0, 8) + "," + json_entry("w", "F32", {2}, 8, 16) + "}";
  auto e = m.read(header, 16);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "w");
  CHECK_THAT(e->what(), contains("appears twice"));
}

TEST_CASE("safetensors: a duplicate key inside an entry names the entry", "[safetensors][errors]") {
  Malformed m;
  const std::string header = "{" + json_entry("a", "F32", {2}, 0, 8) + ",\"w\":{" +
                             R"("dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[8,16]}})";
  auto e = m.read(header, 16);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK_THAT(e->what(), contains("dtype") && contains("twice"));
  // Which tensor's entry holds the duplicate key? Every other entry error names it as "w.<key>";
  // "dtype" alone could be any of the entries.
  CHECK(e->field() == "w.dtype");
  // And the text is its own: this is a repeated key, not a repeated tensor name.
  CHECK_THAT(e->what(), !contains("duplicate names"));
}

TEST_CASE("safetensors: an entry missing dtype, shape or data_offsets", "[safetensors][errors]") {
  Malformed m;
  struct Case {
    std::string fields, missing;
  };
  for (const Case& c : {Case{R"("shape":[2],"data_offsets":[0,8])", "dtype"},
                        Case{R"("dtype":"F32","data_offsets":[0,8])", "shape"},
                        Case{R"("dtype":"F32","shape":[2])", "data_offsets"}}) {
    CAPTURE(c.missing);
    auto e = m.read(one_entry(c.fields), 8);
    REQUIRE(e);
    CHECK(e->path() == m.path);
    CHECK(e->field() == "w");
    CHECK_THAT(e->what(), contains("missing field \"" + c.missing + "\""));
  }
  auto e = m.read(R"({"w": [1, 2]})", 0);  // not even an object
  REQUIRE(e);
  CHECK(e->field() == "w");
  CHECK_THAT(e->what(), contains("expected an object with dtype, shape and data_offsets"));
}

TEST_CASE("safetensors: an unknown field in an entry", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(one_entry(good_fields + R"(,"offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "w.offsets");
  CHECK_THAT(e->what(), contains("unknown field"));
}

TEST_CASE("safetensors: an unknown dtype", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(one_entry(R"("dtype":"F48","shape":[2],"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "w.dtype");
  CHECK_THAT(e->what(), contains("unknown dtype \"F48\""));
  e = m.read(one_entry(R"("dtype":"f32","shape":[2],"data_offsets":[0,8])"), 8);  // names are case-sensitive
  REQUIRE(e);
  CHECK(e->field() == "w.dtype");
  e = m.read(one_entry(R"("dtype":4,"shape":[2],"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("unknown dtype 4"));
}

TEST_CASE("safetensors: a shape that is not an array of non-negative integers", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(one_entry(R"("dtype":"F32","shape":2,"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "w.shape");
  CHECK_THAT(e->what(), contains("expected an array, found 2"));

  e = m.read(one_entry(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK(e->field() == "w.shape");
  CHECK_THAT(e->what(), contains("expected a non-negative integer, found -2"));

  e = m.read(one_entry(R"("dtype":"F32","shape":[2.0],"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK(e->field() == "w.shape");
  CHECK_THAT(e->what(), contains("expected a non-negative integer, found 2.0"));

  e = m.read(one_entry(R"("dtype":"F32","shape":["2"],"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK(e->field() == "w.shape");
}

TEST_CASE("safetensors: data_offsets that are not a pair of integers", "[safetensors][errors]") {
  Malformed m;
  for (const std::string& offsets : {std::string("[0]"), std::string("[0,4,8]"), std::string("\"0,8\""), std::string("8")}) {
    CAPTURE(offsets);
    auto e = m.read(one_entry(R"("dtype":"F32","shape":[2],"data_offsets":)" + offsets), 8);
    REQUIRE(e);
    CHECK(e->path() == m.path);
    CHECK(e->field() == "w.data_offsets");
    CHECK_THAT(e->what(), contains("expected [begin, end], found"));
  }
  auto e = m.read(one_entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,-8])"), 8);
  REQUIRE(e);
  CHECK(e->field() == "w.data_offsets");
  CHECK_THAT(e->what(), contains("expected a non-negative integer, found -8"));
}

TEST_CASE("safetensors: data_offsets with begin after end", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(one_entry(R"("dtype":"F32","shape":[0],"data_offsets":[8,4])"), 8);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "w.data_offsets");
  CHECK_THAT(e->what(), contains("begin 8 is after end 4"));
}

TEST_CASE("safetensors: data_offsets past the end of the data (a truncated file)", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(one_entry(good_fields), 4);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "w.data_offsets");
  CHECK_THAT(e->what(), contains("end 8 is past the 4 bytes of data (file truncated?)"));
}

TEST_CASE("safetensors: dtype x shape different from the byte span", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(one_entry(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "w");
  CHECK_THAT(e->what(), contains("dtype F32 x shape (3) needs 12 bytes but data_offsets span 8"));

  e = m.read(one_entry(R"("dtype":"F16","shape":[2,2],"data_offsets":[0,4])"), 4);
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("dtype F16 x shape (2,2) needs 8 bytes but data_offsets span 4"));

  e = m.read(one_entry(R"("dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK(e->field() == "w");
  CHECK_THAT(e->what(), contains("needs more than 2^64 bytes"));

  e = m.read(one_entry(R"("dtype":"I64","shape":[4611686018427387904],"data_offsets":[0,8])"), 8);
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("needs more than 2^64 bytes"));
}

TEST_CASE("safetensors: overlapping byte ranges", "[safetensors][errors]") {
  Malformed m;
  const std::string header = "{" + json_entry("a", "F32", {2}, 0, 8) + "," + json_entry("b", "F32", {2}, 4, 12) + "}";
  auto e = m.read(header, 12);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "b.data_offsets");
  CHECK_THAT(e->what(), contains("bytes [4, 12) overlap tensor a"));

  // Two tensors on the very same bytes.
  const std::string same = "{" + json_entry("a", "F32", {2}, 0, 8) + "," + json_entry("b", "F32", {2}, 0, 8) + "}";
  e = m.read(same, 8);
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("overlap tensor"));
}

TEST_CASE("safetensors: a hole between tensors", "[safetensors][errors]") {
  Malformed m;
  const std::string header = "{" + json_entry("a", "F32", {2}, 0, 8) + "," + json_entry("b", "F32", {2}, 12, 20) + "}";
  auto e = m.read(header, 20);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "b.data_offsets");
  CHECK_THAT(e->what(), contains("starts at 12 but the previous tensor ends at 8") && contains("no holes"));

  e = m.read("{" + json_entry("a", "F32", {2}, 4, 12) + "}", 12);  // a hole before the first tensor
  REQUIRE(e);
  CHECK(e->field() == "a.data_offsets");
  CHECK_THAT(e->what(), contains("starts at 4"));
}

TEST_CASE("safetensors: trailing bytes not covered by any tensor", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(one_entry(good_fields), 12);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "data");
  CHECK_THAT(e->what(), contains("4 bytes after the last tensor are not covered by the header"));
  e = m.read("{}", 1);
  REQUIRE(e);
  CHECK_THAT(e->what(), contains("1 bytes after the last tensor"));
}

TEST_CASE("safetensors: __metadata__ that is not an object of strings", "[safetensors][errors]") {
  Malformed m;
  auto e = m.read(R"({"__metadata__":"pt"})", 0);
  REQUIRE(e);
  CHECK(e->path() == m.path);
  CHECK(e->field() == "__metadata__");
  CHECK_THAT(e->what(), contains("expected an object of strings"));
  e = m.read(R"({"__metadata__":{"format":"pt","epochs":90}})", 0);
  REQUIRE(e);
  CHECK(e->field() == "__metadata__.epochs");
  CHECK_THAT(e->what(), contains("expected a string value, found 90"));
}

TEST_CASE("safetensors: every rule has its own message", "[safetensors][errors]") {
  Malformed m;
  // A tensor "a" on bytes [0, 8) and a second entry.
  const auto two = [](const std::string& second) { return "{" + json_entry("a", "F32", {2}, 0, 8) + "," + second + "}"; };
  const std::vector<Bytes> files = {
      Bytes{1, 2, 3},
      safetensors_bytes("{}", {}, 100000001),
      safetensors_bytes("{}", {}, 3),
      safetensors_bytes("{", {}),
      safetensors_bytes("[]", {}),
      safetensors_bytes(two(json_entry("a", "F32", {2}, 8, 16)), Bytes(16, 0)),
      safetensors_bytes(one_entry(R"("shape":[2],"data_offsets":[0,8])"), Bytes(8, 0)),
      safetensors_bytes(one_entry(good_fields + R"(,"x":1)"), Bytes(8, 0)),
      safetensors_bytes(one_entry(R"("dtype":"X","shape":[2],"data_offsets":[0,8])"), Bytes(8, 0)),
      safetensors_bytes(one_entry(R"("dtype":"F32","shape":{},"data_offsets":[0,8])"), Bytes(8, 0)),
      safetensors_bytes(one_entry(R"("dtype":"F32","shape":[-1],"data_offsets":[0,8])"), Bytes(8, 0)),
      safetensors_bytes(one_entry(R"("dtype":"F32","shape":[2],"data_offsets":[0])"), Bytes(8, 0)),
      safetensors_bytes(one_entry(R"("dtype":"F32","shape":[0],"data_offsets":[8,0])"), Bytes(8, 0)),
      safetensors_bytes(one_entry(good_fields), Bytes(4, 0)),
      safetensors_bytes(one_entry(R"("dtype":"F32","shape":[1],"data_offsets":[0,8])"), Bytes(8, 0)),
      safetensors_bytes(two(json_entry("b", "F32", {2}, 4, 12)), Bytes(12, 0)),
      safetensors_bytes(two(json_entry("b", "F32", {2}, 12, 20)), Bytes(20, 0)),
      safetensors_bytes(one_entry(good_fields), Bytes(9, 0)),
      safetensors_bytes(R"({"__metadata__":[]})", {}),
      safetensors_bytes(R"({"__metadata__":{"a":1}})", {}),
  };
  std::vector<std::string> messages;
  for (const auto& f : files) {
    auto e = m.read(f);
    REQUIRE(e);
    CHECK(e->path() == m.path);
    CHECK_FALSE(e->field().empty());
    std::string what = e->what();
    what.erase(0, m.path.size() + 2 + e->field().size() + 2);  // keep the message after "path: field: "
    messages.push_back(what);
  }
  for (std::size_t i = 0; i < messages.size(); ++i)
    for (std::size_t j = i + 1; j < messages.size(); ++j) {
      CAPTURE(messages[i], messages[j]);
      CHECK(messages[i] != messages[j]);
    }
}

// ---- valid files ------------------------------------------------------------------------------------

TEST_CASE("safetensors: F32, F16 and BF16 values decode exactly", "[safetensors]") {
  const std::vector<std::uint16_t> f16 = {
      0x3C00,  // 1
      0xC000,  // -2
      0x3555,  // 0.333251953125
      0x7BFF,  // 65504, the largest half
      0x0400,  // 2^-14, the smallest normal
      0x03FF,  // 1023 * 2^-24, the largest subnormal
      0x0200,  // 2^-15, a subnormal
      0x0001,  // 2^-24, the smallest subnormal
      0x8001,  // -2^-24
      0x8000,  // -0
      0x0000,  // +0
      0x7C00,  // +inf
      0xFC00,  // -inf
      0x7E00,  // NaN
  };
  const std::vector<std::uint16_t> bf16 = {
      0x3F80,  // 1
      0xC040,  // -3
      0x4049,  // 3.140625
      0x7F7F,  // the largest bfloat16, 0x7F7F0000 as a float
      0x0001,  // the smallest bfloat16 subnormal, 2^-133
      0x8000,  // -0
      0x7F80,  // +inf
      0xFF80,  // -inf
      0x7FC0,  // NaN
  };
  const std::vector<float> f32 = {1.5f, -0.f, std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
                                  -std::numeric_limits<float>::infinity(), 3.14159274f};
  Bytes f16_data, bf16_data;
  for (auto h : f16) fmviz_test::append_u16(f16_data, h);
  for (auto h : bf16) fmviz_test::append_u16(bf16_data, h);

  TempDir dir;
  const std::string path = dir.file("values.safetensors");
  fmviz_test::write_file(path, fmviz_test::safetensors_file({{"half", "F16", {2, 7}, f16_data},
                                                             {"brain", "BF16", {9}, bf16_data},
                                                             {"single", "F32", {1, 6}, f32_bytes(f32)}}));
  const auto table = fmviz::read_safetensors(path);
  REQUIRE(table.tensors.size() == 3);
  CHECK(table.path() == path);

  const auto* half = table.find("half");
  REQUIRE(half);
  CHECK(half->dtype == fmviz::DType::f16);
  CHECK(half->shape == Shape{2, 7});
  CHECK(half->byte_size == 28);
  const auto h = fmviz::to_tensor<float>(*half);
  CHECK(h.shape() == Shape{2, 7});
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == 0.333251953125f);
  CHECK(h[3] == 65504.0f);
  CHECK(h[4] == std::ldexp(1.0f, -14));
  CHECK(h[5] == 1023.0f * std::ldexp(1.0f, -24));
  CHECK(h[6] == std::ldexp(1.0f, -15));
  CHECK(h[7] == std::ldexp(1.0f, -24));
  CHECK(h[8] == -std::ldexp(1.0f, -24));
  CHECK(h[9] == 0.0f);
  CHECK(std::signbit(h[9]));
  CHECK(h[10] == 0.0f);
  CHECK_FALSE(std::signbit(h[10]));
  CHECK(h[11] == std::numeric_limits<float>::infinity());
  CHECK(h[12] == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(h[13]));

  const auto* brain = table.find("brain");
  REQUIRE(brain);
  CHECK(brain->dtype == fmviz::DType::bf16);
  const auto b = fmviz::to_tensor<float>(*brain);
  CHECK(b[0] == 1.0f);
  CHECK(b[1] == -3.0f);
  CHECK(b[2] == 3.140625f);
  CHECK(b[3] == 255.0f * std::ldexp(1.0f, 120));
  CHECK(b[4] == std::ldexp(1.0f, -133));
  CHECK(b[5] == 0.0f);
  CHECK(std::signbit(b[5]));
  CHECK(b[6] == std::numeric_limits<float>::infinity());
  CHECK(b[7] == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(b[8]));

  const auto s = fmviz::to_tensor<float>(*table.find("single"));
  CHECK(s.shape() == Shape{1, 6});
  for (std::size_t i = 0; i < f32.size(); ++i) CHECK(std::memcmp(&s[i], &f32[i], 4) == 0);

  const auto d = fmviz::to_tensor<double>(*half);
  CHECK(d[7] == std::ldexp(1.0, -24));

  // Every finite half: decoding agrees with the independent encoder used to write the VGG files.
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    if ((bits & 0x7C00u) == 0x7C00u) continue;  // inf, NaN
    const float v = fmviz::detail::half_to_float(static_cast<std::uint16_t>(bits));
    REQUIRE(fmviz_test::f16_bits_exact(v) == bits);
  }
}

TEST_CASE("safetensors: zero-sized tensors, __metadata__, padding and data order", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("misc.safetensors");
  // Header keys in one order, data in another; a zero-sized tensor between two others; metadata; a
  // header padded with spaces as the reference writer does.
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}," + json_entry("a", "F32", {2}, 12, 20) + "," +
                       json_entry("empty", "F32", {0, 3}, 12, 12) + "," + json_entry("z", "F32", {3}, 0, 12) + "}";
  header.append(8 - header.size() % 8, ' ');
  fmviz_test::write_file(path, safetensors_bytes(header, f32_bytes({1, 2, 3, 4, 5})));
  const auto table = fmviz::read_safetensors(path);
  REQUIRE(table.tensors.size() == 3);
  CHECK(table.find("__metadata__") == nullptr);
  // Data order, not key order ("empty" and "a" both start at byte 12, so only z-before-a is fixed).
  const auto position = [&](const std::string& name) {
    for (std::size_t i = 0; i < table.tensors.size(); ++i)
      if (table.tensors[i].name == name) return i;
    return table.tensors.size();
  };
  CHECK(position("z") == 0);
  CHECK(position("a") > position("z"));
  const auto* empty = table.find("empty");
  REQUIRE(empty);
  CHECK(empty->byte_size == 0);
  const auto e = fmviz::to_tensor<float>(*empty);
  CHECK(e.shape() == Shape{0, 3});
  CHECK(e.empty());
  const auto a = fmviz::to_tensor<float>(*table.find("a"));
  CHECK(a[0] == 4.f);
  CHECK(a[1] == 5.f);

  // A file with no tensors at all.
  const std::string none = dir.file("none.safetensors");
  fmviz_test::write_file(none, safetensors_bytes("{}", {}));
  CHECK(fmviz::read_safetensors(none).tensors.empty());
  // Other dtypes can be validated, though not loaded.
  const std::string ints = dir.file("ints.safetensors");
  fmviz_test::write_file(ints, fmviz_test::safetensors_file({{"i", "I64", {2}, Bytes(16, 0)}, {"u", "U8", {3}, Bytes(3, 0)}}));
  const auto t = fmviz::read_safetensors(ints);
  REQUIRE(t.tensors.size() == 2);
  CHECK(t.tensors[0].dtype == fmviz::DType::i64);
  auto err = error_of([&] { fmviz::to_tensor<float>(t.tensors[0], ints); });
  REQUIRE(err);
  CHECK(err->path() == ints);
  CHECK(err->field() == "i");
  CHECK_THAT(err->what(), contains("dtype I64 cannot be loaded (expected F32, F16 or BF16)"));
}

// ---- VGG16 from safetensors -------------------------------------------------------------------------

namespace {

using fmviz_test::vgg_value_f16;
using fmviz_test::vgg_value_f32;

/// The VGG16 state_dict as safetensors specs (torchvision names), ids in torchvision order.
std::vector<StSpec> vgg16_st_specs(bool full, const std::string& dtype) {
  std::vector<StSpec> specs;
  const auto tv = fmviz_test::vgg16_specs(full);
  for (std::size_t i = 0; i < tv.size(); ++i) specs.push_back({tv[i].name, dtype, tv[i].shape, i});
  return specs;
}

float value_f32(std::size_t id, std::size_t i) { return vgg_value_f32(id, i); }
float value_f16(std::size_t id, std::size_t i) { return vgg_value_f16(id, i); }

template <typename ValueOf>
bool holds(const Tensor<float>& t, std::size_t id, ValueOf value_of) {
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t[i] != value_of(id, i)) return false;
  return true;
}

/// Every weighted layer of `net` holds the values of its torchvision tensor ids.
template <typename ValueOf>
void check_vgg_values(const fmviz::Network<float>& net, ValueOf value_of) {
  std::size_t id = 0;
  for (const auto& l : net.layers()) {
    CAPTURE(l.info.name);
    if (const auto* conv = l.as<fmviz::Conv2d<float>>()) {
      CHECK(holds(conv->weight(), id, value_of));
      CHECK(holds(conv->bias(), id + 1, value_of));
      id += 2;
    } else if (const auto* fc = l.as<fmviz::Linear<float>>()) {
      CHECK(holds(fc->weight(), id, value_of));
      CHECK(holds(fc->bias(), id + 1, value_of));
      id += 2;
    }
  }
  CHECK(id == (net.has_classifier() ? 32u : 26u));
}

bool same_weights(const fmviz::Network<float>& a, const fmviz::Network<float>& b) {
  if (a.layers().size() != b.layers().size()) return false;
  auto same = [](const Tensor<float>& x, const Tensor<float>& y) {
    return x.shape() == y.shape() && std::equal(x.begin(), x.end(), y.begin());
  };
  for (std::size_t i = 0; i < a.layers().size(); ++i) {
    const auto& la = a.layers()[i];
    const auto& lb = b.layers()[i];
    if (la.info.name != lb.info.name || la.info.kind != lb.info.kind) return false;
    if (const auto* ca = la.as<fmviz::Conv2d<float>>()) {
      const auto& cb = lb.get<fmviz::Conv2d<float>>();
      if (!same(ca->weight(), cb.weight()) || !same(ca->bias(), cb.bias())) return false;
    } else if (const auto* fa = la.as<fmviz::Linear<float>>()) {
      const auto& fb = lb.get<fmviz::Linear<float>>();
      if (!same(fa->weight(), fb.weight()) || !same(fa->bias(), fb.bias())) return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("load_vgg16: a safetensors VGG16 conv stack with torchvision names", "[safetensors][vgg]") {
  TempDir dir;
  const std::string path = dir.file("vgg16_features.safetensors");
  fmviz_test::write_safetensors_streamed(path, vgg16_st_specs(false, "F32"), value_f32);

  const auto net = fmviz::load_vgg16<float>(path);
  CHECK(net.layers().size() == 31);
  CHECK(net.layers().back().info.name == "pool5");
  CHECK_FALSE(net.has_classifier());
  CHECK(net.notes().empty());
  CHECK(net.output_shape({1, 3, 224, 224}) == Shape{1, 512, 7, 7});
  check_vgg_values(net, value_f32);

  // A prefix of the stack: the tensors after it are expected to be unused, so no note.
  const auto part = fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"conv3_1"});
  CHECK(part.layers().back().info.name == "relu3_1");
  CHECK(part.notes().empty());

  auto e = error_of([&] { fmviz::load_vgg16<float>(path, fmviz::LoadOptions{"fc6"}); });
  REQUIRE(e);
  CHECK(e->path() == path);
  CHECK_THAT(e->what(), contains("is in the classifier, but the file holds only the conv stack"));

  // Detection by content: the same file under another name.
  const std::string renamed = dir.file("vgg16_features.st");
  fmviz_test::fs::copy_file(path, renamed);
  CHECK(same_weights(fmviz::load_vgg16<float>(renamed), net));
}

TEST_CASE("load_vgg16: safetensors tensors in shuffled order load the same", "[safetensors][vgg]") {
  TempDir dir;
  auto specs = vgg16_st_specs(false, "F32");
  const auto in_order = specs;
  std::mt19937 rng(42);
  std::shuffle(specs.begin(), specs.end(), rng);
  REQUIRE(specs.front().name != in_order.front().name);
  const std::string shuffled = dir.file("shuffled.safetensors");
  fmviz_test::write_safetensors_streamed(shuffled, specs, value_f32);
  const auto table = fmviz::read_safetensors(shuffled);
  REQUIRE(table.tensors.front().name == specs.front().name);  // the file really is in the new order

  const auto net = fmviz::load_vgg16<float>(shuffled);
  CHECK(net.layers().back().info.name == "pool5");
  CHECK(net.notes().empty());
  check_vgg_values(net, value_f32);
}

TEST_CASE("load_vgg16: safetensors F16 weights load as their float values", "[safetensors][vgg]") {
  TempDir dir;
  const std::string path = dir.file("vgg16_f16.safetensors");
  fmviz_test::write_safetensors_streamed(path, vgg16_st_specs(false, "F16"), value_f16);
  REQUIRE(fmviz_test::fs::file_size(path) > 14714688 * 2);
  const auto net = fmviz::load_vgg16<float>(path);
  CHECK(net.layers().back().info.name == "pool5");
  check_vgg_values(net, value_f16);
}

TEST_CASE("load_vgg16: a missing tensor is named with its expected shape", "[safetensors][vgg][errors]") {
  TempDir dir;
  auto specs = vgg16_st_specs(false, "F16");
  specs.erase(std::find_if(specs.begin(), specs.end(), [](const StSpec& s) { return s.name == "features.14.bias"; }));
  const std::string path = dir.file("missing.safetensors");
  fmviz_test::write_safetensors_streamed(path, specs, value_f16);
  auto e = error_of([&] { fmviz::load_vgg16<float>(path); });
  REQUIRE(e);
  CHECK(e->path() == path);
  CHECK(e->field() == "features.14.bias");
  CHECK_THAT(e->what(), contains("features.14.bias: missing (expected shape (256))"));
}

TEST_CASE("load_vgg16: a tensor of the wrong shape is named with both shapes", "[safetensors][vgg][errors]") {
  TempDir dir;
  auto specs = vgg16_st_specs(false, "F16");
  for (auto& s : specs)
    if (s.name == "features.10.weight") s.shape = {128, 256, 3, 3};  // same size, transposed O and I
  const std::string path = dir.file("wrong_shape.safetensors");
  fmviz_test::write_safetensors_streamed(path, specs, value_f16);
  auto e = error_of([&] { fmviz::load_vgg16<float>(path); });
  REQUIRE(e);
  CHECK(e->path() == path);
  CHECK(e->field() == "features.10.weight");
  CHECK_THAT(e->what(), contains("expected shape (256,128,3,3), found (128,256,3,3)"));

  // A bias with an extra dimension is no bias either.
  auto specs2 = vgg16_st_specs(false, "F16");
  specs2[1].shape = {64, 1};
  fmviz_test::write_safetensors_streamed(path, specs2, value_f16);
  e = error_of([&] { fmviz::load_vgg16<float>(path); });
  REQUIRE(e);
  CHECK(e->field() == "features.0.bias");
  CHECK_THAT(e->what(), contains("expected shape (64), found (64,1)"));
}

TEST_CASE("load_vgg16: extra tensors are ignored with a note", "[safetensors][vgg]") {
  TempDir dir;
  auto specs = vgg16_st_specs(false, "F32");
  specs.insert(specs.begin() + 3, StSpec{"features.1.running_mean", "F32", {64}, 100});
  specs.push_back(StSpec{"n_averaged", "I64", {}, 101});
  const std::string path = dir.file("extra.safetensors");
  fmviz_test::write_safetensors_streamed(path, specs, value_f32);
  const auto net = fmviz::load_vgg16<float>(path);
  CHECK(net.layers().back().info.name == "pool5");
  check_vgg_values(net, value_f32);
  REQUIRE(net.notes().size() == 1);
  CHECK_THAT(net.notes()[0], contains(path) && contains("ignored 2 tensor(s)") && contains("features.1.running_mean") &&
                                 contains("n_averaged"));
}

TEST_CASE("load_vgg16: an integer tensor for a conv weight is a dtype error", "[safetensors][vgg][errors]") {
  TempDir dir;
  auto specs = vgg16_st_specs(false, "F16");
  specs[2].dtype = "I64";  // features.2.weight, conv1_2
  const std::string path = dir.file("int_weight.safetensors");
  fmviz_test::write_safetensors_streamed(path, specs, value_f16);
  auto e = error_of([&] { fmviz::load_vgg16<float>(path); });
  REQUIRE(e);
  CHECK(e->path() == path);
  CHECK(e->field() == "features.2.weight");
  CHECK_THAT(e->what(), contains("dtype I64 cannot be loaded (expected F32, F16 or BF16)"));
}

TEST_CASE("load_vgg16: timm classifier names load and agree with torchvision's", "[safetensors][vgg][big]") {
  TempDir dir;
  const auto tv_specs = vgg16_st_specs(true, "F16");
  auto timm_specs = tv_specs;
  for (auto& s : timm_specs) {
    if (s.name == "classifier.0.weight") s = {"pre_logits.fc1.weight", "F16", {4096, 512, 7, 7}, s.id};
    if (s.name == "classifier.0.bias") s.name = "pre_logits.fc1.bias";
    if (s.name == "classifier.3.weight") s = {"pre_logits.fc2.weight", "F16", {4096, 4096, 1, 1}, s.id};
    if (s.name == "classifier.3.bias") s.name = "pre_logits.fc2.bias";
    if (s.name == "classifier.6.weight") s.name = "head.fc.weight";
    if (s.name == "classifier.6.bias") s.name = "head.fc.bias";
  }
  const std::string timm_path = dir.file("vgg16_timm.safetensors");
  fmviz_test::write_safetensors_streamed(timm_path, timm_specs, value_f16);
  const auto timm = fmviz::load_vgg16<float>(timm_path);
  CHECK(timm.has_classifier());
  CHECK(timm.layers().back().info.name == "fc8");
  CHECK(timm.notes().empty());
  CHECK(timm.output_shape({1, 3, 224, 224}) == Shape{1, 1000});
  const auto& fc6 = timm.layer("fc6").get<fmviz::Linear<float>>();
  CHECK(fc6.weight().shape() == Shape{4096, 25088});
  const auto& fc7 = timm.layer("fc7").get<fmviz::Linear<float>>();
  CHECK(fc7.weight().shape() == Shape{4096, 4096});
  check_vgg_values(timm, value_f16);
  fmviz_test::fs::remove(timm_path);

  const std::string tv_path = dir.file("vgg16_tv.safetensors");
  fmviz_test::write_safetensors_streamed(tv_path, tv_specs, value_f16);
  const auto tv = fmviz::load_vgg16<float>(tv_path);
  CHECK(tv.has_classifier());
  CHECK(same_weights(timm, tv));
}
