// Receptive fields: which window of the input image a position of a layer's map sees, read from the network's own
// layers (each conv's kernel, stride and padding, each max-pool's), so any stack of convs and pools is covered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "../error.hpp"
#include "../layer_info.hpp"
#include "../network.hpp"

namespace fmviz {

/// One axis of a receptive field. Map position p sees input pixels [p * jump + offset, p * jump + offset + size - 1]
/// (pixel indices; the range may start before 0 or end past the image, where the network saw padding).
struct ReceptiveAxis {
  std::size_t size = 1;     ///< pixels seen along this axis
  std::size_t jump = 1;     ///< input pixels between neighbouring map positions: the product of the strides
  std::int64_t offset = 0;  ///< the first pixel seen by position 0: minus the padding, in input pixels

  /// The first input pixel position p sees.
  std::int64_t first(std::size_t p) const noexcept { return static_cast<std::int64_t>(p * jump) + offset; }
  /// The centre of what position p sees, in input pixel coordinates (pixel i's centre is i).
  double centre(std::size_t p) const noexcept { return static_cast<double>(first(p)) + (static_cast<double>(size) - 1.0) / 2.0; }
};

/// A window of the input image, in pixels; it may reach past the image's edges.
struct InputWindow {
  std::int64_t top = 0, left = 0;
  std::size_t height = 0, width = 0;
};

/// The receptive field of a layer's output: what each map position sees of the input.
struct ReceptiveField {
  std::string layer;
  ReceptiveAxis y, x;

  bool square() const noexcept { return y.size == x.size && y.jump == x.jump && y.offset == x.offset; }
  /// The input window map position (row, col) sees.
  InputWindow window(std::size_t row, std::size_t col) const noexcept { return {y.first(row), x.first(col), y.size, x.size}; }
};

namespace detail {

/// Goes one layer further: a layer with kernel k, stride s and padding p over fields of `in`. Its position o reads
/// input positions o*s - p ... o*s - p + k - 1, so it sees (k - 1) jumps more, starts p jumps earlier, and its
/// neighbours are s jumps apart.
inline ReceptiveAxis receptive_step(const ReceptiveAxis& in, std::size_t kernel, std::size_t stride, std::size_t padding,
                                    const std::string& layer) {
  // Bounds first: no real network comes near them, and past them the arithmetic below could wrap.
  constexpr std::size_t limit = std::size_t(1) << 40;
  if (kernel == 0 || stride == 0 || kernel > limit || stride > limit || padding > limit ||
      in.jump > limit / stride || (kernel - 1) > limit / in.jump || in.size > limit - (kernel - 1) * in.jump ||
      padding > limit / in.jump)
    throw Error({}, layer, "receptive field: kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride) +
                               ", padding " + std::to_string(padding) + " out of the range this computes");
  ReceptiveAxis out;
  out.size = in.size + (kernel - 1) * in.jump;
  out.jump = in.jump * stride;
  out.offset = in.offset - static_cast<std::int64_t>(padding * in.jump);
  return out;
}

}  // namespace detail

/// The receptive field of layer `layer`'s output (a conv, a pool, a ReLU: a ReLU's is its input's), from the kernels,
/// strides and paddings of the network's Conv2d and MaxPool2d layers up to it. Throws fmviz::Error naming the layer
/// when there is no such layer, or when a layer on the way mixes every position (adaptive pooling, the classifier).
template <typename T>
ReceptiveField receptive_field(const Network<T>& net, const std::string& layer) {
  const std::size_t last = net.layer(layer).info.index;
  ReceptiveField rf;
  rf.layer = layer;
  for (std::size_t i = 0; i <= last; ++i) {
    const Layer<T>& l = net.layers()[i];
    if (const auto* conv = l.template as<Conv2d<T>>()) {
      const Conv2dOptions& o = conv->options();
      rf.y = detail::receptive_step(rf.y, o.kernel_h, o.stride_h, o.pad_h, l.info.name);
      rf.x = detail::receptive_step(rf.x, o.kernel_w, o.stride_w, o.pad_w, l.info.name);
    } else if (const auto* pool = l.template as<MaxPool2d>()) {
      // ceil_mode adds positions at the end but does not move any window: the geometry is the same.
      rf.y = detail::receptive_step(rf.y, pool->kernel, pool->stride, pool->padding, l.info.name);
      rf.x = detail::receptive_step(rf.x, pool->kernel, pool->stride, pool->padding, l.info.name);
    } else if (l.info.kind != LayerKind::relu && l.info.kind != LayerKind::dropout) {
      throw Error({}, layer, std::string("has no local receptive field: layer ") + l.info.name + " (" + to_string(l.info.kind) +
                                 ") mixes every position");
    }
  }
  return rf;
}

/// The receptive field of every conv layer of the network, in order, up to the first layer that mixes every
/// position (VGG's avgpool): for a table of them.
template <typename T>
std::vector<ReceptiveField> conv_receptive_fields(const Network<T>& net) {
  std::vector<ReceptiveField> out;
  for (const Layer<T>& l : net.layers()) {
    if (l.info.kind == LayerKind::adaptive_avgpool2d || l.info.kind == LayerKind::flatten || l.info.kind == LayerKind::linear) break;
    if (l.info.kind == LayerKind::conv2d) out.push_back(receptive_field(net, l.info.name));
  }
  return out;
}

}  // namespace fmviz
