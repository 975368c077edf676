// The atlas on disk: a folder holding atlas.json (the manifest: settings, shard, image list, skipped images,
// layers) and LAYER.bin per layer (every channel's hits). A shard's manifest lists only the shard's own images,
// with the whole list's length and checksum: N shards of ImageNet store its 1.28 M paths once between them.
// Written atomically, manifest last; read back with every field checked (it is outside data); shards merged
// exactly; a finished table is not made twice.
//
// LAYER.bin, all integers little-endian:
//   0   8   magic "FMVZATL\n"
//   8   4   u32 format version (1)
//   12  4   u32 bytes per hit (20)
//   16  8   u64 channels      24  8  u64 height     32  8  u64 width     40  8  u64 top_k
//   48  ... per channel: u32 count by max, u32 count by mean, then those hits, by max then by mean, best first;
//           a hit: u64 image, f32 value (IEEE bits), u32 y, u32 x.
// The bytes depend only on the atlas (no time, no host), so a merge of shards and a single run over the same
// images write identical files.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../detail/atomic_file.hpp"
#include "../detail/crc32.hpp"
#include "../detail/mapped_file.hpp"
#include "../error.hpp"
#include "../model_input.hpp"
#include "../network.hpp"
#include "../report/created_files.hpp"
#include "../tap.hpp"
#include "accumulate.hpp"
#include "model.hpp"
#include "run.hpp"

namespace fmviz {

/// The manifest's file name in a table's folder.
inline constexpr const char* atlas_manifest_file = "atlas.json";
/// The table format written (and the only one read).
inline constexpr std::uint64_t atlas_table_version = 2;

namespace detail {

inline constexpr char atlas_layer_magic[8] = {'F', 'M', 'V', 'Z', 'A', 'T', 'L', '\n'};
inline constexpr std::size_t atlas_layer_header = 48;
inline constexpr std::size_t atlas_hit_bytes = 20;
// Bounds on what a table may declare, checked before anything is allocated for it.
inline constexpr std::size_t atlas_max_manifest_bytes = std::size_t(1) << 30;
inline constexpr std::size_t atlas_max_layers = 4096;
inline constexpr std::size_t atlas_max_map_side = std::size_t(1) << 20;

inline std::string atlas_path(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

/// A layer's file name: its name (letters, digits, '_' and '-' only, so it cannot leave the folder) + ".bin".
inline bool is_atlas_layer_name(const std::string& name) noexcept {
  if (name.empty() || name.size() > 128) return false;
  for (char ch : name)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) return false;
  return true;
}

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int b = 0; b < 4; ++b) out += static_cast<char>((v >> (8 * b)) & 0xff);
}
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int b = 0; b < 8; ++b) out += static_cast<char>((v >> (8 * b)) & 0xff);
}
inline std::uint32_t get_u32(const unsigned char* p) noexcept {
  std::uint32_t v = 0;
  for (int b = 3; b >= 0; --b) v = (v << 8) | p[b];
  return v;
}
inline std::uint64_t get_u64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  for (int b = 7; b >= 0; --b) v = (v << 8) | p[b];
  return v;
}

/// The bytes of LAYER.bin (see the top of this file).
inline std::string atlas_layer_bytes(const AtlasLayer& layer, std::size_t top_k) {
  std::string out(atlas_layer_magic, sizeof atlas_layer_magic);
  put_u32(out, 1);
  put_u32(out, static_cast<std::uint32_t>(atlas_hit_bytes));
  put_u64(out, layer.channels.size());
  put_u64(out, layer.height);
  put_u64(out, layer.width);
  put_u64(out, top_k);
  for (const ChannelTop& c : layer.channels) {
    put_u32(out, static_cast<std::uint32_t>(c.by_max.size()));
    put_u32(out, static_cast<std::uint32_t>(c.by_mean.size()));
    for (const std::vector<AtlasHit>* list : {&c.by_max, &c.by_mean})
      for (const AtlasHit& h : *list) {
        std::uint32_t bits;
        std::memcpy(&bits, &h.value, 4);
        put_u64(out, h.image);
        put_u32(out, bits);
        put_u32(out, h.y);
        put_u32(out, h.x);
      }
  }
  return out;
}

