// PNG output, always atomic: a temporary name, then a rename.
//
// fmviz encodes PNG itself (8-bit grey, grey+alpha, RGB, RGBA; no interlacing). Each row gets the
// PNG filter whose residuals have the smallest sum of magnitudes (libpng's heuristic); the rows are
// compressed by a greedy LZ77 (hash chains over a 32 KiB window) and coded per block of at most
// 64 KiB with whichever is smallest: a Huffman code made for the block, DEFLATE's fixed code, or no
// compression. On fmviz's default grids this is about 4x faster than stb_image_write's encoder,
// which fmviz used before (fixed codes only), and the files are about a quarter smaller. The bytes
// written depend only on the picture and the level: not on threads, compiler or machine.
#pragma once

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "detail/atomic_file.hpp"
#include "detail/crc32.hpp"
#include "error.hpp"
#include "image8.hpp"

namespace fmviz {

/// How encode_png and write_png compress.
struct PngOptions {
  /// 0: no compression at all (stored, unfiltered); 1 (fastest) to 9 (smallest): how many earlier
  /// places with the same next 4 bytes are tried for each repeat (1, 2, 4, ..., 256). The default, 1,
  /// was measured on the 13 grids of the default job: level 9 makes them 2.4% smaller in about 3
  /// times the time; level 0 makes them 2.75 times larger.
  int level = 1;
};

namespace detail {

/// zlib's Adler-32 checksum. Per piece of k <= 5552 bytes (so that nothing overflows 32 bits):
/// a += sum p[i], b += k * a + sum (k - i) * p[i], two sums a compiler can vectorise.
inline std::uint32_t adler32(const unsigned char* p, std::size_t n) noexcept {
  std::uint64_t a = 1, b = 0;
  while (n > 0) {
    const std::size_t k = std::min<std::size_t>(n, 5552);
    std::uint32_t s1 = 0, s2 = 0;
    for (std::size_t i = 0; i < k; ++i) {
      s1 += p[i];
      s2 += static_cast<std::uint32_t>(k - i) * p[i];
    }
    b = (b + k * a + s2) % 65521;
    a = (a + s1) % 65521;
    p += k;
    n -= k;
  }
  return static_cast<std::uint32_t>(b << 16 | a);
}

/// Writes bits least significant first, as DEFLATE wants them, at the end of a byte vector.
class BitWriter {
 public:
  explicit BitWriter(std::vector<unsigned char>& out) : out_(out), at_(out.size()) {}
  BitWriter(const BitWriter&) = delete;
  BitWriter& operator=(const BitWriter&) = delete;
  ~BitWriter() { out_.resize(at_); }

  void put(std::uint32_t bits, unsigned count) {  // count <= 32; bits above count must be 0
    buffer_ |= std::uint64_t{bits} << filled_;
    filled_ += count;
    if (filled_ >= 32) {
      reserve(4);
      for (int k = 0; k < 4; ++k) out_[at_++] = static_cast<unsigned char>(buffer_ >> (8 * k));
      buffer_ >>= 32;
      filled_ -= 32;
    }
  }

  /// Pads with zero bits to a whole byte and writes out everything held.
  void align() {
    reserve(8);
    for (; filled_ > 0; filled_ = filled_ > 8 ? filled_ - 8 : 0) {
      out_[at_++] = static_cast<unsigned char>(buffer_);
      buffer_ >>= 8;
    }
    buffer_ = 0;
  }

  /// Whole bytes, after align().
  void bytes(const unsigned char* p, std::size_t n) {
    reserve(n);
    std::memcpy(out_.data() + at_, p, n);
    at_ += n;
  }

 private:
  void reserve(std::size_t n) {
    if (out_.size() - at_ < n) out_.resize(std::max({at_ + n, out_.capacity(), out_.size() + out_.size() / 2 + 4096}));
  }

  std::vector<unsigned char>& out_;
  std::size_t at_;  // bytes written; out_ is longer while writing
  std::uint64_t buffer_ = 0;
  unsigned filled_ = 0;
};

/// DEFLATE's length and distance codes (RFC 1951, 3.2.5), as lookup tables.
struct DeflateTables {
  static constexpr std::uint16_t length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                                    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static constexpr std::uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                    2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static constexpr std::uint16_t distance_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,    65,    97,    129,
                                                      193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  static constexpr std::uint8_t distance_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                      6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  std::array<std::uint8_t, 259> length_code{};    // length 3..258 -> 0..28 (symbol 257 + code)
  std::array<std::uint8_t, 512> distance_code{};  // see distance_slot

