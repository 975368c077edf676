// Network<T>: an immutable sequence of named layers, run front to back, each output shown to a visitor.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "detail/tensor_memory.hpp"
#include "error.hpp"
#include "layers/adaptive_avgpool2d.hpp"
#include "layers/conv2d.hpp"
#include "layers/linear.hpp"
#include "layers/maxpool2d.hpp"
#include "layers/relu.hpp"
#include "tensor.hpp"

namespace fmviz {

enum class LayerKind { conv2d, relu, maxpool2d, adaptive_avgpool2d, flatten, linear, dropout };

inline const char* to_string(LayerKind kind) noexcept {
  switch (kind) {
    case LayerKind::conv2d: return "Conv2d";
    case LayerKind::relu: return "ReLU";
    case LayerKind::maxpool2d: return "MaxPool2d";
    case LayerKind::adaptive_avgpool2d: return "AdaptiveAvgPool2d";
    case LayerKind::flatten: return "Flatten";
    case LayerKind::linear: return "Linear";
    case LayerKind::dropout: return "Dropout";
  }
  return "?";
}

/// What a visitor is told about the layer whose output it is shown.
struct LayerInfo {
  std::string name;   // conv1_1, relu1_1, pool1, ..., fc6, relu6, drop6, fc7, ..., fc8
  LayerKind kind;
  std::size_t index;  // position in the network, from 0
};

template <typename T>
using LayerOp = std::variant<Conv2d<T>, ReLU, MaxPool2d, AdaptiveAvgPool2d, Flatten, Linear<T>, Dropout>;

template <typename T>
struct Layer {
  Layer(std::string name, LayerKind kind, LayerOp<T> operation)
      : info{std::move(name), kind, 0}, op(std::move(operation)) {}

  LayerInfo info;
  LayerOp<T> op;
};

/// A visitor that looks at nothing; forward(x) uses it.
struct NoVisitor {
  template <typename T>
  void operator()(const LayerInfo&, const Tensor<T>&) const noexcept {}
};

template <typename T>
class Network {
 public:
  Network() = default;
  explicit Network(std::vector<Layer<T>> layers, std::vector<std::string> notes = {})
      : layers_(std::move(layers)), notes_(std::move(notes)) {
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      layers_[i].info.index = i;
      for (std::size_t j = 0; j < i; ++j)
        if (layers_[j].info.name == layers_[i].info.name) throw Error({}, layers_[i].info.name, "layer name used twice");
    }
  }

  const std::vector<Layer<T>>& layers() const noexcept { return layers_; }
  /// Remarks made while loading (for example tensors in the file that were not used).
  const std::vector<std::string>& notes() const noexcept { return notes_; }

  bool has_layer(const std::string& name) const noexcept { return find(name) < layers_.size(); }

  const Layer<T>& layer(const std::string& name) const { return layers_[index_of(name)]; }

  /// Names of the convolution layers, in order.
  std::vector<std::string> conv_names() const {
    std::vector<std::string> names;
    for (const auto& l : layers_)
      if (l.info.kind == LayerKind::conv2d) names.push_back(l.info.name);
    return names;
  }

  /// True when the network ends in the classifier (fc8's 1000 logits).
  bool has_classifier() const noexcept { return !layers_.empty() && layers_.back().info.kind == LayerKind::linear; }

  /// Index of the last layer a forward that stops at `stop_after` runs. A conv layer's stop includes
  /// the ReLU right after it, so both its pre- and post-activation outputs are seen. Empty: the last layer.
  std::size_t last_index(const std::string& stop_after) const {
    if (layers_.empty()) throw Error({}, "network", "has no layers");
    if (stop_after.empty()) return layers_.size() - 1;
    std::size_t i = index_of(stop_after);
    if (layers_[i].info.kind == LayerKind::conv2d && i + 1 < layers_.size() && layers_[i + 1].info.kind == LayerKind::relu) ++i;
    return i;
  }

  /// Shape of the output for an input of shape `in`; throws naming the first layer that cannot take it.
  Shape output_shape(Shape in, const std::string& stop_after = {}) const {
    const std::size_t last = last_index(stop_after);
    for (std::size_t i = 0; i <= last; ++i) {
      try {
        in = std::visit([&](const auto& op) { return op.output_shape(in); }, layers_[i].op);
      } catch (const Error& e) {
        throw Error({}, layers_[i].info.name, std::string("cannot take input ") + shape_to_string(in) + " (" + e.what() + ")");
      }
    }
    return in;
  }

  /// Runs x through the network (up to `stop_after`, if given) and returns the last output. After each layer,
  /// visitor(info, output) is called; the output is only valid during the call (later layers may reuse it in place).
  template <typename Visitor,
            std::enable_if_t<std::is_invocable_v<Visitor&, const LayerInfo&, const Tensor<T>&>, int> = 0>
  Tensor<T> forward(Tensor<T> x, Visitor&& visitor, const std::string& stop_after = {}) const {
    const std::size_t last = last_index(stop_after);
    output_shape(x.shape(), stop_after);  // fail before any work, naming the layer that cannot take x
    const detail::RecyclingScope recycling;  // each layer's output reuses the memory of outputs already consumed
    for (std::size_t i = 0; i <= last; ++i) {
      const Layer<T>& layer = layers_[i];
      // Without a visitor nobody sees a conv's output before its ReLU: both run as one pass (same values).
      if constexpr (std::is_same_v<std::decay_t<Visitor>, NoVisitor>) {
        const auto* conv = std::get_if<Conv2d<T>>(&layer.op);
        if (conv && i < last && layers_[i + 1].info.kind == LayerKind::relu) {
          x = conv->forward_relu(x);
          ++i;
          continue;
        }
      }
      x = std::visit([&](const auto& op) { return op.forward(std::move(x)); }, layer.op);
      visitor(layer.info, static_cast<const Tensor<T>&>(x));
    }
    return x;
  }

  Tensor<T> forward(Tensor<T> x, const std::string& stop_after = {}) const {
    return forward(std::move(x), NoVisitor{}, stop_after);
  }

 private:
  std::size_t find(const std::string& name) const noexcept {
    for (std::size_t i = 0; i < layers_.size(); ++i)
      if (layers_[i].info.name == name) return i;
    return layers_.size();
  }
  std::size_t index_of(const std::string& name) const {
    const std::size_t i = find(name);
    if (i == layers_.size()) {
      std::string known;
      for (const auto& l : layers_) known += (known.empty() ? "" : " ") + l.info.name;
      throw Error({}, name, "no such layer (this network has: " + known + ")");
    }
    return i;
  }

  std::vector<Layer<T>> layers_;
  std::vector<std::string> notes_;
};

}  // namespace fmviz