/// Reads LAYER.bin into `layer`, whose name and map size come from the manifest, checking that the file agrees
/// with them and holds exactly what its counts say. The hits themselves are checked by check_atlas_layer.
inline void parse_atlas_layer(const unsigned char* p, std::size_t size, const std::string& path, std::size_t channels,
                              std::size_t top_k, AtlasLayer& layer) {
  if (size < atlas_layer_header)
    throw Error(path, "header", "file is " + std::to_string(size) + " bytes, shorter than the " + std::to_string(atlas_layer_header) + "-byte header");
  if (std::memcmp(p, atlas_layer_magic, sizeof atlas_layer_magic) != 0) throw Error(path, "magic", "not an fmviz atlas layer file");
  if (get_u32(p + 8) != 1) throw Error(path, "version", "layer file format " + std::to_string(get_u32(p + 8)) + " (this fmviz reads 1)");
  if (get_u32(p + 12) != atlas_hit_bytes) throw Error(path, "hit size", std::to_string(get_u32(p + 12)) + " bytes per hit, not 20");
  const std::uint64_t file_channels = get_u64(p + 16), height = get_u64(p + 24), width = get_u64(p + 32), file_top_k = get_u64(p + 40);
  if (file_channels != channels) throw Error(path, "channels", std::to_string(file_channels) + " here, " + std::to_string(channels) + " in the manifest");
  if (height != layer.height || width != layer.width)
    throw Error(path, "map size", std::to_string(height) + " x " + std::to_string(width) + " here, " + std::to_string(layer.height) + " x " +
                                      std::to_string(layer.width) + " in the manifest");
  if (file_top_k != top_k) throw Error(path, "top_k", std::to_string(file_top_k) + " here, " + std::to_string(top_k) + " in the manifest");
  // Every channel takes at least its 8 bytes of counts: the file's size bounds what is allocated.
  if ((size - atlas_layer_header) / 8 < channels)
    throw Error(path, "data", "file ends before the counts of its " + std::to_string(channels) + " channels (" + std::to_string(size) + " bytes)");
  layer.channels.assign(channels, ChannelTop{});
  std::size_t at = atlas_layer_header;
  for (std::size_t c = 0; c < channels; ++c) {
    if (size - at < 8) throw Error(path, "channel " + std::to_string(c), "file ends before its counts (" + std::to_string(size) + " bytes)");
    const std::uint32_t counts[2] = {get_u32(p + at), get_u32(p + at + 4)};
    at += 8;
    std::vector<AtlasHit>* lists[2] = {&layer.channels[c].by_max, &layer.channels[c].by_mean};
    for (int which = 0; which < 2; ++which) {
      const std::string field = "channel " + std::to_string(c) + (which == 0 ? " by max" : " by mean");
      if (counts[which] > top_k) throw Error(path, field, std::to_string(counts[which]) + " hits, more than top_k " + std::to_string(top_k));
      if ((size - at) / atlas_hit_bytes < counts[which])
        throw Error(path, field, "file ends inside its " + std::to_string(counts[which]) + " hits (" + std::to_string(size) + " bytes)");
      lists[which]->resize(counts[which]);
      for (AtlasHit& h : *lists[which]) {
        h.image = get_u64(p + at);
        const std::uint32_t bits = get_u32(p + at + 8);
        std::memcpy(&h.value, &bits, 4);
        h.y = get_u32(p + at + 12);
        h.x = get_u32(p + at + 16);
        at += atlas_hit_bytes;
      }
    }
  }
  if (at != size) throw Error(path, "data", std::to_string(size - at) + " bytes after the last channel");
}

inline bool owned_by(std::uint64_t image, const AtlasShard& shard) noexcept { return image % shard.count == shard.index; }

/// How many of a list of `total` images shard `shard` owns.
inline std::uint64_t owned_count(std::uint64_t total, const AtlasShard& shard) noexcept {
  return shard.index >= total ? 0 : (total - shard.index - 1) / shard.count + 1;
}

/// True when `a.images` is the whole list (else it holds the shard's own images only; see Atlas::images).
inline bool has_whole_list(const Atlas& a) noexcept { return a.images.size() == a.image_count; }

/// Image j's path, or nullptr when `a` does not know it (another shard's image in a shard read from its table).
inline const std::string* known_image(const Atlas& a, std::uint64_t j) noexcept {
  if (j >= a.image_count) return nullptr;
  if (has_whole_list(a)) return &a.images[static_cast<std::size_t>(j)];
  return owned_by(j, a.shard) ? &a.images[static_cast<std::size_t>(j / a.shard.count)] : nullptr;
}