  static std::size_t distance_slot(std::size_t distance) noexcept {  // 1..32768
    return distance <= 256 ? distance - 1 : 256 + ((distance - 1) >> 7);
  }

  static const DeflateTables& get() noexcept {
    static const DeflateTables t = [] {
      DeflateTables m;
      for (std::size_t c = 0; c < 29; ++c)
        for (std::size_t l = length_base[c]; l < length_base[c] + (std::size_t{1} << length_extra[c]) && l <= 258; ++l)
          m.length_code[l] = static_cast<std::uint8_t>(c);
      for (std::size_t c = 0; c < 30; ++c)
        for (std::size_t d = distance_base[c]; d < distance_base[c] + (std::size_t{1} << distance_extra[c]); ++d)
          m.distance_code[distance_slot(d)] = static_cast<std::uint8_t>(c);
      return m;
    }();
    return t;
  }
};

/// A prefix code: the bit length and (bit-reversed, ready to write) code of each symbol.
struct HuffmanCode {
  std::array<std::uint8_t, 288> length{};
  std::array<std::uint16_t, 288> code{};

  /// Canonical codes from the lengths (RFC 1951, 3.2.2).
  void assign_codes(std::size_t symbols) {
    std::array<std::uint16_t, 17> count{}, next{};
    for (std::size_t s = 0; s < symbols; ++s) ++count[length[s]];
    count[0] = 0;
    std::uint32_t c = 0;
    for (std::size_t bits = 1; bits <= 16; ++bits) {
      c = (c + count[bits - 1]) << 1;
      next[bits] = static_cast<std::uint16_t>(c);
    }
    for (std::size_t s = 0; s < symbols; ++s) {
      const unsigned len = length[s];
      if (len == 0) continue;
      std::uint32_t v = next[len]++, r = 0;
      for (unsigned i = 0; i < len; ++i, v >>= 1) r = r << 1 | (v & 1);
      code[s] = static_cast<std::uint16_t>(r);
    }
  }

  /// Optimal lengths of at most `max_bits` for these frequencies (symbols <= 288), then the codes.
  /// Symbols of frequency 0 get none. The code is complete when two symbols or more have a frequency;
  /// a single one gets length 1.
  void build(const std::uint32_t* freq, std::size_t symbols, unsigned max_bits) {
    std::array<std::uint32_t, 288> order{}, a{};  // symbols by ascending frequency; Moffat-Katajainen work array
    std::size_t n = 0;
    for (std::size_t s = 0; s < symbols; ++s)
      if (freq[s]) order[n++] = static_cast<std::uint32_t>(s);
    std::stable_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n),
                     [&](std::uint32_t x, std::uint32_t y) { return freq[x] < freq[y]; });
    std::fill(length.begin(), length.end(), std::uint8_t{0});
    if (n < 2) {
      if (n == 1) length[order[0]] = 1;
      return assign_codes(symbols);
    }
    for (std::size_t i = 0; i < n; ++i) a[i] = freq[order[i]];
    // In-place minimum-redundancy code lengths (Moffat and Katajainen, 1995) of the sorted weights.
    std::size_t root = 0, leaf = 2;
    a[0] += a[1];
    for (std::size_t next = 1; next + 1 < n; ++next) {
      if (leaf >= n || a[root] < a[leaf]) {
        a[next] = a[root];
        a[root++] = static_cast<std::uint32_t>(next);
      } else {
        a[next] = a[leaf++];
      }
      if (leaf >= n || (root < next && a[root] < a[leaf])) {
        a[next] += a[root];
        a[root++] = static_cast<std::uint32_t>(next);
      } else {
        a[next] += a[leaf++];
      }
    }
    a[n - 2] = 0;
    for (std::size_t next = n - 2; next-- > 0;) a[next] = a[a[next]] + 1;
    std::array<std::uint32_t, 290> per_length{};  // codes of each length; 288 symbols need at most 287 bits
    {
      std::ptrdiff_t r = static_cast<std::ptrdiff_t>(n) - 2, leaf_at = static_cast<std::ptrdiff_t>(n) - 1;
      std::uint32_t available = 1, depth = 0;
      while (available > 0) {
        std::uint32_t used = 0;
        while (r >= 0 && a[static_cast<std::size_t>(r)] == depth) {
          ++used;
          --r;
        }
        for (; available > used; --available) {
          a[static_cast<std::size_t>(leaf_at--)] = depth;
          ++per_length[depth];
        }
        available = 2 * used;
        ++depth;
      }
    }
    // Too long: move codes up to max_bits, then rebalance the Kraft sum by lengthening shorter codes.
    for (std::size_t len = max_bits + 1; len < per_length.size(); ++len) {
      per_length[max_bits] += per_length[len];
      per_length[len] = 0;
    }
    std::uint64_t kraft = 0;
    for (std::size_t len = 1; len <= max_bits; ++len) kraft += std::uint64_t{per_length[len]} << (max_bits - len);
    while (kraft > (std::uint64_t{1} << max_bits)) {
      --per_length[max_bits];
      for (std::size_t len = max_bits - 1; len > 0; --len)
        if (per_length[len]) {
          --per_length[len];
          per_length[len + 1] += 2;
          break;
        }
      --kraft;
    }
    // The most frequent symbols get the shortest codes.
    std::size_t i = n;
    for (std::size_t len = 1; len <= max_bits; ++len)
      for (std::uint32_t k = 0; k < per_length[len]; ++k) length[order[--i]] = static_cast<std::uint8_t>(len);
    assign_codes(symbols);
  }
};

