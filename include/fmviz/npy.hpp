// .npy files (NumPy's array format): write_npy writes float32/float64 C-order arrays, read_npy reads them back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "detail/atomic_file.hpp"
#include "detail/mapped_file.hpp"
#include "error.hpp"
#include "tensor.hpp"

namespace fmviz {
namespace detail {

template <typename T>
struct NpyDtype;
template <>
struct NpyDtype<float> {
  static constexpr const char* descr = "<f4";
  using Bits = std::uint32_t;
};
template <>
struct NpyDtype<double> {
  static constexpr const char* descr = "<f8";
  using Bits = std::uint64_t;
};

constexpr char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/// The complete version 1.0 header for a C-order array: magic, version, length, and the dict padded
/// with spaces and a final '\n' so that the data starts at a multiple of 64 bytes.
inline std::string npy_header(const char* descr, const Shape& shape) {
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";
  dict += "), }";
  constexpr std::size_t prefix = 10;  // magic, version (2), header length (u16)
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  if (dict.size() > 0xffff) throw Error({}, "shape", "too many dimensions for a .npy header: " + shape_to_string(shape));
  std::string header(npy_magic, sizeof npy_magic);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>((dict.size() >> 8) & 0xff);
  return header + dict;
}

/// Little-endian bytes of n values, whatever the host's byte order.
template <typename T>
void store_le(const T* src, std::size_t n, unsigned char* dst) noexcept {
  using Bits = typename NpyDtype<T>::Bits;
  for (std::size_t i = 0; i < n; ++i) {
    Bits u;
    std::memcpy(&u, src + i, sizeof u);
    for (std::size_t b = 0; b < sizeof u; ++b) dst[i * sizeof u + b] = static_cast<unsigned char>((u >> (8 * b)) & 0xff);
  }
}

template <typename Stored>
Stored load_le(const unsigned char* src) noexcept {
  using Bits = typename NpyDtype<Stored>::Bits;
  Bits u = 0;
  for (std::size_t b = 0; b < sizeof u; ++b) u |= static_cast<Bits>(src[b]) << (8 * b);
  Stored v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

/// The header dict of a .npy file: a Python dict literal with exactly the keys descr, fortran_order
/// and shape. This reads that small subset of Python literals (strings, True/False, tuples of
/// integers) and nothing else.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& path, std::string_view text) : path_(path), s_(text) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_space();
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (have_descr) fail("key 'descr' appears twice");
        h.descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_fortran) fail("key 'fortran_order' appears twice");
        h.fortran_order = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        if (have_shape) fail("key 'shape' appears twice");
        h.shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "' (a .npy header holds descr, fortran_order and shape)");
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++i_;
    skip_space();
    if (i_ != s_.size()) fail("unexpected text after the closing '}'");
    if (!have_descr) throw Error(path_, "descr", "missing from the .npy header");
    if (!have_fortran) throw Error(path_, "fortran_order", "missing from the .npy header");
    if (!have_shape) throw Error(path_, "shape", "missing from the .npy header");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_, "header", what + " at offset " + std::to_string(i_) + " of the header dict");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != quote) {
      if (s_[i_] == '\\') fail("escapes in strings are not supported");
      ++i_;
    }
    if (i_ >= s_.size()) fail("unterminated string");
    return std::string(s_.substr(start, i_++ - start));
  }
  bool boolean() {
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::size_t integer() {
    if (peek() < '0' || peek() > '9') fail("expected a non-negative integer");
    std::size_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const auto digit = static_cast<std::size_t>(s_[i_] - '0');
      if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("dimension too large");
      v = v * 10 + digit;
      ++i_;
    }
    if (peek() == 'L') ++i_;  // written by NumPy under Python 2
    return v;
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      shape.push_back(integer());
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in shape");
      if (shape.size() == 1) fail("a one-element shape needs a trailing comma");
    }
    ++i_;
    return shape;
  }

  const std::string& path_;
  std::string_view s_;
  std::size_t i_ = 0;
};

template <typename Stored, typename T>
void load_npy_data(const unsigned char* src, std::size_t n, T* dst) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(load_le<Stored>(src + i * sizeof(Stored)));
}

}  // namespace detail

