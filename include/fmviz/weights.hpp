// Weight files: which format a file is in, over the raw and safetensors readers (weights/).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "error.hpp"
#include "weights/raw.hpp"
#include "weights/safetensors.hpp"
#include "weights/tensor_spec.hpp"
#include "weights/tensor_table.hpp"

namespace fmviz {

enum class WeightFormat { automatic, raw, safetensors };

/// `.safetensors` by name; otherwise a file that starts like a safetensors header (a plausible
/// u64 length followed by '{') is one; anything else is taken as raw float32.
inline WeightFormat detect_weight_format(const std::string& path) {
  const std::string ext = ".safetensors";
  if (path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0) return WeightFormat::safetensors;
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(path, {}, "cannot open weight file: no such file");
  if (!std::filesystem::is_regular_file(status)) throw Error(path, {}, "cannot open weight file: not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, {}, "cannot open weight file");
  unsigned char head[9] = {};
  if (!in.read(reinterpret_cast<char*>(head), 9)) return WeightFormat::raw;
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(in.tellg());
  return looks_like_safetensors(head, sizeof head, size) ? WeightFormat::safetensors : WeightFormat::raw;
}

}  // namespace fmviz