/// The zlib stream (RFC 1950) of `data`, appended to `out`. level 0 stores; 1-9 compress.
class Deflater {
 public:
  Deflater(const unsigned char* data, std::size_t size, int level, std::vector<unsigned char>& out)
      : data_(data), size_(size), level_(level), tables_(DeflateTables::get()), out_(out) {}

  void write() {
    static constexpr unsigned char flags[4] = {0x01, 0x5E, 0x9C, 0xDA};  // FLEVEL 0-3 with a valid FCHECK
    const unsigned char header[2] = {0x78, flags[level_ <= 1 ? 0 : level_ <= 5 ? 1 : level_ == 6 ? 2 : 3]};  // deflate, 32 KiB window
    BitWriter bits(out_);
    bits.bytes(header, 2);
    if (level_ > 0) {
      head_.assign(std::size_t{1} << hash_bits, -1);
      previous_.assign(window, -1);
      tokens_.resize(block_size);
    }
    std::size_t start = 0;
    do {
      const std::size_t end = std::min(size_, start + block_size);
      const bool last = end == size_;
      if (level_ == 0) {
        stored(bits, start, end, last);
      } else {
        tokenize(start, end);
        emit(bits, start, end, last);
      }
      start = end;
    } while (start < size_);
    bits.align();
    const std::uint32_t check = adler32(data_, size_);
    const unsigned char trailer[4] = {static_cast<unsigned char>(check >> 24), static_cast<unsigned char>(check >> 16),
                                      static_cast<unsigned char>(check >> 8), static_cast<unsigned char>(check)};
    bits.bytes(trailer, 4);
  }

 private:
  static constexpr std::size_t block_size = 65535;  // input bytes per block: a stored block's limit
  static constexpr std::size_t window = 32768;
  static constexpr unsigned hash_bits = 14;
  static constexpr std::size_t min_match = 4, max_match = 258;
  static constexpr std::uint32_t match_flag = 0x80000000u;  // token: match_flag | length << 16 | distance, or a literal byte

  std::uint32_t hash(std::size_t at) const noexcept {
    const unsigned char* p = data_ + at;  // little-endian whatever the machine: the same matches everywhere
    const std::uint32_t v = std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
    return (v * 2654435761u) >> (32 - hash_bits);
  }

  void insert(std::size_t at) noexcept {
    const std::uint32_t h = hash(at);
    previous_[at & (window - 1)] = head_[h];
    head_[h] = static_cast<std::int32_t>(at);
  }

  std::size_t match_length(std::size_t a, std::size_t b, std::size_t limit) const noexcept {
    std::size_t n = 0;
    for (; n + 8 <= limit; n += 8) {
      std::uint64_t x, y;
      std::memcpy(&x, data_ + a + n, 8);
      std::memcpy(&y, data_ + b + n, 8);
      if (x != y) break;
    }
    while (n < limit && data_[a + n] == data_[b + n]) ++n;
    return n;
  }

