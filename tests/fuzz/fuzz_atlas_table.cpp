// The atlas table reader (parse_atlas_table: the manifest, then each layer file) on arbitrary bytes. The input is a
// u32 (little-endian) manifest length, the manifest, then the layer files in the manifest's order, each a u32
// length and its bytes. The input is read twice: as it is, and with each layer's size and checksum in the manifest
// made to agree with the bytes given, so that the layer files' parser is reached too. Every refusal must be an
// fmviz::Error.
#include <fmviz/atlas.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

std::uint32_t take_u32(const std::uint8_t*& p, std::size_t& left) {
  std::uint32_t v = 0;
  for (int b = 0; b < 4 && left > 0; ++b, ++p, --left) v |= static_cast<std::uint32_t>(*p) << (8 * b);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::uint8_t* p = data;
  std::size_t left = size;
  const std::size_t manifest_size = std::min<std::size_t>(take_u32(p, left), left);
  const std::string manifest(reinterpret_cast<const char*>(p), manifest_size);
  p += manifest_size;
  left -= manifest_size;
  std::vector<std::string> files;
  while (left > 0) {
    const std::size_t n = std::min<std::size_t>(take_u32(p, left), left);
    files.emplace_back(reinterpret_cast<const char*>(p), n);
    p += n;
    left -= n;
  }
  // The layer files by order of request: the manifest asks for its layers in order.
  std::size_t next = 0;
  const fmviz::detail::AtlasLayerSource source = [&](const std::string&) {
    static const unsigned char none = 0;
    if (next >= files.size()) return std::make_pair(&none, std::size_t(0));
    const std::string& f = files[next++];
    return std::make_pair(reinterpret_cast<const unsigned char*>(f.data()), f.size());
  };
  try {
    (void)fmviz::detail::parse_atlas_table(manifest, source, "fuzz");
  } catch (const fmviz::Error&) {
  }
  // Again with sizes and checksums that agree, when the manifest is JSON with a list of layers.
  try {
    nlohmann::json m = fmviz::detail::parse_atlas_json(manifest, "fuzz");  // depth-bounded, as the reader's
    if (!m.is_object() || !m.contains("layers") || !m["layers"].is_array()) return 0;
    for (std::size_t i = 0; i < m["layers"].size() && i < files.size(); ++i) {
      nlohmann::json& l = m["layers"][i];
      if (!l.is_object()) continue;
      l["bytes"] = files[i].size();
      l["crc32"] = fmviz::detail::Crc32::update(0, reinterpret_cast<const unsigned char*>(files[i].data()), files[i].size());
    }
    // And the whole list's checksum, when the list is one of text.
    if (m.contains("images") && m["images"].is_array()) {
      std::vector<std::string> images;
      for (const nlohmann::json& i : m["images"])
        if (i.is_string()) images.push_back(i.get<std::string>());
      if (images.size() == m["images"].size()) m["images_crc32"] = fmviz::atlas_images_crc32(images);
    }
    next = 0;
    (void)fmviz::detail::parse_atlas_table(m.dump(), source, "fuzz");
  } catch (const nlohmann::json::exception&) {
  } catch (const fmviz::Error&) {
  }
  return 0;
}
