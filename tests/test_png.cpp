// encode_png / write_png: fmviz's own PNG encoder. Every picture must decode (stb_image) to exactly
// its pixels at every level; the file's structure (chunks, CRCs, zlib header and Adler-32, filter
// bytes) is checked against plain reference implementations; the Huffman codes are complete and at
// most 15 bits long; bad input is refused with fmviz::Error.
#include <fmviz/png.hpp>
#include <fmviz/detail/stb.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"

using fmviz::Image8;
using fmviz::PngOptions;
using fmviz_test::contains;

namespace {

using Bytes = std::vector<unsigned char>;

Image8 noise(std::size_t w, std::size_t h, std::size_t c, std::uint32_t seed) {
  Image8 img(w, h, c);
  std::mt19937 rng(seed);
  for (auto& v : img.pixels) v = static_cast<std::uint8_t>(rng() & 255);
  return img;
}

/// Like fmviz's grids: blocks of 8 x 8 equal pixels (nearest-neighbour upscaling) with a grey border.
Image8 blocks(std::size_t w, std::size_t h, std::size_t c, std::uint32_t seed) {
  Image8 img(w, h, c, 255);
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> cells((w / 8 + 1) * (h / 8 + 1) * c);
  for (auto& v : cells) v = static_cast<std::uint8_t>(rng() & 255);
  for (std::size_t y = 2; y + 2 < h; ++y)
    for (std::size_t x = 2; x + 2 < w; ++x)
      for (std::size_t k = 0; k < c; ++k) img.pixel(x, y)[k] = cells[((y / 8) * (w / 8 + 1) + x / 8) * c + k];
  return img;
}

/// Smooth gradients with a little noise: what photos and overlays look like to the filters.
Image8 gradient(std::size_t w, std::size_t h, std::size_t c, std::uint32_t seed) {
  Image8 img(w, h, c);
  std::mt19937 rng(seed);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x)
      for (std::size_t k = 0; k < c; ++k)
        img.pixel(x, y)[k] = static_cast<std::uint8_t>((x * 3 + y * 2 + k * 40 + (rng() % 3)) & 255);
  return img;
}

/// Decodes with stb_image, keeping the file's own channel count.
Image8 decode(const Bytes& png) {
  int w = 0, h = 0, c = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> data(
      stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &c, 0), stbi_image_free);
  if (!data) throw std::runtime_error(std::string("stb_image cannot decode it: ") + stbi_failure_reason());
  Image8 img(static_cast<std::size_t>(w), static_cast<std::size_t>(h), static_cast<std::size_t>(c));
  std::memcpy(img.pixels.data(), data.get(), img.pixels.size());
  return img;
}

bool same(const Image8& a, const Image8& b) {
  return a.width == b.width && a.height == b.height && a.channels == b.channels && a.pixels == b.pixels;
}

std::uint32_t be32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

std::uint32_t reference_crc(const unsigned char* p, std::size_t n) {  // bit by bit, as in the PNG specification
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}

std::uint32_t reference_adler(const unsigned char* p, std::size_t n) {
  std::uint32_t a = 1, b = 0;
  for (std::size_t i = 0; i < n; ++i) {
    a = (a + p[i]) % 65521;
    b = (b + a) % 65521;
  }
  return b << 16 | a;
}

struct Chunk {
  std::string type;
  Bytes data;
};

/// The chunks of a PNG file, each CRC checked.
std::vector<Chunk> chunks(const Bytes& png) {
  static const unsigned char signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  REQUIRE(png.size() >= 8);
  REQUIRE(std::memcmp(png.data(), signature, 8) == 0);
  std::vector<Chunk> out;
  for (std::size_t at = 8; at < png.size();) {
    REQUIRE(at + 12 <= png.size());
    const std::uint32_t length = be32(&png[at]);
    REQUIRE(at + 12 + length <= png.size());
    CHECK(be32(&png[at + 8 + length]) == reference_crc(&png[at + 4], length + 4));
    out.push_back({std::string(reinterpret_cast<const char*>(&png[at + 4]), 4), Bytes(&png[at + 8], &png[at + 8 + length])});
    at += 12 + length;
  }
  return out;
}

