// CRC-32, the checksum of PNG chunks and of atlas tables and their image lists.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace fmviz::detail {

/// CRC-32 (ISO 3309, reflected 0xEDB88320: PNG's and zlib's), eight bytes at a time. It chains:
/// update(update(0, a), b) is the CRC of a followed by b.
class Crc32 {
 public:
  static std::uint32_t update(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
    const auto& t = tables();
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
      const std::uint32_t a = crc ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24);
      crc = t[7][a & 255] ^ t[6][(a >> 8) & 255] ^ t[5][(a >> 16) & 255] ^ t[4][a >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^
            t[0][p[7]];
    }
    for (; n > 0; --n, ++p) crc = t[0][(crc ^ *p) & 255] ^ (crc >> 8);
    return ~crc;
  }

 private:
  using Tables = std::array<std::array<std::uint32_t, 256>, 8>;
  static const Tables& tables() noexcept {
    static const Tables t = [] {
      Tables m{};
      for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        m[0][i] = c;
      }
      for (std::size_t s = 1; s < 8; ++s)
        for (std::size_t i = 0; i < 256; ++i) m[s][i] = (m[s - 1][i] >> 8) ^ m[0][m[s - 1][i] & 255];
      return m;
    }();
    return t;
  }
};

}  // namespace fmviz::detail
