// .npy writing and reading, and the atomic file writer underneath.
// Fixtures: tools/fixtures/make_images.py (files written by NumPy).
#include <fmviz/detail/atomic_file.hpp>
#include <fmviz/npy.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "catch.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {

std::string data(const std::string& name) { return std::string(FMVIZ_TEST_DATA_DIR) + "/images/" + name; }

using fmviz_test::error_of;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

/// A fresh, empty directory of its own for each test case, removed afterwards.
struct ScratchDir {
  fs::path dir;
  explicit ScratchDir(const std::string& name) {
    dir = fs::path(FMVIZ_TEST_DATA_DIR) / "scratch" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string operator/(const std::string& file) const { return (dir / file).string(); }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

fmviz::Tensor<float> numbered(fmviz::Shape shape) {
  fmviz::Tensor<float> t(std::move(shape));
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i) * 0.5f - 3.0f;
  return t;
}

/// A .npy v1.0 file from its header dict (padded as the spec says) and data bytes.
std::string npy_bytes(std::string dict, const std::string& payload, char major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64) dict += ' ';
  dict += '\n';
  std::string s("\x93NUMPY", 6);
  s += major;
  s += '\0';
  for (std::size_t b = 0; b < prefix - 8; ++b) s += static_cast<char>((dict.size() >> (8 * b)) & 0xff);
  return s + dict + payload;
}

std::string float_bytes(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(i) + 0.25f;
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    for (int b = 0; b < 4; ++b) s += static_cast<char>((u >> (8 * b)) & 0xff);
  }
  return s;
}

}  // namespace

TEST_CASE("write_npy writes a version 1.0 header exactly as the .npy spec says") {
  ScratchDir tmp("npy_header");
  const auto t = numbered({2, 3, 4});
  fmviz::write_npy(tmp / "a.npy", t);
  const std::string bytes = slurp(tmp / "a.npy");
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }";
  REQUIRE(bytes.size() == 128 + 24 * 4);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  CHECK(static_cast<unsigned char>(bytes[8]) == 118);  // header length, little-endian u16: 10 + 118 = 128
  CHECK(bytes[9] == 0);
  CHECK(bytes.substr(10, dict.size()) == dict);
  CHECK(bytes.substr(10 + dict.size(), 128 - 11 - dict.size()) == std::string(128 - 11 - dict.size(), ' '));
  CHECK(bytes[127] == '\n');
  std::string values;  // little-endian float32 of each element
  for (float v : t) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    for (int b = 0; b < 4; ++b) values += static_cast<char>((u >> (8 * b)) & 0xff);
  }
  CHECK(bytes.substr(128) == values);

  // NumPy's own file for the same array (np.save): same dict (NumPy may pad more), same data bytes.
  const std::string numpy = slurp(data("npy_f4_rank3.npy"));
  const std::size_t numpy_len = static_cast<unsigned char>(numpy[8]) | static_cast<std::size_t>(static_cast<unsigned char>(numpy[9])) << 8;
  CHECK(numpy.substr(10, dict.size()) == dict);
  CHECK(numpy.substr(10 + numpy_len) == bytes.substr(128));
}

TEST_CASE("write_npy: float64, rank 0 and 1, another shape") {
  ScratchDir tmp("npy_write");
  fmviz::Tensor<double> d({5});
  for (std::size_t i = 0; i < 5; ++i) d[i] = 1.0 / 3.0 + static_cast<double>(i);
  fmviz::write_npy(tmp / "d.npy", d);
  const std::string bytes = slurp(tmp / "d.npy");
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }";
  CHECK(bytes.substr(10, dict.size() + 1) == dict + " ");
  CHECK(bytes.size() == 128 + 5 * 8);  // 10 + 57 + 1 rounds up to 128
  CHECK(bytes[127] == '\n');
  const auto back = fmviz::read_npy<double>(tmp / "d.npy");
  REQUIRE(back.shape() == fmviz::Shape{5});
  for (std::size_t i = 0; i < 5; ++i) CHECK(back[i] == d[i]);  // bit-exact

  fmviz::Tensor<float> scalar(fmviz::Shape{});
  scalar[0] = 2.5f;
  fmviz::write_npy(tmp / "s.npy", scalar);
  const std::string scalar_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
  CHECK(slurp(tmp / "s.npy").substr(10, scalar_dict.size() + 1) == scalar_dict + " ");
  CHECK(slurp(tmp / "s.npy").size() == 128 + 4);
  const auto s = fmviz::read_npy<float>(tmp / "s.npy");
  CHECK(s.shape().empty());
  CHECK(s[0] == 2.5f);

  // The CLI writes a (1, C, H, W) activation as (C, H, W).
  const auto act = numbered({1, 3, 2, 5});
  fmviz::write_npy(tmp / "chw.npy", act, {3, 2, 5});
  const auto chw = fmviz::read_npy<float>(tmp / "chw.npy");
  REQUIRE(chw.shape() == fmviz::Shape{3, 2, 5});
  CHECK(std::equal(chw.begin(), chw.end(), act.begin()));

  const auto e = error_of([&] { fmviz::write_npy(tmp / "bad.npy", act, {3, 2, 4}); });
  REQUIRE(e);
  CHECK(e->path() == tmp / "bad.npy");
  CHECK(e->field() == "shape");
  CHECK(tmp.files() == std::vector<std::string>{"chw.npy", "d.npy", "s.npy"});
}

