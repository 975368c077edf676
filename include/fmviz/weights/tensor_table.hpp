// TensorTable: the named tensors of a weight file, as views into the file's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../detail/mapped_file.hpp"
#include "../error.hpp"
#include "../tensor.hpp"

namespace fmviz {

/// Element types a weight file may store. Only f32, f16 and bf16 can be read into a network;
/// the others are known so that a file holding them can still be validated.
enum class DType { f32, f16, bf16, f64, i64, i32, i16, i8, u64, u32, u16, u8, boolean, f8_e4m3, f8_e5m2 };

inline const char* to_string(DType t) noexcept {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::i16: return "I16";
    case DType::i8: return "I8";
    case DType::u64: return "U64";
    case DType::u32: return "U32";
    case DType::u16: return "U16";
    case DType::u8: return "U8";
    case DType::boolean: return "BOOL";
    case DType::f8_e4m3: return "F8_E4M3";
    case DType::f8_e5m2: return "F8_E5M2";
  }
  return "?";
}

inline std::size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::f64: case DType::i64: case DType::u64: return 8;
    case DType::f32: case DType::i32: case DType::u32: return 4;
    case DType::f16: case DType::bf16: case DType::i16: case DType::u16: return 2;
    default: return 1;
  }
}

/// One stored tensor: its name, element type, shape and little-endian bytes inside the file.
struct StoredTensor {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  const unsigned char* bytes = nullptr;
  std::size_t byte_size = 0;
};

namespace detail {

inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float bf16_to_float(std::uint16_t b) noexcept {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace detail

/// Copies a stored f32/f16/bf16 tensor into a Tensor<T> of the stored shape.
template <typename T>
Tensor<T> to_tensor(const StoredTensor& s, const std::string& path = {}) {
  Tensor<T> t(s.shape);
  const unsigned char* p = s.bytes;
  switch (s.dtype) {
    case DType::f32:
      for (std::size_t i = 0; i < t.size(); ++i, p += 4) {
        float v;
        std::memcpy(&v, p, 4);  // the file is little-endian, as is every host fmviz supports
        t[i] = static_cast<T>(v);
      }
      break;
    case DType::f16:
    case DType::bf16:
      for (std::size_t i = 0; i < t.size(); ++i, p += 2) {
        const std::uint16_t v = static_cast<std::uint16_t>(p[0] | (p[1] << 8));
        t[i] = static_cast<T>(s.dtype == DType::f16 ? detail::half_to_float(v) : detail::bf16_to_float(v));
      }
      break;
    default:
      throw Error(path, s.name, std::string("dtype ") + to_string(s.dtype) + " cannot be loaded (expected F32, F16 or BF16)");
  }
  return t;
}

/// The tensors of one weight file, in file order, with the mapping that backs them kept alive.
struct TensorTable {
  std::shared_ptr<const detail::MappedFile> file;
  std::vector<StoredTensor> tensors;
  std::vector<std::string> notes;

  const std::string& path() const noexcept {
    static const std::string none;
    return file ? file->path() : none;
  }
  const StoredTensor* find(const std::string& name) const noexcept {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

}  // namespace fmviz