/// Checks the file's structure and that its scan lines, unfiltered, are the picture's rows.
void check_structure(const Bytes& png, const Image8& img) {
  const std::vector<Chunk> cs = chunks(png);
  REQUIRE(cs.size() >= 3);
  CHECK(cs.front().type == "IHDR");
  CHECK(cs.back().type == "IEND");
  CHECK(cs.back().data.empty());
  const Bytes& ihdr = cs.front().data;
  REQUIRE(ihdr.size() == 13);
  CHECK(be32(&ihdr[0]) == img.width);
  CHECK(be32(&ihdr[4]) == img.height);
  static const unsigned char colour_type[5] = {0, 0, 4, 2, 6};
  CHECK(ihdr[8] == 8);
  CHECK(ihdr[9] == colour_type[img.channels]);
  CHECK((ihdr[10] == 0 && ihdr[11] == 0 && ihdr[12] == 0));
  Bytes zlib;
  for (const Chunk& c : cs)
    if (c.type == "IDAT") zlib.insert(zlib.end(), c.data.begin(), c.data.end());
  REQUIRE(zlib.size() >= 6);
  CHECK((zlib[0] * 256 + zlib[1]) % 31 == 0);
  CHECK(zlib[0] == 0x78);
  int n = 0;
  std::unique_ptr<char, void (*)(void*)> raw(
      stbi_zlib_decode_malloc(reinterpret_cast<const char*>(zlib.data()), static_cast<int>(zlib.size()), &n), stbi_image_free);
  REQUIRE(raw);
  const std::size_t stride = img.width * img.channels;
  REQUIRE(static_cast<std::size_t>(n) == img.height * (stride + 1));
  const auto* rows = reinterpret_cast<const unsigned char*>(raw.get());
  CHECK(be32(&zlib[zlib.size() - 4]) == reference_adler(rows, static_cast<std::size_t>(n)));
  // Undo the filters (PNG specification, section 9) and compare with the picture.
  Bytes prior(stride, 0), line(stride);
  for (std::size_t y = 0; y < img.height; ++y) {
    const unsigned char* src = rows + y * (stride + 1);
    REQUIRE(src[0] <= 4);
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= img.channels ? line[i - img.channels] : 0, b = prior[i], c = i >= img.channels ? prior[i - img.channels] : 0;
      const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
      const int paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const int predicted[5] = {0, a, b, (a + b) / 2, paeth};
      line[i] = static_cast<unsigned char>(src[1 + i] + predicted[src[0]]);
    }
    CHECK(std::memcmp(line.data(), img.pixels.data() + y * stride, stride) == 0);
    prior = line;
  }
}

}  // namespace

TEST_CASE("PNG round trip: every channel count, size and level decodes to the same pixels", "[png]") {
  std::uint32_t seed = 1;
  for (std::size_t c = 1; c <= 4; ++c)
    for (const auto& [w, h] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 1}, {1, 9}, {9, 1}, {3, 5}, {37, 23}, {300, 70}}) {
      const std::vector<Image8> pictures = {noise(w, h, c, seed++), blocks(w, h, c, seed++), gradient(w, h, c, seed++),
                                            Image8(w, h, c, 77)};
      for (std::size_t k = 0; k < pictures.size(); ++k)
        for (int level = 0; level <= 9; ++level) {
          CAPTURE(c, w, h, k, level);
          PngOptions options;
          options.level = level;
          const Bytes png = fmviz::encode_png(pictures[k], options);
          CHECK(same(decode(png), pictures[k]));
        }
    }
}

TEST_CASE("PNG structure: chunks, CRCs, zlib header, Adler-32 and filters", "[png]") {
  for (int level : {0, 1, 2, 5, 9}) {
    CAPTURE(level);
    PngOptions options;
    options.level = level;
    for (const Image8& img : {noise(41, 17, 3, 7), blocks(130, 60, 1, 8), gradient(77, 31, 4, 9), gradient(5, 3, 2, 10)}) {
      CAPTURE(img.width, img.height, img.channels);
      check_structure(fmviz::encode_png(img, options), img);
    }
  }
  // Level 0 stores: no filtering, the rows as they are plus a little framing.
  const Image8 img = noise(200, 100, 3, 11);
  PngOptions stored;
  stored.level = 0;
  const Bytes png = fmviz::encode_png(img, stored);
  CHECK(png.size() < img.pixels.size() + img.height + 100);
  CHECK(png.size() > img.pixels.size());
}

TEST_CASE("PNG: pictures larger than one 64 KiB block, with far repeats, at every level", "[png]") {
  // 2000 x 600 grey: bands of noise and of repeated rows, so matches reach back over block boundaries.
  Image8 img(2000, 600, 1);
  std::mt19937 rng(12);
  for (std::size_t y = 0; y < img.height; ++y)
    for (std::size_t x = 0; x < img.width; ++x)
      img.pixels[y * img.width + x] = static_cast<std::uint8_t>(y / 16 % 2 ? (x * 31 + y / 16) & 255 : rng() % 5);
  std::size_t previous = SIZE_MAX;
  for (int level = 0; level <= 9; ++level) {
    CAPTURE(level);
    PngOptions options;
    options.level = level;
    const Bytes png = fmviz::encode_png(img, options);
    CHECK(same(decode(png), img));
    if (level == 9) check_structure(png, img);
    if (level <= 1) CHECK(png.size() < previous);  // compressing beats storing
    previous = png.size();
  }
}