/// Everything but the hits: settings in range, the shard, the image list, the skipped images, the layers' names and
/// sizes. `path` names the table in errors.
inline void check_atlas_frame(const Atlas& a, const std::string& path) {
  const AtlasSettings& s = a.settings;
  if (s.top_k < 1 || s.top_k > AtlasOptions::max_top_k)
    throw Error(path, "top_k", std::to_string(s.top_k) + " is not from 1 to " + std::to_string(AtlasOptions::max_top_k));
  if (s.size < 1 || s.size > 8192) throw Error(path, "size", std::to_string(s.size) + " is not from 1 to 8192");
  if (a.shard.count < 1 || a.shard.index >= a.shard.count)
    throw Error(path, "shard", "shard " + std::to_string(a.shard.index) + " of " + std::to_string(a.shard.count) + " does not exist");
  if (a.image_count == 0) throw Error(path, "image_count", "the run has no images");
  const std::uint64_t own = owned_count(a.image_count, a.shard);
  if (!has_whole_list(a) && a.images.size() != own)
    throw Error(path, "images", std::to_string(a.images.size()) + " paths, neither the whole list of " + std::to_string(a.image_count) +
                                    " nor shard " + std::to_string(a.shard.index) + "/" + std::to_string(a.shard.count) + "'s " + std::to_string(own));
  for (std::size_t k = 0; k < a.images.size(); ++k)
    if (a.images[k].empty() || !is_utf8(a.images[k]))
      throw Error(path, "images", "image " + std::to_string(has_whole_list(a) ? k : a.shard.index + k * a.shard.count) +
                                      " has an empty or non-UTF-8 path");
  if (has_whole_list(a) && atlas_images_crc32(a.images) != a.images_crc32)
    throw Error(path, "images_crc32", "does not match the image list");
  for (std::size_t k = 0; k < a.skipped.size(); ++k) {
    const std::uint64_t j = a.skipped[k];
    if (j >= a.image_count) throw Error(path, "skipped", "image " + std::to_string(j) + " is out of range (" + std::to_string(a.image_count) + " images)");
    if (k > 0 && j <= a.skipped[k - 1]) throw Error(path, "skipped", "not in ascending order, or listed twice, at image " + std::to_string(j));
    if (!owned_by(j, a.shard))
      throw Error(path, "skipped", "image " + std::to_string(j) + " is not one of shard " + std::to_string(a.shard.index) + " of " +
                                       std::to_string(a.shard.count));
  }
  if (a.layers.empty()) throw Error(path, "layers", "the table has no layers");
  if (a.layers.size() > atlas_max_layers) throw Error(path, "layers", std::to_string(a.layers.size()) + " layers, more than " + std::to_string(atlas_max_layers));
  std::set<std::string> names;
  for (const AtlasLayer& l : a.layers) {
    if (!is_atlas_layer_name(l.name)) throw Error(path, "layers", "'" + l.name + "' is not a layer name (letters, digits, '_' and '-')");
    if (!names.insert(l.name).second) throw Error(path, "layers", l.name + " is listed twice");
    if (l.height < 1 || l.width < 1 || l.height > atlas_max_map_side || l.width > atlas_max_map_side)
      throw Error(path, l.name, "map of " + std::to_string(l.height) + " x " + std::to_string(l.width) + " is out of range");
  }
}

/// A layer's hits: at most top_k per list, best first and strictly so (ranks_before), values not NaN, each image in
/// range, one of the shard's, not skipped, once per list, and its position inside the map.
inline void check_atlas_layer(const Atlas& a, const AtlasLayer& l, const std::string& path) {
  if (l.channels.empty()) throw Error(path, l.name, "has no channels");
  std::vector<std::uint64_t> seen;
  for (std::size_t c = 0; c < l.channels.size(); ++c)
    for (int which = 0; which < 2; ++which) {
      const std::vector<AtlasHit>& list = which == 0 ? l.channels[c].by_max : l.channels[c].by_mean;
      const std::string field = l.name + " channel " + std::to_string(c) + (which == 0 ? " by max" : " by mean");
      if (list.size() > a.settings.top_k) throw Error(path, field, std::to_string(list.size()) + " hits, more than top_k");
      seen.clear();
      for (std::size_t k = 0; k < list.size(); ++k) {
        const AtlasHit& h = list[k];
        const std::string at = "hit " + std::to_string(k) + ": ";
        if (std::isnan(h.value)) throw Error(path, field, at + "value is NaN");
        if (h.image >= a.image_count) throw Error(path, field, at + "image " + std::to_string(h.image) + " is out of range (" + std::to_string(a.image_count) + " images)");
        if (!owned_by(h.image, a.shard)) throw Error(path, field, at + "image " + std::to_string(h.image) + " is not one of this shard's");
        if (std::binary_search(a.skipped.begin(), a.skipped.end(), h.image))
          throw Error(path, field, at + "image " + std::to_string(h.image) + " is listed as skipped");
        if (h.y >= l.height || h.x >= l.width)
          throw Error(path, field, at + "position (" + std::to_string(h.y) + ", " + std::to_string(h.x) + ") is outside the " +
                                       std::to_string(l.height) + " x " + std::to_string(l.width) + " map");
        if (k > 0 && !ranks_before(list[k - 1], h)) throw Error(path, field, at + "out of order (best first, then lower image index)");
        seen.push_back(h.image);
      }
      std::sort(seen.begin(), seen.end());
      if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) throw Error(path, field, "an image appears twice");
    }
}