  /// Greedy LZ77 over [start, end): matches may reach back into earlier blocks but not past end.
  void tokenize(std::size_t start, std::size_t end) {
    std::size_t count = 0;  // tokens_ has room for one per input byte
    const int chain_limit = 1 << (level_ - 1);
    std::size_t i = start;
    while (i < end) {
      const std::size_t limit = std::min(max_match, end - i);
      std::size_t best = 0, best_distance = 0;
      if (limit >= min_match) {
        std::int32_t candidate = head_[hash(i)];
        insert(i);
        for (int chain = chain_limit; candidate >= 0 && chain > 0; --chain) {
          const std::size_t c = static_cast<std::size_t>(candidate);
          if (i - c > window) break;
          if (data_[c + best] == data_[i + best]) {  // cannot beat `best` otherwise
            const std::size_t len = match_length(c, i, limit);
            if (len > best) {
              best = len;
              best_distance = i - c;
              if (len == limit) break;
            }
          }
          const std::int32_t older = previous_[c & (window - 1)];
          if (older >= candidate) break;  // that slot was reused by a newer position
          candidate = older;
        }
      }
      if (best >= min_match) {
        tokens_[count++] = match_flag | static_cast<std::uint32_t>(best) << 16 | static_cast<std::uint32_t>(best_distance);
        // Index the places inside the match too: later repeats often start there.
        const std::size_t stop = std::min(i + best, size_ - min_match + 1);
        for (std::size_t j = i + 1; j < stop; ++j) insert(j);
        i += best;
      } else {
        tokens_[count++] = data_[i];
        ++i;
      }
    }
    token_count_ = count;
  }

  void stored(BitWriter& bits, std::size_t start, std::size_t end, bool last) {
    bits.put(last ? 1 : 0, 3);  // BFINAL, BTYPE 00
    bits.align();
    const std::size_t n = end - start;
    bits.put(static_cast<std::uint32_t>(n | (~n & 0xFFFF) << 16), 32);
    bits.align();
    bits.bytes(data_ + start, end - start);
  }

