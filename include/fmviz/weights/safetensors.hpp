// Reader for the safetensors format: u64 LE header length, JSON header, raw little-endian data.
// Validation follows the safetensors reference implementation: a bounded header, in-bounds,
// contiguous, non-overlapping offsets, dtype x shape equal to each byte range, no duplicate names.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../detail/mapped_file.hpp"
#include "../error.hpp"
#include "tensor_table.hpp"

namespace fmviz {

namespace detail {

constexpr std::uint64_t safetensors_max_header = 100000000;  // the reference implementation's limit

inline bool parse_dtype(const std::string& s, DType& out) {
  static const std::pair<const char*, DType> table[] = {
      {"F32", DType::f32}, {"F16", DType::f16}, {"BF16", DType::bf16}, {"F64", DType::f64}, {"I64", DType::i64},
      {"I32", DType::i32}, {"I16", DType::i16}, {"I8", DType::i8},     {"U64", DType::u64}, {"U32", DType::u32},
      {"U16", DType::u16}, {"U8", DType::u8},   {"BOOL", DType::boolean}, {"F8_E4M3", DType::f8_e4m3},
      {"F8_E5M2", DType::f8_e5m2}};
  for (const auto& [name, t] : table)
    if (s == name) { out = t; return true; }
  return false;
}

inline std::uint64_t read_u64_le(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// Parses JSON, refusing duplicate keys in any object (nlohmann would silently keep the last one).
inline nlohmann::json parse_json_no_duplicates(const char* begin, const char* end, const std::string& path) {
  struct OpenObject {
    std::string key;  // the key this object is the value of ("" for the header itself)
    std::set<std::string> keys;
  };
  std::vector<OpenObject> open_objects;
  std::string last_key;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      open_objects.push_back({open_objects.empty() ? std::string() : last_key, {}});
    } else if (event == E::object_end && !open_objects.empty()) {
      open_objects.pop_back();
    } else if (event == E::key && !open_objects.empty()) {
      last_key = parsed.get<std::string>();
      if (!open_objects.back().keys.insert(last_key).second) {
        if (open_objects.size() == 1)
          throw Error(path, last_key, "tensor name appears twice in the safetensors header (names must be unique)");
        throw Error(path, open_objects.back().key + "." + last_key, "key appears twice in this entry");
      }
    }
    return true;
  };
  try {
    return nlohmann::json::parse(begin, end, callback);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, "header", std::string("is not valid JSON (") + e.what() + ")");
  }
}

inline std::uint64_t json_uint(const nlohmann::json& v, const std::string& path, const std::string& field) {
  if (!v.is_number_unsigned()) throw Error(path, field, "expected a non-negative integer, found " + v.dump());
  return v.get<std::uint64_t>();
}

}  // namespace detail

/// Whether a file that starts with `head` (`head_size` bytes, 9 are enough) and is `file_size` bytes long looks
/// like safetensors: a header length that fits in the file, then '{'. A cheap test to tell formats apart;
/// read_safetensors does the validation.
inline bool looks_like_safetensors(const unsigned char* head, std::size_t head_size, std::uint64_t file_size) noexcept {
  if (head_size < 9 || file_size < 9) return false;
  const std::uint64_t header_len = detail::read_u64_le(head);
  return head[8] == '{' && header_len >= 2 && header_len <= file_size - 8;
}