/// What the manifest says of a layer besides its name and map size.
struct AtlasLayerEntry {
  std::size_t channels = 0;
  std::uint64_t bytes = 0;
  std::uint32_t crc32 = 0;
};

inline nlohmann::json atlas_manifest(const Atlas& a, const std::vector<AtlasLayerEntry>& entries) {
  nlohmann::json layers = nlohmann::json::array();
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const AtlasLayer& l = a.layers[i];
    layers.push_back({{"name", l.name}, {"file", l.name + ".bin"}, {"channels", entries[i].channels}, {"height", l.height},
                      {"width", l.width}, {"bytes", entries[i].bytes}, {"crc32", entries[i].crc32}});
  }
  // A shard lists its own images only: between them the shards store the list once.
  nlohmann::json images = nlohmann::json::array();
  if (has_whole_list(a))
    for (std::uint64_t j = a.shard.index; j < a.image_count; j += a.shard.count) images.push_back(a.images[static_cast<std::size_t>(j)]);
  else
    images = a.images;
  // nlohmann's objects keep their keys sorted: the text is the same on every run.
  nlohmann::json m = {{"format", "fmviz atlas"},
                      {"version", atlas_table_version},
                      {"top_k", a.settings.top_k},
                      {"size", a.settings.size},
                      {"preset", to_string(a.settings.preset)},
                      {"tap", to_string(a.settings.tap)},
                      {"weights", a.settings.weights_label},
                      {"shard", {{"index", a.shard.index}, {"count", a.shard.count}}},
                      {"image_count", a.image_count},
                      {"images_crc32", a.images_crc32},
                      {"images", std::move(images)},
                      {"skipped", a.skipped},
                      {"layers", layers}};
  return m;
}

/// The JSON of a manifest: nesting at most 3 deep (nothing deeper is read, and nothing deep is built), and no key
/// twice in an object (nlohmann would keep the last one silently).
inline nlohmann::json parse_atlas_json(std::string_view text, const std::string& path) {
  std::vector<std::set<std::string>> open;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (depth > 3) throw Error(path, "manifest", "nested deeper than an atlas manifest is");
    if (event == E::object_start) open.emplace_back();
    else if (event == E::object_end && !open.empty()) open.pop_back();
    else if (event == E::key && !open.empty() && !open.back().insert(parsed.get<std::string>()).second)
      throw Error(path, "manifest", "key '" + parsed.get<std::string>() + "' appears twice in an object");
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, "manifest", std::string("is not valid JSON (") + e.what() + ")");
  }
}

/// The manifest's fields, checked for presence and type: the atlas's frame (layers without channels yet) and
/// each layer's entry.
struct AtlasManifest {
  Atlas atlas;
  std::vector<AtlasLayerEntry> entries;
};

inline const nlohmann::json& json_field(const nlohmann::json& object, const char* key, const std::string& path, const std::string& where = {}) {
  const auto it = object.find(key);
  if (it == object.end()) throw Error(path, where + key, "missing from the manifest");
  return *it;
}

inline std::uint64_t json_count(const nlohmann::json& v, const std::string& path, const std::string& field, std::uint64_t max) {
  if (!v.is_number_unsigned()) throw Error(path, field, "expected a whole number, found " + std::string(v.type_name()));
  const std::uint64_t n = v.get<std::uint64_t>();
  if (n > max) throw Error(path, field, std::to_string(n) + " is out of range (at most " + std::to_string(max) + ")");
  return n;
}

inline std::string json_text(const nlohmann::json& v, const std::string& path, const std::string& field) {
  if (!v.is_string()) throw Error(path, field, "expected text, found " + std::string(v.type_name()));
  return v.get<std::string>();
}

inline void json_keys_only(const nlohmann::json& object, std::initializer_list<const char*> keys, const std::string& path, const std::string& where) {
  for (auto it = object.begin(); it != object.end(); ++it)
    if (std::find_if(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; }) == keys.end())
      throw Error(path, where + it.key(), "unknown key in an atlas manifest");
}