TEST_CASE("PNG compresses what is easy to compress", "[png]") {
  const Image8 flat(1000, 1000, 3, 200);
  CHECK(fmviz::encode_png(flat).size() < 8000);  // 3 MB of one colour: deflate matches are at most 258 bytes long
  const Image8 grid = blocks(1810, 454, 1, 13);  // the size of a default conv1 grid, in 8 x 8 blocks
  CHECK(fmviz::encode_png(grid).size() < grid.pixels.size() / 8);
}

TEST_CASE("PNG output depends only on the picture and the level", "[png]") {
  const Image8 img = gradient(320, 240, 3, 14);
  for (int level = 0; level <= 9; ++level) {
    PngOptions options;
    options.level = level;
    CHECK(fmviz::encode_png(img, options) == fmviz::encode_png(img, options));
  }
  PngOptions defaults;
  CHECK(fmviz::encode_png(img) == fmviz::encode_png(img, defaults));
}

TEST_CASE("Huffman codes are complete, at most max_bits long, and shorter for more frequent symbols", "[png]") {
  // Fibonacci frequencies make the optimal code 30 bits deep: the lengths must be limited to 15 (7).
  std::vector<std::uint32_t> freq(286, 0);
  std::uint32_t a = 1, b = 1;
  for (std::size_t s = 0; s < 31; ++s) {
    freq[s * 9] = a;
    const std::uint32_t next = a + b;
    a = b;
    b = next;
  }
  freq[256] = 1;
  for (unsigned max_bits : {15u, 9u, 7u}) {
    CAPTURE(max_bits);
    fmviz::detail::HuffmanCode code;
    code.build(freq.data(), freq.size(), max_bits);
    std::uint64_t kraft = 0;
    for (std::size_t s = 0; s < freq.size(); ++s) {
      CHECK((freq[s] == 0) == (code.length[s] == 0));
      CHECK(code.length[s] <= max_bits);
      if (code.length[s]) kraft += std::uint64_t{1} << (max_bits - code.length[s]);
      for (std::size_t t = 0; t < freq.size(); ++t)
        if (freq[s] && freq[t] && freq[s] > freq[t]) CHECK(code.length[s] <= code.length[t]);
    }
    CHECK(kraft == (std::uint64_t{1} << max_bits));  // complete: no code left unused
  }
  // Two symbols: one bit each.
  std::vector<std::uint32_t> two(19, 0);
  two[3] = 100;
  two[17] = 1;
  fmviz::detail::HuffmanCode code;
  code.build(two.data(), two.size(), 7);
  CHECK(code.length[3] == 1);
  CHECK(code.length[17] == 1);
  CHECK(code.code[3] != code.code[17]);
}

TEST_CASE("PNG refuses bad pictures and levels with fmviz::Error", "[png]") {
  Image8 empty;
  CHECK_THROWS_WITH(fmviz::encode_png(empty), contains("cannot encode a 0x0x3 image"));
  Image8 short_of_pixels(4, 4, 3);
  short_of_pixels.pixels.resize(10);
  CHECK_THROWS_AS(fmviz::encode_png(short_of_pixels), fmviz::Error);
  PngOptions options;
  for (int level : {-1, 10}) {
    options.level = level;
    CHECK_THROWS_WITH(fmviz::encode_png(Image8(2, 2, 1), options), contains("compression level must be 0 to 9, got " + std::to_string(level)));
  }
  fmviz_test::TempDir dir;
  const std::string path = dir.file("bad.png");
  CHECK_THROWS_WITH(fmviz::write_png(path, Image8(2, 2, 1), options), contains(path));
  CHECK_FALSE(fmviz_test::fs::exists(path));
  CHECK(fmviz_test::fs::is_empty(dir.path()));
}

TEST_CASE("write_png writes the encoding, atomically", "[png]") {
  fmviz_test::TempDir dir;
  const Image8 img = gradient(64, 48, 3, 15);
  const std::string path = dir.file("out.png");
  fmviz::write_png(path, img);
  std::ifstream in(path, std::ios::binary);
  const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(bytes == fmviz::encode_png(img));
  CHECK(same(decode(bytes), img));
  CHECK(std::distance(fmviz_test::fs::directory_iterator(dir.path()), fmviz_test::fs::directory_iterator()) == 1);
}
