// Helpers shared by the unit tests: Catch2 v2/v3 differences, error capture, a temporary
// directory, file writing, half-float encoding, and a small safetensors writer.
#pragma once

#include <fmviz/error.hpp>
#include <fmviz/tensor.hpp>
#include <fmviz/vgg_config.hpp>

#include "catch.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/wait.h>
#include <unistd.h>
#endif

#if FMVIZ_CATCH_V3
using Catch::Approx;
#endif

namespace fmviz_test {

namespace fs = std::filesystem;

/// A "message contains" matcher for CHECK_THAT / CHECK_THROWS_WITH on Catch2 v2 and v3.
inline auto contains(const std::string& s) {
#if FMVIZ_CATCH_V3
  return Catch::Matchers::ContainsSubstring(s);
#else
  return Catch::Matchers::Contains(s);
#endif
}

/// Runs f and returns the fmviz::Error it threw, or nothing if it returned normally.
template <typename F>
std::optional<fmviz::Error> error_of(F&& f) {
  try {
    f();
  } catch (const fmviz::Error& e) {
    return e;
  }
  return std::nullopt;
}

/// Runs f in a child process where one is available, so that a crash fails one check instead of ending
/// the whole test run. True when f returned normally (without throwing).
template <typename F>
bool runs_cleanly(F&& f) {
#if defined(__unix__) || defined(__APPLE__)
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The default action for a crash, not the test framework's handler: the parent reports it.
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) std::signal(sig, SIG_DFL);
    try {
      f();
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  if (pid > 0) {
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return false;
  }
#endif
  try {
    f();
  } catch (...) {
    return false;
  }
  return true;
}

/// A fresh, uniquely named directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    const auto stamp = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int attempt = 0; attempt < 100; ++attempt) {
      fs::path p = fs::temp_directory_path() /
                   ("fmviz-unit-" + std::to_string(stamp) + "-" + std::to_string(rd()) + "-" + std::to_string(counter++));
      if (fs::create_directory(p)) {
        path_ = p;
        return;
      }
    }
    throw std::runtime_error("cannot create a temporary directory");
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

/// A whole file's bytes as a string ("" when it cannot be read).
inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

using Bytes = std::vector<unsigned char>;

inline void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void append_u16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<unsigned char>(v & 0xFF));
  b.push_back(static_cast<unsigned char>(v >> 8));
}
inline void append_u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xFF));
}
inline void append_f32(Bytes& b, float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>((u >> (8 * i)) & 0xFF));
}
inline Bytes f32_bytes(const std::vector<float>& values) {
  Bytes b;
  for (float f : values) append_f32(b, f);
  return b;
}

/// The IEEE half bit pattern of f, which must be exactly representable (zero, normal, subnormal or inf).
inline std::uint16_t f16_bits_exact(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t exp = (u >> 23) & 0xFFu, mant = u & 0x7FFFFFu;
  if (exp == 0xFF && mant == 0) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (exp == 0 && mant == 0) return sign;
  if (exp == 0 || exp == 0xFF) throw std::logic_error("f16_bits_exact: unsupported value");
  const int e = static_cast<int>(exp) - 127;
  if (e >= -14 && e <= 15) {
    if (mant & 0x1FFFu) throw std::logic_error("f16_bits_exact: value not exact in half precision");
    return static_cast<std::uint16_t>(sign | ((e + 15) << 10) | (mant >> 13));
  }
  if (e < -14 && e >= -24) {
    const std::uint32_t sig = mant | 0x800000u;
    const int shift = 13 + (-14 - e);
    if (sig & ((1u << shift) - 1)) throw std::logic_error("f16_bits_exact: value not exact as a half subnormal");
    return static_cast<std::uint16_t>(sign | (sig >> shift));
  }
  throw std::logic_error("f16_bits_exact: value out of half range");
}

/// The bfloat16 bit pattern of f, which must be exactly representable.
inline std::uint16_t bf16_bits_exact(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if (u & 0xFFFFu) throw std::logic_error("bf16_bits_exact: value not exact in bfloat16");
  return static_cast<std::uint16_t>(u >> 16);
}

// ---- safetensors -------------------------------------------------------------------------------