inline AtlasManifest parse_atlas_manifest(std::string_view text, const std::string& path) {
  const nlohmann::json m = parse_atlas_json(text, path);
  if (!m.is_object()) throw Error(path, "manifest", "expected a JSON object, found " + std::string(m.type_name()));
  if (json_text(json_field(m, "format", path), path, "format") != "fmviz atlas") throw Error(path, "format", "not an fmviz atlas manifest");
  const std::uint64_t version = json_count(json_field(m, "version", path), path, "version", std::numeric_limits<std::uint64_t>::max());
  if (version != atlas_table_version)
    throw Error(path, "version", "table format " + std::to_string(version) + " (this fmviz reads " + std::to_string(atlas_table_version) + ")");
  json_keys_only(m, {"format", "version", "top_k", "size", "preset", "tap", "weights", "shard", "image_count", "images_crc32", "images",
                     "skipped", "layers"},
                 path, "");
  AtlasManifest out;
  Atlas& a = out.atlas;
  a.settings.top_k = json_count(json_field(m, "top_k", path), path, "top_k", AtlasOptions::max_top_k);
  a.settings.size = json_count(json_field(m, "size", path), path, "size", 8192);
  const std::string preset = json_text(json_field(m, "preset", path), path, "preset");
  const std::string tap = json_text(json_field(m, "tap", path), path, "tap");
  try {
    a.settings.preset = parse_preset(preset);
    a.settings.tap = parse_tap(tap);
  } catch (const Error& e) {
    throw Error(path, e.field(), std::string(e.what()).substr(e.field().size() + 2));
  }
  a.settings.weights_label = json_text(json_field(m, "weights", path), path, "weights");
  const nlohmann::json& shard = json_field(m, "shard", path);
  if (!shard.is_object()) throw Error(path, "shard", "expected an object");
  json_keys_only(shard, {"index", "count"}, path, "shard.");
  a.shard.count = json_count(json_field(shard, "count", path, "shard."), path, "shard.count", std::numeric_limits<std::uint32_t>::max());
  a.shard.index = json_count(json_field(shard, "index", path, "shard."), path, "shard.index", std::numeric_limits<std::uint32_t>::max());
  if (a.shard.count < 1 || a.shard.index >= a.shard.count)
    throw Error(path, "shard", "shard " + std::to_string(a.shard.index) + " of " + std::to_string(a.shard.count) + " does not exist");
  a.image_count = json_count(json_field(m, "image_count", path), path, "image_count", std::numeric_limits<std::uint64_t>::max());
  a.images_crc32 = static_cast<std::uint32_t>(json_count(json_field(m, "images_crc32", path), path, "images_crc32", 0xffffffffu));
  const nlohmann::json& images = json_field(m, "images", path);
  if (!images.is_array()) throw Error(path, "images", "expected a list");
  if (images.size() != owned_count(a.image_count, a.shard))
    throw Error(path, "images", std::to_string(images.size()) + " paths, but shard " + std::to_string(a.shard.index) + "/" +
                                    std::to_string(a.shard.count) + " of " + std::to_string(a.image_count) + " images has " +
                                    std::to_string(owned_count(a.image_count, a.shard)));
  a.images.reserve(images.size());
  for (const nlohmann::json& i : images) a.images.push_back(json_text(i, path, "images"));
  const nlohmann::json& skipped = json_field(m, "skipped", path);
  if (!skipped.is_array()) throw Error(path, "skipped", "expected a list");
  for (const nlohmann::json& s : skipped) a.skipped.push_back(json_count(s, path, "skipped", std::numeric_limits<std::uint64_t>::max()));
  const nlohmann::json& layers = json_field(m, "layers", path);
  if (!layers.is_array()) throw Error(path, "layers", "expected a list");
  if (layers.size() > atlas_max_layers) throw Error(path, "layers", std::to_string(layers.size()) + " layers, more than " + std::to_string(atlas_max_layers));
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const nlohmann::json& l = layers[i];
    const std::string where = "layers[" + std::to_string(i) + "].";
    if (!l.is_object()) throw Error(path, "layers[" + std::to_string(i) + "]", "expected an object");
    json_keys_only(l, {"name", "file", "channels", "height", "width", "bytes", "crc32"}, path, where);
    AtlasLayer layer;
    layer.name = json_text(json_field(l, "name", path, where), path, where + "name");
    if (!is_atlas_layer_name(layer.name)) throw Error(path, where + "name", "'" + layer.name + "' is not a layer name (letters, digits, '_' and '-')");
    if (json_text(json_field(l, "file", path, where), path, where + "file") != layer.name + ".bin")
      throw Error(path, where + "file", "is not " + layer.name + ".bin");
    layer.height = json_count(json_field(l, "height", path, where), path, where + "height", atlas_max_map_side);
    layer.width = json_count(json_field(l, "width", path, where), path, where + "width", atlas_max_map_side);
    AtlasLayerEntry e;
    e.channels = json_count(json_field(l, "channels", path, where), path, where + "channels", std::numeric_limits<std::uint32_t>::max());
    e.bytes = json_count(json_field(l, "bytes", path, where), path, where + "bytes", std::numeric_limits<std::uint64_t>::max());
    e.crc32 = static_cast<std::uint32_t>(json_count(json_field(l, "crc32", path, where), path, where + "crc32", 0xffffffffu));
    a.layers.push_back(std::move(layer));
    out.entries.push_back(e);
  }
  check_atlas_frame(a, path);
  for (std::size_t i = 0; i < out.entries.size(); ++i)
    if (out.entries[i].channels < 1) throw Error(path, a.layers[i].name, "has no channels");
  return out;
}

