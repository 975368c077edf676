// A channel atlas in memory: for every channel of some conv layers, the images of a dataset that excite it most
// (by the channel's maximum over the image, and by its mean), with where the maximum is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../detail/crc32.hpp"
#include "../model_input.hpp"
#include "../tap.hpp"

namespace fmviz {

/// One of a channel's top images.
struct AtlasHit {
  std::uint64_t image = 0;     ///< the image's index in the whole run's list (Atlas::images), the same in every shard
  float value = 0;             ///< what ranked it: the channel's maximum (or mean) over the image
  std::uint32_t y = 0, x = 0;  ///< where the channel's maximum is, in the layer's map (row, column)
};

/// The ranking: the higher value first; equal values, the lower image index first. A strict weak order, so the
/// top K of any split of the images, merged, are the top K of all of them.
inline bool ranks_before(const AtlasHit& a, const AtlasHit& b) noexcept {
  return a.value > b.value || (a.value == b.value && a.image < b.image);
}

/// A channel's top images, best first, at most AtlasSettings::top_k of each.
struct ChannelTop {
  std::vector<AtlasHit> by_max;
  std::vector<AtlasHit> by_mean;
};

/// One layer's channels.
struct AtlasLayer {
  std::string name;                  ///< a conv layer, e.g. "conv3_1"
  std::size_t height = 0, width = 0;  ///< its map's size for the run's input size
  std::vector<ChannelTop> channels;  ///< one per channel
};

/// How the atlas was made; two tables merge only when these agree.
struct AtlasSettings {
  std::size_t top_k = 9;
  std::size_t size = 224;            ///< images are resized to size x size, as for the report
  Preset preset = Preset::torchvision;
  Tap tap = Tap::relu;               ///< the conv output after its ReLU (default) or before it
  std::string weights_label;         ///< the weight file, as given (shown on the pages)
};

/// Which images of the run an atlas covers: image j belongs to shard j % count (round robin, so that shards of a
/// list sorted by folder get alike images and finish together). A whole run, or a merge of all shards: 0 of 1.
struct AtlasShard {
  std::size_t index = 0;
  std::size_t count = 1;
};

inline bool operator==(const AtlasShard& a, const AtlasShard& b) noexcept { return a.index == b.index && a.count == b.count; }
inline bool operator!=(const AtlasShard& a, const AtlasShard& b) noexcept { return !(a == b); }

struct Atlas {
  AtlasSettings settings;
  /// The run's image list (paths as given), in order: all image_count of them; or, in an atlas read from a
  /// shard's table (which stores only its own images), the shard's own images only: images[k] is image
  /// shard.index + k * shard.count. A merge puts the whole list back together.
  std::vector<std::string> images;
  std::size_t image_count = 0;       ///< images in the run's whole list
  std::uint32_t images_crc32 = 0;    ///< of the whole list (atlas_images_crc32): the shards of one run agree on it
  std::vector<AtlasLayer> layers;    ///< in network order
  AtlasShard shard;                  ///< the images this atlas ran: every one for a whole run or a merge
  std::vector<std::uint64_t> skipped;  ///< images of the shard that could not be read (left out of every ranking), ascending
};

/// The checksum that ties the shards of a run to one image list: CRC-32 of every path followed by '\n'.
inline std::uint32_t atlas_images_crc32(const std::vector<std::string>& images) noexcept {
  std::uint32_t crc = 0;
  const unsigned char newline = '\n';
  for (const std::string& path : images) {
    crc = detail::Crc32::update(crc, reinterpret_cast<const unsigned char*>(path.data()), path.size());
    crc = detail::Crc32::update(crc, &newline, 1);
  }
  return crc;
}

/// Sets an atlas's image list: the whole list, its length and its checksum.
inline void set_atlas_images(Atlas& atlas, std::vector<std::string> images) {
  atlas.image_count = images.size();
  atlas.images_crc32 = atlas_images_crc32(images);
  atlas.images = std::move(images);
}

}  // namespace fmviz