/// A whole safetensors file from a header text and data bytes. `declared_len` overrides the
/// 8-byte header length (to write malformed files).
inline Bytes safetensors_bytes(const std::string& header, const Bytes& data,
                               std::optional<std::uint64_t> declared_len = std::nullopt) {
  Bytes b;
  append_u64(b, declared_len ? *declared_len : header.size());
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline std::string json_shape(const fmviz::Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

inline std::string json_entry(const std::string& name, const std::string& dtype, const fmviz::Shape& shape,
                              std::uint64_t begin, std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + json_shape(shape) + ",\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

/// One tensor of a small safetensors file built in memory.
struct StTensor {
  std::string name;
  std::string dtype;
  fmviz::Shape shape;
  Bytes data;
};

/// A well-formed file: tensors stored back to back in the order given; optional raw JSON for __metadata__.
inline Bytes safetensors_file(const std::vector<StTensor>& tensors, const std::string& metadata_json = {}) {
  std::string header = "{";
  Bytes data;
  if (!metadata_json.empty()) header += "\"__metadata__\":" + metadata_json;
  for (const StTensor& t : tensors) {
    if (header.size() > 1) header += ",";
    header += json_entry(t.name, t.dtype, t.shape, data.size(), data.size() + t.data.size());
    data.insert(data.end(), t.data.begin(), t.data.end());
  }
  header += "}";
  return safetensors_bytes(header, data);
}

inline std::size_t st_dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "I64" || dtype == "F64") return 8;
  throw std::logic_error("st_dtype_size: " + dtype);
}

/// One tensor of a large safetensors file written in chunks.
struct StSpec {
  std::string name;
  std::string dtype;  // F32, F16, BF16 (values from value_of), or I64 (zeros)
  fmviz::Shape shape;
  std::size_t id = 0;  // passed to value_of, so a tensor keeps its values under any name or position
};

/// Streams a safetensors file holding `specs` in the given order; element i of spec s is value_of(s.id, i).
template <typename ValueOf>
void write_safetensors_streamed(const std::string& path, const std::vector<StSpec>& specs, ValueOf value_of) {
  std::string header = "{";
  std::uint64_t offset = 0;
  for (const StSpec& s : specs) {
    const std::uint64_t bytes = fmviz::shape_size(s.shape) * st_dtype_size(s.dtype);
    if (header.size() > 1) header += ",";
    header += json_entry(s.name, s.dtype, s.shape, offset, offset + bytes);
    offset += bytes;
  }
  header += "}";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  Bytes head;
  append_u64(head, header.size());
  out.write(reinterpret_cast<const char*>(head.data()), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  Bytes chunk;
  for (const StSpec& s : specs) {
    const std::size_t n = fmviz::shape_size(s.shape);
    const std::size_t width = st_dtype_size(s.dtype);
    const int kind = s.dtype == "F32" ? 0 : s.dtype == "F16" ? 1 : s.dtype == "BF16" ? 2 : 3;
    const std::size_t per_chunk = std::size_t(1) << 20;
    for (std::size_t i0 = 0; i0 < n; i0 += per_chunk) {
      const std::size_t i1 = std::min(n, i0 + per_chunk);
      chunk.assign((i1 - i0) * width, 0);
      unsigned char* p = chunk.data();
      for (std::size_t i = i0; i < i1 && kind != 3; ++i, p += width) {
        if (kind == 0) {
          const float v = value_of(s.id, i);
          std::memcpy(p, &v, 4);  // little-endian hosts only, as fmviz itself
        } else {
          const std::uint16_t h = kind == 1 ? f16_bits_exact(value_of(s.id, i)) : bf16_bits_exact(value_of(s.id, i));
          p[0] = static_cast<unsigned char>(h & 0xFF);
          p[1] = static_cast<unsigned char>(h >> 8);
        }
      }
      out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
    }
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

// ---- deterministic VGG weights -------------------------------------------------------------------

/// Value of element i of the id-th tensor of a torchvision VGG state_dict: (id + 1) + (i mod 65536) / 65536.
/// Exact in float32 for the 32 tensors of VGG16, so both the tensor and the position can be read back.
inline float vgg_value_f32(std::size_t id, std::size_t i) {
  return static_cast<float>(id + 1) + static_cast<float>(i % 65536) / 65536.0f;
}

/// Same idea for half precision (11 significant bits): (id + 1) + (i mod 32) / 32, exact for ids below 62.
inline float vgg_value_f16(std::size_t id, std::size_t i) {
  return static_cast<float>(id + 1) + static_cast<float>(i % 32) / 32.0f;
}

/// The torchvision state_dict of the VGG16 conv stack or the full model, in order.
inline std::vector<fmviz::TensorSpec> vgg16_specs(bool full) {
  const auto plan = fmviz::vgg_plan(fmviz::VggVariant::vgg16);
  std::size_t end = plan.size();
  if (!full)
    for (std::size_t i = 0; i < plan.size(); ++i)
      if (plan[i].in_classifier) {
        end = i;
        break;
      }
  return fmviz::state_dict_specs(plan, end);
}

/// Writes the raw float32 file of the first `count` tensors of `specs`, element values vgg_value_f32.
inline void write_raw_vgg(const std::string& path, const std::vector<fmviz::TensorSpec>& specs, std::size_t count) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<float> chunk;
  for (std::size_t id = 0; id < count && id < specs.size(); ++id) {
    const std::size_t n = fmviz::shape_size(specs[id].shape);
    const std::size_t per_chunk = std::size_t(1) << 20;
    for (std::size_t i0 = 0; i0 < n; i0 += per_chunk) {
      chunk.clear();
      for (std::size_t i = i0; i < std::min(n, i0 + per_chunk); ++i) chunk.push_back(vgg_value_f32(id, i));
      // float32 in host order: little-endian on every host fmviz supports.
      out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size() * sizeof(float)));
    }
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace fmviz_test
