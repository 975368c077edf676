// make_atlas: runs a list of images (or one shard of it) through a network batch by batch and ranks them for
// every channel of the chosen conv layers. The request is checked before any image is read.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "../decode.hpp"
#include "../error.hpp"
#include "../model_input.hpp"
#include "../network.hpp"
#include "../resize.hpp"
#include "../tap.hpp"
#include "../tensor.hpp"
#include "accumulate.hpp"
#include "model.hpp"

namespace fmviz {

/// What an atlas ranks, and how the images are read.
struct AtlasOptions {
  /// The most top_k may be: 1000 per list keeps a whole VGG16 (4224 channels) under 200 MB of hits.
  static constexpr std::size_t max_top_k = 1000;
  /// Images per forward when `batch` is 0: as many as fit in this many bytes of layer outputs, at most 8.
  static constexpr std::size_t batch_memory_budget = std::size_t(1) << 30;
  static constexpr std::size_t default_batch_limit = 8;

  std::vector<std::string> layers;  ///< conv layers, any order; empty: every conv layer of the network
  std::size_t top_k = 9;            ///< images kept per channel, by max and by mean: 1 to max_top_k
  std::size_t size = 224;           ///< images are resized to size x size
  Preset preset = Preset::torchvision;
  Tap tap = Tap::relu;
  AtlasShard shard;                 ///< which images of the list this run takes (image j: shard j % count)
  std::size_t batch = 0;            ///< images per forward; 0: chosen from batch_memory_budget
  std::size_t max_pixels = ImageOptions{}.max_pixels;  ///< images of more pixels are refused before decoding
  bool stop_at_bad_image = false;   ///< an image that cannot be read fails the run, instead of being skipped
  std::string weights_label;        ///< the weight file as given: kept in the atlas, shown on its pages
};

/// Told how an atlas run goes (every call is optional), from the thread that called make_atlas.
class AtlasObserver {
 public:
  virtual ~AtlasObserver() = default;
  /// `done` of the shard's `total` images have been run (or skipped).
  virtual void images_done(std::size_t /*done*/, std::size_t /*total*/) {}
  /// Image `index` (in the whole list) could not be read and is left out.
  virtual void image_skipped(std::uint64_t /*index*/, const Error& /*error*/) {}
};

/// The images of a list of `total` that shard `shard` runs, ascending.
inline std::vector<std::uint64_t> shard_images(std::size_t total, const AtlasShard& shard) {
  std::vector<std::uint64_t> mine;
  if (shard.count == 0 || shard.index >= shard.count) return mine;
  mine.reserve(total / shard.count + 1);
  for (std::size_t j = shard.index; j < total; j += shard.count) mine.push_back(j);
  return mine;
}

namespace detail {

/// True when `text` is valid UTF-8: the table stores image paths as JSON strings.
inline bool is_utf8(const std::string& text) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += extra + 1;
  }
  return true;
}

/// Bytes one image needs during a forward up to layer `last`: the largest input and output alive together.
inline std::size_t atlas_bytes_per_image(const Network<float>& net, std::size_t size, std::size_t last) {
  Shape shape{1, 3, size, size};
  std::size_t largest_pair = 0;
  for (std::size_t i = 0; i <= last; ++i) {
    const Shape out = std::visit([&](const auto& op) { return op.output_shape(shape); }, net.layers()[i].op);
    largest_pair = std::max(largest_pair, (shape_size(shape) + shape_size(out)) * sizeof(float));
    shape = out;
  }
  return largest_pair;
}

}  // namespace detail