  void emit(BitWriter& bits, std::size_t start, std::size_t end, bool last) {
    std::array<std::uint32_t, 288> lit_freq{};
    std::array<std::uint32_t, 30> dist_freq{};
    std::size_t extra_bits = 0;
    for (std::size_t k = 0; k < token_count_; ++k) {
      const std::uint32_t t = tokens_[k];
      if (t & match_flag) {
        const std::size_t len = (t >> 16) & 0x1FF, dist = t & 0xFFFF;
        const std::size_t lc = tables_.length_code[len], dc = tables_.distance_code[DeflateTables::distance_slot(dist)];
        ++lit_freq[257 + lc];
        ++dist_freq[dc];
        extra_bits += DeflateTables::length_extra[lc] + DeflateTables::distance_extra[dc];
      } else {
        ++lit_freq[t];
      }
    }
    lit_freq[256] = 1;  // end of block
    // Complete codes need two symbols at least: give unused ones a count (they cost nothing here).
    for (std::size_t s = 0; std::count_if(lit_freq.begin(), lit_freq.begin() + 286, [](std::uint32_t f) { return f > 0; }) < 2; ++s)
      lit_freq[s] += lit_freq[s] == 0;
    for (std::size_t s = 0; std::count_if(dist_freq.begin(), dist_freq.end(), [](std::uint32_t f) { return f > 0; }) < 2; ++s)
      dist_freq[s] += dist_freq[s] == 0;

    HuffmanCode lit, dist;
    lit.build(lit_freq.data(), 286, 15);
    dist.build(dist_freq.data(), 30, 15);

    // The code lengths, run-length coded with symbols 16 (repeat), 17 and 18 (zeros).
    std::size_t hlit = 286, hdist = 30;
    while (hlit > 257 && lit.length[hlit - 1] == 0) --hlit;
    while (hdist > 1 && dist.length[hdist - 1] == 0) --hdist;
    std::array<std::uint8_t, 286 + 30> lengths{};
    std::copy(lit.length.begin(), lit.length.begin() + static_cast<std::ptrdiff_t>(hlit), lengths.begin());
    std::copy(dist.length.begin(), dist.length.begin() + static_cast<std::ptrdiff_t>(hdist), lengths.begin() + static_cast<std::ptrdiff_t>(hlit));
    const std::size_t total = hlit + hdist;
    std::vector<std::uint16_t> runs;  // symbol | extra value << 5
    for (std::size_t i = 0; i < total;) {
      const std::uint8_t v = lengths[i];
      std::size_t run = 1;
      while (i + run < total && lengths[i + run] == v) ++run;
      i += run;
      if (v == 0) {
        for (; run >= 11; ) {
          const std::size_t r = std::min<std::size_t>(run, 138);
          runs.push_back(static_cast<std::uint16_t>(18 | (r - 11) << 5));
          run -= r;
        }
        if (run >= 3) {
          runs.push_back(static_cast<std::uint16_t>(17 | (run - 3) << 5));
          run = 0;
        }
      } else {
        runs.push_back(v);
        --run;
        for (; run >= 3; ) {
          const std::size_t r = std::min<std::size_t>(run, 6);
          runs.push_back(static_cast<std::uint16_t>(16 | (r - 3) << 5));
          run -= r;
        }
      }
      for (; run > 0; --run) runs.push_back(v);
    }
    std::array<std::uint32_t, 19> cl_freq{};
    for (const std::uint16_t r : runs) ++cl_freq[r & 31];
    for (std::size_t s = 0; std::count_if(cl_freq.begin(), cl_freq.end(), [](std::uint32_t f) { return f > 0; }) < 2; ++s)
      cl_freq[s] += cl_freq[s] == 0;
    HuffmanCode cl;
    cl.build(cl_freq.data(), 19, 7);
    static constexpr std::uint8_t cl_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    std::size_t hclen = 19;
    while (hclen > 4 && cl.length[cl_order[hclen - 1]] == 0) --hclen;

    // Sizes in bits of the three kinds of block; the smallest is written.
    static constexpr std::uint8_t rle_extra[3] = {2, 3, 7};
    std::size_t dynamic_bits = 3 + 5 + 5 + 4 + 3 * hclen;
    for (std::size_t s = 0; s < 19; ++s) dynamic_bits += std::size_t{cl_freq[s]} * cl.length[s];
    for (const std::uint16_t r : runs)
      if ((r & 31) >= 16) dynamic_bits += rle_extra[(r & 31) - 16];
    std::size_t fixed_bits = 3 + extra_bits;
    HuffmanCode fixed_lit, fixed_dist;
    fixed_codes(fixed_lit, fixed_dist);
    for (std::size_t s = 0; s < 286; ++s) {
      dynamic_bits += std::size_t{lit_freq[s]} * lit.length[s];
      fixed_bits += std::size_t{lit_freq[s]} * fixed_lit.length[s];
    }
    for (std::size_t s = 0; s < 30; ++s) {
      dynamic_bits += std::size_t{dist_freq[s]} * dist.length[s];
      fixed_bits += std::size_t{dist_freq[s]} * 5;
    }
    dynamic_bits += extra_bits;
    const std::size_t stored_bits = 3 + 7 + 32 + 8 * (end - start);
    if (stored_bits <= dynamic_bits && stored_bits <= fixed_bits) return stored(bits, start, end, last);

    if (fixed_bits <= dynamic_bits) {
      bits.put((last ? 1u : 0u) | 1u << 1, 3);  // BTYPE 01
      symbols(bits, fixed_lit, fixed_dist);
      return;
    }
    bits.put((last ? 1u : 0u) | 2u << 1, 3);  // BTYPE 10
    bits.put(static_cast<std::uint32_t>(hlit - 257), 5);
    bits.put(static_cast<std::uint32_t>(hdist - 1), 5);
    bits.put(static_cast<std::uint32_t>(hclen - 4), 4);
    for (std::size_t k = 0; k < hclen; ++k) bits.put(cl.length[cl_order[k]], 3);
    for (const std::uint16_t r : runs) {
      const std::size_t s = r & 31;
      bits.put(cl.code[s], cl.length[s]);
      if (s >= 16) bits.put(r >> 5, rle_extra[s - 16]);
    }
    symbols(bits, lit, dist);
  }