TEST_CASE("write_npy then read_npy round-trips values and shape") {
  ScratchDir tmp("npy_roundtrip");
  auto t = numbered({2, 64, 7, 9});
  t[5] = -0.0f;
  t[6] = 1e-40f;  // subnormal
  t[7] = 3.4e38f;
  fmviz::write_npy(tmp / "t.npy", t);
  const auto f = fmviz::read_npy<float>(tmp / "t.npy");
  REQUIRE(f.shape() == t.shape());
  CHECK(std::memcmp(f.data(), t.data(), t.size() * sizeof(float)) == 0);
  const auto d = fmviz::read_npy<double>(tmp / "t.npy");
  REQUIRE(d.shape() == t.shape());
  for (std::size_t i = 0; i < t.size(); ++i) REQUIRE(d[i] == static_cast<double>(t[i]));

  fmviz::write_npy(tmp / "empty.npy", fmviz::Tensor<float>({0, 3}));
  CHECK(fmviz::read_npy<float>(tmp / "empty.npy").shape() == fmviz::Shape{0, 3});
}

TEST_CASE("read_npy reads files NumPy wrote") {
  const auto expect_rank3 = [](const fmviz::Tensor<float>& t) {
    REQUIRE(t.shape() == fmviz::Shape{2, 3, 4});
    for (std::size_t i = 0; i < 24; ++i) CHECK(t[i] == static_cast<float>(i) * 0.5f - 3.0f);
  };
  expect_rank3(fmviz::read_npy<float>(data("npy_f4_rank3.npy")));
  expect_rank3(fmviz::read_npy<float>(data("npy_v2.npy")));
  expect_rank3(fmviz::read_npy<float>(data("npy_v3.npy")));

  const auto d = fmviz::read_npy<double>(data("npy_f8_rank2.npy"));
  REQUIRE(d.shape() == fmviz::Shape{2, 3});
  for (std::size_t i = 0; i < 6; ++i) CHECK(d[i] == static_cast<double>(i) / 3 + 1e-12);
  const auto f = fmviz::read_npy<float>(data("npy_f8_rank2.npy"));
  CHECK(f[4] == static_cast<float>(4.0 / 3 + 1e-12));

  const auto r1 = fmviz::read_npy<float>(data("npy_f4_rank1.npy"));
  REQUIRE(r1.shape() == fmviz::Shape{3});
  CHECK(r1[0] == 1.5f);
  CHECK(r1[1] == -2.25f);
  CHECK(r1[2] == 1e30f);
  const auto r0 = fmviz::read_npy<float>(data("npy_f4_rank0.npy"));
  CHECK(r0.shape().empty());
  CHECK(r0[0] == 3.75f);
  CHECK(fmviz::read_npy<float>(data("npy_f4_empty.npy")).shape() == fmviz::Shape{0, 3});
}