/// Reads and validates a safetensors file. Tensors stay in the mapping; nothing is copied.
inline TensorTable read_safetensors(const std::string& path) {
  TensorTable table;
  table.file = std::make_shared<const detail::MappedFile>(path);
  const detail::MappedFile& f = *table.file;
  if (f.size() < 8)
    throw Error(path, "header", "file is " + std::to_string(f.size()) + " bytes, too short for the 8-byte header length");
  const std::uint64_t header_len = detail::read_u64_le(f.data());
  if (header_len > detail::safetensors_max_header)
    throw Error(path, "header", "header length " + std::to_string(header_len) + " exceeds the limit of " +
                                    std::to_string(detail::safetensors_max_header) + " bytes");
  if (header_len > f.size() - 8)
    throw Error(path, "header", "header length " + std::to_string(header_len) + " runs past the end of the " +
                                    std::to_string(f.size()) + "-byte file");
  const char* json_begin = reinterpret_cast<const char*>(f.data() + 8);
  const nlohmann::json header = detail::parse_json_no_duplicates(json_begin, json_begin + header_len, path);
  if (!header.is_object()) throw Error(path, "header", "expected a JSON object, found " + std::string(header.type_name()));

  const unsigned char* data = f.data() + 8 + header_len;
  const std::uint64_t data_size = f.size() - 8 - header_len;

  struct Range { std::uint64_t begin, end; std::size_t index; };
  std::vector<Range> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(path, name, "expected an object of strings");
      for (const auto& [k, v] : entry.items())
        if (!v.is_string()) throw Error(path, "__metadata__." + k, "expected a string value, found " + v.dump());
      continue;
    }
    if (!entry.is_object()) throw Error(path, name, "expected an object with dtype, shape and data_offsets");
    for (const auto& [k, v] : entry.items()) {
      (void)v;
      if (k != "dtype" && k != "shape" && k != "data_offsets") throw Error(path, name + "." + k, "unknown field");
    }
    for (const char* k : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(k)) throw Error(path, name, std::string("missing field \"") + k + "\"");

    StoredTensor t;
    t.name = name;
    const auto& dtype = entry["dtype"];
    if (!dtype.is_string() || !detail::parse_dtype(dtype.get<std::string>(), t.dtype))
      throw Error(path, name + ".dtype", "unknown dtype " + dtype.dump());
    const auto& shape = entry["shape"];
    if (!shape.is_array()) throw Error(path, name + ".shape", "expected an array, found " + shape.dump());
    std::uint64_t count = 1;
    bool overflow = false;
    for (const auto& d : shape) {
      const std::uint64_t v = detail::json_uint(d, path, name + ".shape");
      if (v != 0 && count > UINT64_MAX / v) overflow = true;
      count *= v;
      t.shape.push_back(static_cast<std::size_t>(v));
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
      throw Error(path, name + ".data_offsets", "expected [begin, end], found " + offsets.dump());
    const std::uint64_t begin = detail::json_uint(offsets[0], path, name + ".data_offsets");
    const std::uint64_t end = detail::json_uint(offsets[1], path, name + ".data_offsets");
    if (begin > end)
      throw Error(path, name + ".data_offsets", "begin " + std::to_string(begin) + " is after end " + std::to_string(end));
    if (end > data_size)
      throw Error(path, name + ".data_offsets", "end " + std::to_string(end) + " is past the " + std::to_string(data_size) +
                                                     " bytes of data (file truncated?)");
    const std::uint64_t elem = dtype_size(t.dtype);
    if (overflow || count > UINT64_MAX / elem || count * elem != end - begin)
      throw Error(path, name, std::string("dtype ") + to_string(t.dtype) + " x shape " + shape_to_string(t.shape) + " needs " +
                                  (overflow || count > UINT64_MAX / elem ? std::string("more than 2^64") : std::to_string(count * elem)) +
                                  " bytes but data_offsets span " + std::to_string(end - begin));
    t.bytes = data + begin;
    t.byte_size = static_cast<std::size_t>(end - begin);
    ranges.push_back({begin, end, table.tensors.size()});
    table.tensors.push_back(std::move(t));
  }

  // The data section must be exactly covered: sorted ranges start at 0, each begins where the last ended.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  const std::string* previous = nullptr;
  for (const Range& r : ranges) {
    const std::string& name = table.tensors[r.index].name;
    if (r.begin < expected)
      throw Error(path, name + ".data_offsets", "bytes [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                                                    ") overlap tensor " + *previous);
    if (r.begin > expected)
      throw Error(path, name + ".data_offsets",
                  "starts at " + std::to_string(r.begin) +
                      (previous ? " but the previous tensor ends at " + std::to_string(expected) : std::string(" but data must start at byte 0")) +
                      " (data must be contiguous, no holes)");
    expected = r.end;
    previous = &name;
  }
  if (expected != data_size)
    throw Error(path, "data", std::to_string(data_size - expected) + " bytes after the last tensor are not covered by the header");

  // Keep file order, which is the data order a writer used.
  std::sort(table.tensors.begin(), table.tensors.end(),
            [](const StoredTensor& a, const StoredTensor& b) { return a.bytes < b.bytes; });
  return table;
}

}  // namespace fmviz
