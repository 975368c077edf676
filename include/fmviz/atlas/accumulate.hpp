// AtlasAccumulator: one layer's top images per channel, by the channel's maximum over the image and by its mean,
// fed a batch at a time. It keeps top_k hits of each kind per channel and nothing else, so its memory does not
// grow with the number of images.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../detail/parallel.hpp"
#include "../error.hpp"
#include "../tensor.hpp"
#include "model.hpp"

namespace fmviz {
namespace detail {

/// Offers `hit` to `heap`, which keeps the best `k` hits seen: a binary heap under ranks_before, so its front is
/// the worst hit kept and a better one replaces it in O(log k).
inline void offer_hit(std::vector<AtlasHit>& heap, std::size_t k, const AtlasHit& hit) {
  if (heap.size() < k) {
    heap.push_back(hit);
    std::push_heap(heap.begin(), heap.end(), ranks_before);
  } else if (ranks_before(hit, heap.front())) {
    std::pop_heap(heap.begin(), heap.end(), ranks_before);
    heap.back() = hit;
    std::push_heap(heap.begin(), heap.end(), ranks_before);
  }
}

/// A channel map's maximum (and where it is) and mean; `ok` is false when it holds a NaN.
struct MapSummary {
  float max = 0, mean = 0;
  std::uint32_t y = 0, x = 0;
  bool ok = true;
};

/// The first maximum in row-major order wins a tie (`>` below), so the position does not depend on anything but
/// the values. The mean is summed in double, in order: the same bits whatever the batch or thread count.
inline MapSummary summarize_map(const float* v, std::size_t height, std::size_t width) noexcept {
  MapSummary s;
  std::size_t best = 0;
  double sum = 0;
  const std::size_t n = height * width;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) {
      s.ok = false;
      return s;
    }
    if (v[i] > v[best]) best = i;
    sum += static_cast<double>(v[i]);
  }
  s.max = v[best];
  s.mean = static_cast<float>(sum / static_cast<double>(n));
  s.y = static_cast<std::uint32_t>(best / width);
  s.x = static_cast<std::uint32_t>(best % width);
  s.ok = !std::isnan(s.mean);  // +inf and -inf in one map
  return s;
}

}  // namespace detail

/// Ranks the images of a run for every channel of one conv layer. Feed it every batch's activation of the layer;
/// result() gives, per channel, the top_k images by the channel's maximum over the image and the top_k by its
/// mean, best first (ranks_before: the higher value, then the lower image index). The hits of both lists give
/// the position of the channel's maximum in that image (the first in row-major order when it occurs more than
/// once).
///
/// The ranking is a strict total order over images, so the result depends only on which images were added: not
/// on their order, on how they were split into batches or accumulators (add(const AtlasLayer&) merges another
/// part's result exactly), or on the thread count (threads share out channels; each channel is one thread's).
///
/// NaN: an image whose map of a channel holds a NaN (or both infinities, whose mean is NaN) has no rank for that
/// channel and is left out of both its lists. A list may therefore hold fewer than top_k hits, as it does when
/// fewer images were added. Each image must be added once: the accumulator keeps no record of the images seen.
class AtlasAccumulator {
 public:
  AtlasAccumulator(std::string layer, std::size_t channels, std::size_t height, std::size_t width, std::size_t top_k)
      : layer_(std::move(layer)), height_(height), width_(width), top_k_(top_k), by_max_(channels), by_mean_(channels) {
    if (channels == 0 || height == 0 || width == 0)
      throw Error({}, layer_, "an atlas layer needs channels and a map of at least 1 x 1");
    if (top_k == 0) throw Error({}, "top_k", "must be at least 1");
    if (height > UINT32_MAX || width > UINT32_MAX) throw Error({}, layer_, "map too large for an atlas");
  }

  const std::string& layer() const noexcept { return layer_; }
  std::size_t channels() const noexcept { return by_max_.size(); }
  std::size_t height() const noexcept { return height_; }
  std::size_t width() const noexcept { return width_; }
  std::size_t top_k() const noexcept { return top_k_; }

  /// A batch's activation of the layer, (N, C, H, W), and each item's index in the run's image list.
  void add(const Tensor<float>& activation, const std::vector<std::uint64_t>& images) {
    const Shape& s = activation.shape();
    if (s.size() != 4 || s[1] != channels() || s[2] != height_ || s[3] != width_)
      throw Error({}, layer_, "activation of shape " + shape_to_string(s) + " for an atlas of " + std::to_string(channels()) +
                                  " channels of " + std::to_string(height_) + " x " + std::to_string(width_));
    if (images.size() != s[0])
      throw Error({}, layer_, std::to_string(images.size()) + " image indices for a batch of " + std::to_string(s[0]));
    const std::size_t plane = height_ * width_, count = s[0], c_count = channels();
    const float* data = activation.data();
    detail::parallel_for(c_count, [&](std::size_t c) {
      for (std::size_t n = 0; n < count; ++n) {
        const detail::MapSummary m = detail::summarize_map(data + (n * c_count + c) * plane, height_, width_);
        if (!m.ok) continue;
        detail::offer_hit(by_max_[c], top_k_, AtlasHit{images[n], m.max, m.y, m.x});
        detail::offer_hit(by_mean_[c], top_k_, AtlasHit{images[n], m.mean, m.y, m.x});
      }
    }, count * c_count * plane >= 4096);
  }

  /// Another part's result for the same layer (from result(), or a table): the top of both together. The parts
  /// must have run different images.
  void add(const AtlasLayer& part) {
    if (part.name != layer_ || part.channels.size() != channels() || part.height != height_ || part.width != width_)
      throw Error({}, layer_, "cannot take in layer " + part.name + " (" + std::to_string(part.channels.size()) + " channels of " +
                                  std::to_string(part.height) + " x " + std::to_string(part.width) + ")");
    for (std::size_t c = 0; c < channels(); ++c) {
      for (const AtlasHit& h : part.channels[c].by_max) detail::offer_hit(by_max_[c], top_k_, h);
      for (const AtlasHit& h : part.channels[c].by_mean) detail::offer_hit(by_mean_[c], top_k_, h);
    }
  }

  /// The layer's lists, best first.
  AtlasLayer result() const {
    AtlasLayer out;
    out.name = layer_;
    out.height = height_;
    out.width = width_;
    out.channels.resize(channels());
    for (std::size_t c = 0; c < channels(); ++c) {
      out.channels[c].by_max = by_max_[c];
      out.channels[c].by_mean = by_mean_[c];
      std::sort_heap(out.channels[c].by_max.begin(), out.channels[c].by_max.end(), ranks_before);
      std::sort_heap(out.channels[c].by_mean.begin(), out.channels[c].by_mean.end(), ranks_before);
    }
    return out;
  }

 private:
  std::string layer_;
  std::size_t height_, width_, top_k_;
  std::vector<std::vector<AtlasHit>> by_max_, by_mean_;  // per channel, heaps (see offer_hit)
};

}  // namespace fmviz