TEST_CASE("read_npy refuses what it cannot read, naming the file and field") {
  struct Case {
    const char* file;
    const char* field;
  };
  for (const Case c : {Case{"npy_bad_bigendian.npy", "descr"}, Case{"npy_bad_int32.npy", "descr"},
                       Case{"npy_bad_fortran.npy", "fortran_order"}}) {
    CAPTURE(c.file);
    const auto e = error_of([&] { fmviz::read_npy<float>(data(c.file)); });
    REQUIRE(e);
    CAPTURE(e->what());
    CHECK(e->path() == data(c.file));
    CHECK(e->field() == c.field);
  }

  ScratchDir tmp("npy_corrupt");
  const std::string good_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const std::string six = float_bytes(6);
  spit(tmp / "good.npy", npy_bytes(good_dict, six));
  REQUIRE(fmviz::read_npy<float>(tmp / "good.npy")[5] == 5.25f);
  spit(tmp / "good_v2.npy", npy_bytes(good_dict, six, 2));
  REQUIRE(fmviz::read_npy<float>(tmp / "good_v2.npy")[1] == 1.25f);
  spit(tmp / "reordered.npy", npy_bytes("{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}", six));
  REQUIRE(fmviz::read_npy<float>(tmp / "reordered.npy").shape() == fmviz::Shape{2, 3});

  const std::string good = npy_bytes(good_dict, six);
  std::string bad_version = good;
  bad_version[6] = 4;
  std::string bad_minor = good;
  bad_minor[7] = 1;
  std::string long_header = good;
  long_header[9] = 0x7f;
  struct Bad {
    const char* name;
    std::string bytes;
    const char* field;
  };
  const std::vector<Bad> bad = {
      {"empty", "", "magic"},
      {"magic", "\x93NUMPZ" + good.substr(6), "magic"},
      {"short", good.substr(0, 9), "magic"},
      {"version", bad_version, "version"},
      {"minor", bad_minor, "version"},
      {"header_len", long_header, "header"},
      {"v2_cut", npy_bytes(good_dict, six, 2).substr(0, 11), "header"},
      {"truncated_data", good.substr(0, good.size() - 1), "data"},
      {"extra_data", good + "xxxx", "data"},
      {"no_data", good.substr(0, 128), "data"},
      {"missing_key", npy_bytes("{'descr': '<f4', 'shape': (2, 3), }", six), "fortran_order"},
      {"missing_shape", npy_bytes("{'descr': '<f4', 'fortran_order': False}", six), "shape"},
      {"extra_key", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", six), "header"},
      {"dup_key", npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", six), "header"},
      {"shape_int", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': 6}", six), "header"},
      {"shape_paren", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", six), "header"},
      {"shape_negative", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", six), "header"},
      {"shape_huge", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", six), "header"},
      {"shape_overflow", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", six), "shape"},
      {"fortran_word", npy_bytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", six), "header"},
      {"unterminated", npy_bytes("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", six), "header"},
      {"not_a_dict", npy_bytes("['descr', '<f4']", six), "header"},
      {"trailing", npy_bytes(good_dict + " x", six), "header"},
      {"no_close", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", six), "header"},
      {"descr_f2", npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", six), "descr"},
      {"fortran_true", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six), "fortran_order"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.name);
    const std::string path = tmp / (std::string(b.name) + ".npy");
    spit(path, b.bytes);
    const auto e = error_of([&] { fmviz::read_npy<float>(path); });
    REQUIRE(e);
    CAPTURE(e->what());
    CHECK(e->path() == path);
    CHECK(e->field() == b.field);
    CHECK(std::string(e->what()).find('\n') == std::string::npos);
  }
  CHECK_THROWS_AS(fmviz::read_npy<float>(tmp / "no_such_file.npy"), fmviz::Error);
  CHECK_THROWS_AS(fmviz::read_npy<float>(tmp.dir.string()), fmviz::Error);
}

TEST_CASE("write_file_atomically leaves no temporary file behind") {
  ScratchDir tmp("atomic");
  fmviz::detail::write_file_atomically(tmp / "a.bin", std::string_view("hello"));
  CHECK(slurp(tmp / "a.bin") == "hello");
  fmviz::detail::write_file_atomically(tmp / "a.bin", std::string_view("replaced"));
  CHECK(slurp(tmp / "a.bin") == "replaced");
  CHECK(tmp.files() == std::vector<std::string>{"a.bin"});

  // A writer that fails: the old file stays as it was, the temporary file is gone.
  const auto failing = error_of([&] {
    fmviz::detail::write_file_atomically(tmp / "a.bin", [](std::ostream& out) {
      out << "half";
      throw std::runtime_error("disk on fire");
    });
  });
  REQUIRE(failing);
  CHECK(failing->path() == tmp / "a.bin");
  CHECK_THAT(failing->what(), Catch::Contains("disk on fire"));
  CHECK(slurp(tmp / "a.bin") == "replaced");
  CHECK(tmp.files() == std::vector<std::string>{"a.bin"});
  const auto own = error_of([&] {
    fmviz::detail::write_file_atomically(tmp / "b.bin", [&](std::ostream&) { throw fmviz::Error(tmp / "b.bin", "x", "own"); });
  });
  REQUIRE(own);
  CHECK(own->field() == "x");
  CHECK(tmp.files() == std::vector<std::string>{"a.bin"});

  // Into a directory that does not exist: an error naming the path, nothing created.
  const std::string nowhere = tmp / "no/such/dir/t.npy";
  const auto missing = error_of([&] { fmviz::write_npy(nowhere, numbered({2, 2})); });
  REQUIRE(missing);
  CHECK(missing->path() == nowhere);
  CHECK(tmp.files() == std::vector<std::string>{"a.bin"});

  // The rename fails (the target is a non-empty directory): the temporary file is removed.
  fs::create_directories(tmp.dir / "taken" / "inside");
  const auto rename = error_of([&] { fmviz::write_npy(tmp / "taken", numbered({2, 2})); });
  REQUIRE(rename);
  CHECK(rename->path() == tmp / "taken");
  CHECK(tmp.files() == std::vector<std::string>{"a.bin", "taken"});

  CHECK_THROWS_AS(fmviz::detail::write_file_atomically("", std::string_view("x")), fmviz::Error);
}