/// Writes `t`'s elements as a .npy array of shape `shape` (same number of elements as t): '<f4' for
/// float, '<f8' for double, C order, format version 1.0. The file is written under a temporary name
/// and renamed into place.
template <typename T>
void write_npy(const std::string& path, const Tensor<T>& t, const Shape& shape) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "write_npy writes float or double tensors");
  if (shape_size(shape) != t.size())
    throw Error(path, "shape", "cannot write a tensor of shape " + shape_to_string(t.shape()) + " as " + shape_to_string(shape));
  const std::string header = detail::npy_header(detail::NpyDtype<T>::descr, shape);
  detail::write_file_atomically(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    constexpr std::size_t chunk = 16384;
    std::vector<unsigned char> buffer(chunk * sizeof(T));
    for (std::size_t i = 0; i < t.size() && out; i += chunk) {
      const std::size_t n = std::min(chunk, t.size() - i);
      detail::store_le(t.data() + i, n, buffer.data());
      out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(n * sizeof(T)));
    }
  });
}

/// Writes `t` as a .npy array of its own shape (see above).
template <typename T>
void write_npy(const std::string& path, const Tensor<T>& t) {
  write_npy(path, t, t.shape());
}

/// Reads a .npy file (format version 1.0, 2.0 or 3.0) holding a little-endian float32 ('<f4') or
/// float64 ('<f8') array in C order, of any rank, converting the values to T. Throws fmviz::Error
/// naming the file and the header field at fault.
template <typename T>
Tensor<T> read_npy(const std::string& path) {
  static_assert(std::is_floating_point_v<T>, "read_npy reads into floating-point tensors");
  const detail::MappedFile file(path);
  const unsigned char* p = file.data();
  const std::size_t size = file.size();
  if (size < 10 || std::memcmp(p, detail::npy_magic, sizeof detail::npy_magic) != 0)
    throw Error(path, "magic", "not a .npy file (it does not start with \\x93NUMPY)");
  const unsigned major = p[6], minor = p[7];
  if (major < 1 || major > 3 || minor != 0)
    throw Error(path, "version", "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                                     " (1.0, 2.0 and 3.0 are read)");
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<std::size_t>(p[8]) | static_cast<std::size_t>(p[9]) << 8;
    start = 10;
  } else {
    if (size < 12) throw Error(path, "header", "file ends inside the header length");
    for (std::size_t b = 0; b < 4; ++b) header_len |= static_cast<std::size_t>(p[8 + b]) << (8 * b);
    start = 12;
  }
  if (header_len > size - start)
    throw Error(path, "header", "header of " + std::to_string(header_len) + " bytes runs past the end of the file (" +
                                    std::to_string(size) + " bytes)");
  const detail::NpyHeader h =
      detail::NpyHeaderParser(path, std::string_view(reinterpret_cast<const char*>(p + start), header_len)).parse();
  std::size_t item = 0;
  if (h.descr == "<f4") item = 4;
  else if (h.descr == "<f8") item = 8;
  else
    throw Error(path, "descr", "unsupported dtype '" + h.descr + "' (only little-endian float32 '<f4' and float64 '<f8' are read)");
  if (h.fortran_order) throw Error(path, "fortran_order", "is True: only C-order arrays are read");
  std::size_t count = 1;
  for (std::size_t d : h.shape) {
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / item / d)
      throw Error(path, "shape", shape_to_string(h.shape) + " is too large");
    count *= d;
  }
  const std::size_t data_bytes = size - start - header_len;
  if (data_bytes != count * item)
    throw Error(path, "data", "shape " + shape_to_string(h.shape) + " of '" + h.descr + "' needs " + std::to_string(count * item) +
                                  " bytes, the file holds " + std::to_string(data_bytes));
  Tensor<T> t(h.shape);
  const unsigned char* data = p + start + header_len;
  if (item == 4) detail::load_npy_data<float>(data, count, t.data());
  else detail::load_npy_data<double>(data, count, t.data());
  return t;
}

}  // namespace fmviz