/// Where a table's layer files come from: the bytes of a file (and its size) by name, valid until the next call.
using AtlasLayerSource = std::function<std::pair<const unsigned char*, std::size_t>(const std::string& file)>;

/// A whole table from its manifest's text and its layer files' bytes; `dir` names the table in errors.
inline Atlas parse_atlas_table(std::string_view manifest, const AtlasLayerSource& layer_file, const std::string& dir) {
  const std::string manifest_path = atlas_path(dir, atlas_manifest_file);
  AtlasManifest m = parse_atlas_manifest(manifest, manifest_path);
  Atlas& a = m.atlas;
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    AtlasLayer& layer = a.layers[i];
    const std::string path = atlas_path(dir, layer.name + ".bin");
    const auto [data, size] = layer_file(layer.name + ".bin");
    if (size != m.entries[i].bytes)
      throw Error(path, "size", std::to_string(size) + " bytes, the manifest says " + std::to_string(m.entries[i].bytes) +
                                    " (a file of another run, or a damaged one)");
    const std::uint32_t crc = Crc32::update(0, data, size);
    if (crc != m.entries[i].crc32) throw Error(path, "crc32", "the file's checksum differs from the manifest's (a file of another run, or a damaged one)");
    parse_atlas_layer(data, size, path, m.entries[i].channels, a.settings.top_k, layer);
    check_atlas_layer(a, layer, path);
  }
  return std::move(m.atlas);
}

inline std::string describe_shard(const AtlasShard& s) { return std::to_string(s.index) + "/" + std::to_string(s.count); }

/// Ranks the parts' hits together: the exact atlas of all their images (see merge_atlases).
class AtlasMerger {
 public:
  void add(Atlas part, const std::string& name) {
    check_atlas_frame(part, name);
    for (const AtlasLayer& l : part.layers) check_atlas_layer(part, l, name);
    if (parts_ == 0) {
      frame_ = std::move(part);
      seen_.assign(frame_.shard.count, std::string());
      lists_.assign(frame_.shard.count, std::vector<std::string>());
      lists_[frame_.shard.index] = own_images(frame_);
      for (AtlasLayer& l : frame_.layers) accumulators_.emplace_back(l.name, l.channels.size(), l.height, l.width, frame_.settings.top_k);
      seen_[frame_.shard.index] = name;
      take(frame_);
      for (AtlasLayer& l : frame_.layers) l.channels.assign(l.channels.size(), ChannelTop{});  // kept by the accumulators now
      ++parts_;
      return;
    }
    const std::string differs = frame_difference(frame_, part, false);
    if (!differs.empty()) throw Error(name, "merge", "is not a shard of the same run as " + first_name() + ": " + differs);
    if (part.shard.count != frame_.shard.count)
      throw Error(name, "shard", "is shard " + describe_shard(part.shard) + ", " + first_name() + " is " + describe_shard(frame_.shard) +
                                     ": shards of one run are counted alike");
    if (!seen_[part.shard.index].empty()) throw Error(name, "shard", "shard " + describe_shard(part.shard) + " is given twice (also " + seen_[part.shard.index] + ")");
    seen_[part.shard.index] = name;
    lists_[part.shard.index] = own_images(part);
    frame_.skipped.insert(frame_.skipped.end(), part.skipped.begin(), part.skipped.end());
    take(part);
    ++parts_;
  }

  Atlas finish() {
    if (parts_ == 0) throw Error({}, "merge", "no tables to merge");
    for (std::size_t i = 0; i < seen_.size(); ++i)
      if (seen_[i].empty())
        throw Error(first_name(), "shard", "shard " + std::to_string(i) + "/" + std::to_string(seen_.size()) +
                                               " is missing: a merge needs every shard of the run");
    Atlas out = std::move(frame_);
    const std::size_t count = out.shard.count;
    out.images.assign(out.image_count, std::string());
    for (std::size_t j = 0; j < out.image_count; ++j) out.images[j] = std::move(lists_[j % count][j / count]);
    lists_.clear();
    if (atlas_images_crc32(out.images) != out.images_crc32)
      throw Error(first_name(), "images_crc32", "the shards' image lists do not make up the list they were run on");
    out.shard = AtlasShard{};
    std::sort(out.skipped.begin(), out.skipped.end());
    for (std::size_t l = 0; l < out.layers.size(); ++l) out.layers[l] = accumulators_[l].result();
    parts_ = 0;
    return out;
  }