/// Checks a request before any work and returns the atlas it will fill: its settings, image list, shard and
/// layers (name, map size, one empty ChannelTop per channel), layers in network order. Throws fmviz::Error naming
/// the field at fault: "images", "layers", "top_k", "size", "shard", "batch", "max_pixels".
inline Atlas plan_atlas(const Network<float>& net, const std::vector<std::string>& images, const AtlasOptions& o) {
  if (images.empty()) throw Error({}, "images", "no images to make an atlas of");
  for (std::size_t j = 0; j < images.size(); ++j)
    if (!detail::is_utf8(images[j]) || images[j].empty())
      throw Error(images[j], "images", "image " + std::to_string(j) + "'s path is " + (images[j].empty() ? "empty" : "not UTF-8 text") +
                                           ": the atlas table keeps paths as JSON text");
  if (o.top_k < 1 || o.top_k > AtlasOptions::max_top_k)
    throw Error({}, "top_k", "must be from 1 to " + std::to_string(AtlasOptions::max_top_k) + ", got " + std::to_string(o.top_k));
  if (o.size < 1 || o.size > 8192) throw Error({}, "size", "must be from 1 to 8192, got " + std::to_string(o.size));
  if (o.shard.count < 1 || o.shard.index >= o.shard.count)
    throw Error({}, "shard", "shard " + std::to_string(o.shard.index) + " of " + std::to_string(o.shard.count) +
                                 " does not exist (shards are numbered 0 to count - 1)");
  if (o.batch > 4096) throw Error({}, "batch", "must be at most 4096, got " + std::to_string(o.batch));
  if (o.max_pixels < 1) throw Error({}, "max_pixels", "must be at least 1");

  std::vector<std::string> available = net.conv_names();
  if (available.empty()) throw Error({}, "layers", "the network has no conv layer");
  for (const std::string& name : o.layers)
    if (std::find(available.begin(), available.end(), name) == available.end()) {
      std::string list;
      for (const auto& a : available) list += (list.empty() ? "" : ",") + a;
      throw Error({}, "layers", "'" + name + "' is not a conv layer of this network (accepted: " + list + ")");
    }
  Atlas atlas;
  atlas.settings.top_k = o.top_k;
  atlas.settings.size = o.size;
  atlas.settings.preset = o.preset;
  atlas.settings.tap = o.tap;
  atlas.settings.weights_label = o.weights_label;
  set_atlas_images(atlas, images);
  atlas.shard = o.shard;
  std::vector<std::string> chosen;
  for (const std::string& name : available)
    if (o.layers.empty() || std::find(o.layers.begin(), o.layers.end(), name) != o.layers.end()) chosen.push_back(name);
  if (o.tap == Tap::relu)
    for (const std::string& name : chosen) {
      const std::size_t i = net.layer(name).info.index;
      if (i + 1 >= net.layers().size() || net.layers()[i + 1].info.relu_of != name)
        throw Error({}, "tap", "relu: conv layer " + name + " has no ReLU after it");
    }
  std::size_t channels = 0;
  for (const std::string& name : chosen) {
    Shape out;
    try {
      out = net.output_shape({1, 3, o.size, o.size}, name);
    } catch (const Error& e) {
      throw Error({}, "size", std::to_string(o.size) + " x " + std::to_string(o.size) + " images do not reach " + name + " (" + e.what() + ")");
    }
    AtlasLayer layer;
    layer.name = name;
    layer.height = out[2];
    layer.width = out[3];
    if (out[2] > UINT32_MAX || out[3] > UINT32_MAX) throw Error({}, "size", "maps of " + name + " too large for an atlas");
    layer.channels.resize(out[1]);
    channels += out[1];
    atlas.layers.push_back(std::move(layer));
  }
  // The hits are all the memory an atlas keeps: check they fit before the run (4 GiB at most).
  if (channels > (std::size_t(1) << 32) / (2 * o.top_k * sizeof(AtlasHit)))
    throw Error({}, "top_k", std::to_string(o.top_k) + " hits for each of " + std::to_string(channels) +
                                 " channels would take more than 4 GiB: choose fewer layers or a smaller top_k");
  return atlas;
}