  void symbols(BitWriter& bits, const HuffmanCode& lit, const HuffmanCode& dist) const {
    for (std::size_t k = 0; k < token_count_; ++k) {
      const std::uint32_t t = tokens_[k];
      if (t & match_flag) {
        const std::size_t len = (t >> 16) & 0x1FF, d = t & 0xFFFF;
        const std::size_t lc = tables_.length_code[len], dc = tables_.distance_code[DeflateTables::distance_slot(d)];
        bits.put(lit.code[257 + lc], lit.length[257 + lc]);
        if (DeflateTables::length_extra[lc]) bits.put(static_cast<std::uint32_t>(len - DeflateTables::length_base[lc]), DeflateTables::length_extra[lc]);
        bits.put(dist.code[dc], dist.length[dc]);
        if (DeflateTables::distance_extra[dc]) bits.put(static_cast<std::uint32_t>(d - DeflateTables::distance_base[dc]), DeflateTables::distance_extra[dc]);
      } else {
        bits.put(lit.code[t], lit.length[t]);
      }
    }
    bits.put(lit.code[256], lit.length[256]);
  }

  static void fixed_codes(HuffmanCode& lit, HuffmanCode& dist) {
    for (std::size_t s = 0; s < 288; ++s) lit.length[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    lit.assign_codes(288);
    for (std::size_t s = 0; s < 30; ++s) dist.length[s] = 5;
    dist.assign_codes(30);
  }

  const unsigned char* data_;
  std::size_t size_;
  int level_;
  const DeflateTables& tables_;
  std::vector<std::int32_t> head_, previous_;
  std::vector<std::uint32_t> tokens_;  // of the current block: the first token_count_
  std::size_t token_count_ = 0;
  std::vector<unsigned char>& out_;  // the zlib stream goes here
};

/// PNG's Paeth predictor of x from a (left), b (above) and c (above left).
inline int paeth(int a, int b, int c) noexcept {
  const int pa = b > c ? b - c : c - b, pb = a > c ? a - c : c - a, pc = a + b > 2 * c ? a + b - 2 * c : 2 * c - a - b;
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/// The residual of x under PNG filter `type` (1 sub, 2 up, 3 average, 4 Paeth; 0 none).
inline unsigned char filtered(int type, int x, int a, int b, int c) noexcept {
  const int predicted = type == 1 ? a : type == 2 ? b : type == 3 ? (a + b) >> 1 : type == 4 ? paeth(a, b, c) : 0;
  return static_cast<unsigned char>(x - predicted);
}

/// |r| of a residual byte read as signed: what libpng's heuristic sums.
inline std::uint32_t magnitude(unsigned char r) noexcept { return r < 128 ? r : 256u - r; }

/// The filtered scan lines (a filter-type byte, then the row): per row, the filter whose residuals
/// have the smallest sum of magnitudes (libpng's heuristic; ties go to the lower type); no filtering
/// at all for level 0.
inline std::vector<unsigned char> filter_rows(const Image8& img, int level) {
  const std::size_t bpp = img.channels, bytes = img.width * bpp;
  std::vector<unsigned char> out(img.height * (bytes + 1));
  const std::vector<unsigned char> zeros(level == 0 ? 0 : bytes, 0);  // the row above the first
  for (std::size_t y = 0; y < img.height; ++y) {
    const unsigned char* row = img.pixels.data() + y * bytes;
    const unsigned char* up = y ? row - bytes : zeros.data();
    unsigned char* dst = out.data() + y * (bytes + 1);
    if (level == 0) {
      dst[0] = 0;
      std::memcpy(dst + 1, row, bytes);
      continue;
    }
    // One pass for all five sums. Lanes of 32 bits are enough for 2^24 bytes; longer rows go in pieces.
    std::uint64_t cost[5] = {};
    for (std::size_t i = 0; i < bpp; ++i)
      for (int t = 0; t < 5; ++t) cost[t] += magnitude(filtered(t, row[i], 0, up[i], 0));
    for (std::size_t from = bpp; from < bytes;) {
      const std::size_t to = std::min(bytes, from + (std::size_t{1} << 24));
      std::uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0;
      for (std::size_t i = from; i < to; ++i) {
        const int x = row[i], a = row[i - bpp], b = up[i], c = up[i - bpp];
        s0 += magnitude(static_cast<unsigned char>(x));
        s1 += magnitude(static_cast<unsigned char>(x - a));
        s2 += magnitude(static_cast<unsigned char>(x - b));
        s3 += magnitude(static_cast<unsigned char>(x - ((a + b) >> 1)));
        s4 += magnitude(static_cast<unsigned char>(x - paeth(a, b, c)));
      }
      cost[0] += s0, cost[1] += s1, cost[2] += s2, cost[3] += s3, cost[4] += s4;
      from = to;
    }
    int best = 0;
    for (int t = 1; t < 5; ++t)
      if (cost[t] < cost[best]) best = t;
    dst[0] = static_cast<unsigned char>(best);
    ++dst;
    for (std::size_t i = 0; i < bpp && i < bytes; ++i) dst[i] = filtered(best, row[i], 0, up[i], 0);
    switch (best) {  // one loop per filter, so that each is a simple loop
      case 0: std::memcpy(dst, row, bytes); break;
      case 1: for (std::size_t i = bpp; i < bytes; ++i) dst[i] = static_cast<unsigned char>(row[i] - row[i - bpp]); break;
      case 2: for (std::size_t i = bpp; i < bytes; ++i) dst[i] = static_cast<unsigned char>(row[i] - up[i]); break;
      case 3: for (std::size_t i = bpp; i < bytes; ++i) dst[i] = static_cast<unsigned char>(row[i] - ((row[i - bpp] + up[i]) >> 1)); break;
      default:
        for (std::size_t i = bpp; i < bytes; ++i) dst[i] = static_cast<unsigned char>(row[i] - paeth(row[i - bpp], up[i], up[i - bpp]));
        break;
    }
  }
  return out;
}

inline void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
}

/// Closes the chunk whose length field is at `start`: fills in the length and appends the CRC.
inline void finish_chunk(std::vector<unsigned char>& out, std::size_t start) {
  const std::size_t length = out.size() - start - 8;
  for (int k = 0; k < 4; ++k) out[start + static_cast<std::size_t>(k)] = static_cast<unsigned char>(length >> (24 - 8 * k));
  put_u32(out, Crc32::update(0, out.data() + start + 4, length + 4));
}

inline void begin_chunk(std::vector<unsigned char>& out, const char* type) {
  put_u32(out, 0);
  out.insert(out.end(), type, type + 4);
}

}  // namespace detail