  /// "" when `a` and `b` are atlases of the same run (settings, image list as far as both know it, layers and
  /// their sizes; and the shard when `with_shard`), else what differs first.
  static std::string frame_difference(const Atlas& a, const Atlas& b, bool with_shard) {
    const AtlasSettings &x = a.settings, &y = b.settings;
    if (x.top_k != y.top_k) return "top_k " + std::to_string(x.top_k) + " against " + std::to_string(y.top_k);
    if (x.size != y.size) return "size " + std::to_string(x.size) + " against " + std::to_string(y.size);
    if (x.preset != y.preset) return std::string("preset ") + to_string(x.preset) + " against " + to_string(y.preset);
    if (x.tap != y.tap) return std::string("tap ") + to_string(x.tap) + " against " + to_string(y.tap);
    if (x.weights_label != y.weights_label) return "weights " + x.weights_label + " against " + y.weights_label;
    if (with_shard && a.shard != b.shard) return "shard " + describe_shard(a.shard) + " against " + describe_shard(b.shard);
    if (a.image_count != b.image_count) return std::to_string(a.image_count) + " images against " + std::to_string(b.image_count);
    if (has_whole_list(a) || has_whole_list(b) || a.shard == b.shard)  // else no image is known to both
      for (std::uint64_t j = 0; j < a.image_count; ++j) {
        const std::string *p = known_image(a, j), *q = known_image(b, j);
        if (p && q && *p != *q) return "image " + std::to_string(j) + " is " + *p + " against " + *q;
      }
    if (a.images_crc32 != b.images_crc32) return "the image lists differ (their checksums do)";
    std::string la, lb;
    for (const AtlasLayer& l : a.layers) la += (la.empty() ? "" : ",") + l.name;
    for (const AtlasLayer& l : b.layers) lb += (lb.empty() ? "" : ",") + l.name;
    if (la != lb) return "layers " + la + " against " + lb;
    for (std::size_t i = 0; i < a.layers.size(); ++i) {
      const AtlasLayer &p = a.layers[i], &q = b.layers[i];
      if (p.channels.size() != q.channels.size() || p.height != q.height || p.width != q.width)
        return p.name + " of " + std::to_string(p.channels.size()) + " x " + std::to_string(p.height) + " x " + std::to_string(p.width) +
               " against " + std::to_string(q.channels.size()) + " x " + std::to_string(q.height) + " x " + std::to_string(q.width);
    }
    return {};
  }

 private:
  /// The part's own images, in order (a whole list is cut down to them).
  static std::vector<std::string> own_images(const Atlas& part) {
    if (!has_whole_list(part)) return part.images;
    std::vector<std::string> own;
    for (std::uint64_t j = part.shard.index; j < part.image_count; j += part.shard.count) own.push_back(part.images[static_cast<std::size_t>(j)]);
    return own;
  }
  void take(const Atlas& part) {
    for (std::size_t l = 0; l < part.layers.size(); ++l) accumulators_[l].add(part.layers[l]);
  }
  std::string first_name() const {
    for (const std::string& s : seen_)
      if (!s.empty()) return s;
    return "the first table";
  }

  Atlas frame_;
  std::vector<AtlasAccumulator> accumulators_;
  std::vector<std::string> seen_;  // which table gave each shard
  std::vector<std::vector<std::string>> lists_;  // each shard's own images
  std::size_t parts_ = 0;
};

}  // namespace detail

/// "" when the two atlases are of the same run, shard included (settings, image list, shard, layers and their
/// sizes), else the first difference in words.
inline std::string atlas_difference(const Atlas& a, const Atlas& b) { return detail::AtlasMerger::frame_difference(a, b, true); }

/// True when `dir` holds a table's manifest: a finished table (the manifest is written last), perhaps a damaged one.
inline bool has_atlas_table(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::exists(detail::atlas_path(dir, atlas_manifest_file), ec);
}