/// Images per forward for this plan: AtlasOptions::batch, or as many as fit in the budget (at most 8).
inline std::size_t atlas_batch_size(const Network<float>& net, const Atlas& plan, const AtlasOptions& o, std::size_t images) {
  const std::size_t n = std::max<std::size_t>(images, 1);
  if (o.batch) return std::min(o.batch, n);
  if (plan.layers.empty()) return 1;
  std::size_t last = net.last_index(plan.layers.back().name);
  const std::size_t bytes = detail::atlas_bytes_per_image(net, o.size, last);
  const std::size_t fits = std::max<std::size_t>(1, AtlasOptions::batch_memory_budget / std::max<std::size_t>(bytes, 1));
  return std::min({fits, AtlasOptions::default_batch_limit, n});
}

/// Runs the images of `images` that belong to options.shard through `net` (up to the last chosen layer, one
/// forward per batch, each image read when its batch comes) and ranks them for every channel of the chosen layers.
/// Hits name images by their index in the whole list, so shards of one list merge exactly (merge_atlases).
///
/// An image that cannot be read is told to the observer, listed in Atlas::skipped and left out, unless
/// stop_at_bad_image: then its fmviz::Error ends the run. The result does not depend on the batch size or the
/// thread count. Throws fmviz::Error for a bad request (see plan_atlas) before reading any image.
inline Atlas make_atlas(const Network<float>& net, const std::vector<std::string>& images, const AtlasOptions& o,
                        AtlasObserver* observer = nullptr) {
  Atlas atlas = plan_atlas(net, images, o);
  AtlasObserver quiet;
  AtlasObserver& tell = observer ? *observer : quiet;
  std::vector<AtlasAccumulator> accumulators;
  for (const AtlasLayer& layer : atlas.layers)
    accumulators.emplace_back(layer.name, layer.channels.size(), layer.height, layer.width, o.top_k);
  const std::vector<std::uint64_t> mine = shard_images(images.size(), o.shard);
  const std::size_t batch = atlas_batch_size(net, atlas, o, mine.size());
  const std::string stop_after = atlas.layers.back().name;

  std::size_t done = 0;
  for (std::size_t first = 0; first < mine.size(); first += batch) {
    const std::size_t end = std::min(mine.size(), first + batch);
    std::vector<Tensor<float>> tensors;
    std::vector<std::uint64_t> which;
    for (std::size_t k = first; k < end; ++k) {
      const std::uint64_t j = mine[k];
      const std::string& path = images[static_cast<std::size_t>(j)];
      try {
        const RgbImage photo = read_image(path, o.max_pixels);
        const RgbImage seen = photo.width == o.size && photo.height == o.size ? photo : resize_bilinear(photo, o.size, o.size);
        tensors.push_back(to_tensor<float>(seen, o.preset));
        which.push_back(j);
      } catch (const std::bad_alloc&) {
        const Error e(path, "image", "out of memory while decoding it");
        if (o.stop_at_bad_image) throw e;
        atlas.skipped.push_back(j);
        tell.image_skipped(j, e);
      } catch (const Error& e) {
        if (o.stop_at_bad_image) throw;
        atlas.skipped.push_back(j);
        tell.image_skipped(j, e);
      }
    }
    if (!tensors.empty()) {
      Tensor<float> input = tensors.size() == 1 ? std::move(tensors.front()) : stack_batch(tensors);
      tensors.clear();
      const auto visitor = [&](const LayerInfo& info, const Tensor<float>& output) {
        if (const std::string* conv = tapped_conv(info, o.tap))
          for (AtlasAccumulator& a : accumulators)
            if (a.layer() == *conv) a.add(output, which);
      };
      net.forward(std::move(input), visitor, stop_after);
    }
    done = end;
    tell.images_done(done, mine.size());
  }
  for (std::size_t l = 0; l < accumulators.size(); ++l) atlas.layers[l] = accumulators[l].result();
  return atlas;
}

}  // namespace fmviz