/// The PNG encoding of `img` (1 to 4 channels: grey, grey+alpha, RGB, RGBA). Throws fmviz::Error for
/// an empty or inconsistent image or a level outside 0-9.
inline std::vector<unsigned char> encode_png(const Image8& img, const PngOptions& options = {}) {
  if (img.width == 0 || img.height == 0 || img.width > INT_MAX / 4 || img.height > INT_MAX / 4 || img.channels < 1 ||
      img.channels > 4 || img.pixels.size() != img.width * img.height * img.channels ||
      img.height > (std::size_t{1} << 31) / (img.width * img.channels + 1))
    throw Error({}, "png", "cannot encode a " + std::to_string(img.width) + "x" + std::to_string(img.height) + "x" +
                               std::to_string(img.channels) + " image");
  if (options.level < 0 || options.level > 9)
    throw Error({}, "png", "compression level must be 0 to 9, got " + std::to_string(options.level));
  const std::vector<unsigned char> rows = detail::filter_rows(img, options.level);

  std::vector<unsigned char> out;
  out.reserve(64 + (options.level == 0 ? rows.size() + rows.size() / 65535 * 5 + 16 : rows.size() / 2));
  static constexpr unsigned char signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  out.insert(out.end(), signature, signature + 8);
  static constexpr unsigned char colour_type[5] = {0, 0, 4, 2, 6};  // by channel count
  std::size_t chunk = out.size();
  detail::begin_chunk(out, "IHDR");
  detail::put_u32(out, static_cast<std::uint32_t>(img.width));
  detail::put_u32(out, static_cast<std::uint32_t>(img.height));
  const unsigned char header[5] = {8, colour_type[img.channels], 0, 0, 0};  // 8 bits, deflate, adaptive filters, no interlace
  out.insert(out.end(), header, header + 5);
  detail::finish_chunk(out, chunk);

  chunk = out.size();
  detail::begin_chunk(out, "IDAT");
  detail::Deflater(rows.data(), rows.size(), options.level, out).write();
  detail::finish_chunk(out, chunk);

  chunk = out.size();
  detail::begin_chunk(out, "IEND");
  detail::finish_chunk(out, chunk);
  return out;
}

/// Writes `img` as a PNG file; a failure leaves no file behind.
inline void write_png(const std::string& path, const Image8& img, const PngOptions& options = {}) {
  std::vector<unsigned char> bytes;
  try {
    bytes = encode_png(img, options);
  } catch (const Error& e) {
    throw Error(path, "png", e.what());
  }
  detail::write_file_atomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  });
}

}  // namespace fmviz