/// Writes `atlas` into the folder `dir` (created if needed): LAYER.bin for every layer, then atlas.json, each
/// file atomically. The manifest comes last, so a run that stops before the end leaves no manifest and nothing a
/// merge or a rerun would take as finished; a table already there is replaced, its manifest removed first. The
/// atlas is checked as read_atlas_table checks it before anything is written. On failure, the files this call
/// created are taken back and fmviz::Error names the file.
inline void write_atlas_table(const Atlas& atlas, const std::string& dir) {
  if (dir.empty()) throw Error({}, "out", "needs a folder name");
  detail::check_atlas_frame(atlas, dir);
  for (const AtlasLayer& l : atlas.layers) detail::check_atlas_layer(atlas, l, dir);
  detail::CreatedFiles created;
  try {
    created.create_folders(dir);
    const std::string manifest_path = detail::atlas_path(dir, atlas_manifest_file);
    std::error_code ec;
    if (std::filesystem::exists(manifest_path, ec) && !std::filesystem::remove(manifest_path, ec))
      throw Error(manifest_path, "write", "cannot remove the table already there" + (ec ? ": " + ec.message() : std::string()));
    std::vector<detail::AtlasLayerEntry> entries;
    for (const AtlasLayer& l : atlas.layers) {
      const std::string bytes = detail::atlas_layer_bytes(l, atlas.settings.top_k);
      const std::string path = detail::atlas_path(dir, l.name + ".bin");
      detail::write_file_atomically(path, bytes);
      created.add_file(path);
      entries.push_back({l.channels.size(), bytes.size(),
                         detail::Crc32::update(0, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size())});
    }
    detail::write_file_atomically(manifest_path, detail::atlas_manifest(atlas, entries).dump(1) + "\n");
    created.add_file(manifest_path);
  } catch (...) {
    created.roll_back();
    throw;
  }
  created.keep();
}

/// Reads the table in `dir`, checking every field (sizes, counts, indices, order, names, checksums, version);
/// anything wrong throws fmviz::Error naming the file and the field. A missing manifest says the table is not
/// finished.
inline Atlas read_atlas_table(const std::string& dir) {
  const std::string manifest_path = detail::atlas_path(dir, atlas_manifest_file);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw Error(dir, "table", "is not a folder");
  if (!std::filesystem::exists(manifest_path, ec))
    throw Error(manifest_path, "table", "missing: not an atlas table, or one whose run did not finish");
  const detail::MappedFile manifest(manifest_path);
  if (manifest.size() > detail::atlas_max_manifest_bytes)
    throw Error(manifest_path, "manifest", "is " + std::to_string(manifest.size()) + " bytes, more than a manifest may be");
  std::optional<detail::MappedFile> layer;
  const detail::AtlasLayerSource source = [&](const std::string& file) {
    layer.reset();
    layer.emplace(detail::atlas_path(dir, file));
    return std::make_pair(layer->data(), layer->size());
  };
  return detail::parse_atlas_table(std::string_view(reinterpret_cast<const char*>(manifest.data()), manifest.size()), source, dir);
}

/// The atlas of a whole run from its shards (one atlas per shard, in any order; `names`, if given, names each in
/// errors): the same atlas, bit for bit, as one run over every image. The shards must be of the same run
/// (settings, image list, layers), counted alike, and all there, each once.
inline Atlas merge_atlases(std::vector<Atlas> parts, const std::vector<std::string>& names = {}) {
  detail::AtlasMerger merger;
  for (std::size_t i = 0; i < parts.size(); ++i)
    merger.add(std::move(parts[i]), i < names.size() ? names[i] : "table " + std::to_string(i + 1));
  return merger.finish();
}

/// The same, reading the tables in `dirs` one at a time: memory holds the merged hits and one shard.
inline Atlas merge_atlas_tables(const std::vector<std::string>& dirs) {
  detail::AtlasMerger merger;
  for (const std::string& dir : dirs) merger.add(read_atlas_table(dir), dir);
  return merger.finish();
}

/// What write_atlas did.
struct AtlasTableRun {
  Atlas atlas;
  bool reused = false;  ///< the folder held this run's finished table already: nothing was run
};

/// make_atlas, then write_atlas_table into `dir`; resumable: when `dir` already holds the finished table of the
/// same request (settings, image list, shard, layers), it is read back and nothing runs. A finished table of
/// another request there is an fmviz::Error (nothing is overwritten); so is a damaged one.
inline AtlasTableRun write_atlas(const Network<float>& net, const std::vector<std::string>& images, const AtlasOptions& options,
                                 const std::string& dir, AtlasObserver* observer = nullptr) {
  if (dir.empty()) throw Error({}, "out", "needs a folder name");
  const Atlas plan = plan_atlas(net, images, options);
  AtlasTableRun run;
  if (has_atlas_table(dir)) {
    run.atlas = read_atlas_table(dir);
    const std::string differs = atlas_difference(run.atlas, plan);
    if (!differs.empty())
      throw Error(detail::atlas_path(dir, atlas_manifest_file), "table",
                  "holds the finished atlas of another request (" + differs + "): remove it or write elsewhere");
    run.reused = true;
    return run;
  }
  run.atlas = make_atlas(net, images, options, observer);
  write_atlas_table(run.atlas, dir);
  return run;
}

}  // namespace fmviz
