// Network<T>: an immutable sequence of named layers, run front to back, each output shown to a visitor.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "detail/parallel.hpp"
#include "detail/tensor_memory.hpp"
#include "error.hpp"
#include "layers/adaptive_avgpool2d.hpp"
#include "layers/conv2d.hpp"
#include "layers/linear.hpp"
#include "layers/maxpool2d.hpp"
#include "layers/relu.hpp"
#include "layer_info.hpp"
#include "tensor.hpp"

namespace fmviz {

template <typename T>
using LayerOp = std::variant<Conv2d<T>, ReLU, MaxPool2d, AdaptiveAvgPool2d, Flatten, Linear<T>, Dropout>;

namespace detail {
inline constexpr LayerKind kind_of(const ReLU&) noexcept { return LayerKind::relu; }
inline constexpr LayerKind kind_of(const MaxPool2d&) noexcept { return LayerKind::maxpool2d; }
inline constexpr LayerKind kind_of(const AdaptiveAvgPool2d&) noexcept { return LayerKind::adaptive_avgpool2d; }
inline constexpr LayerKind kind_of(const Flatten&) noexcept { return LayerKind::flatten; }
inline constexpr LayerKind kind_of(const Dropout&) noexcept { return LayerKind::dropout; }
template <typename T>
constexpr LayerKind kind_of(const Conv2d<T>&) noexcept { return LayerKind::conv2d; }
template <typename T>
constexpr LayerKind kind_of(const Linear<T>&) noexcept { return LayerKind::linear; }
}  // namespace detail

/// A named layer. Its kind (in `info`) is read from the operation it holds, never given separately.
template <typename T>
struct Layer {
  Layer(std::string name, LayerOp<T> operation)
      : info{std::move(name), std::visit([](const auto& op) { return detail::kind_of(op); }, operation), 0}, op(std::move(operation)) {}

  /// The operation as an `Op` (Conv2d<T>, MaxPool2d, ...), or nullptr when the layer is another kind.
  template <typename Op>
  const Op* as() const noexcept { return std::get_if<Op>(&op); }

  /// The operation as an `Op`; throws fmviz::Error naming the layer when it is another kind.
  template <typename Op>
  const Op& get() const {
    if (const Op* o = as<Op>()) return *o;
    throw Error({}, info.name, std::string("is a ") + to_string(info.kind) + " layer, not the kind asked for");
  }

  LayerInfo info;
  LayerOp<T> op;
};

/// What a forward leaves for a backward: the input and every layer's output, in network order. A trace may
/// keep only the later layers (`kept_from`): a backward can then go back to those layers, not further.
template <typename T>
struct ForwardTrace {
  Tensor<T> input;                 ///< empty unless kept_from is 0
  std::vector<Tensor<T>> outputs;  ///< outputs[i]: layer i's output, for the layers run; empty before kept_from
  std::size_t kept_from = 0;       ///< the first layer whose output was kept
};

/// How Network::backward goes back through a ReLU: as the derivative says (plain), or also stopping negative
/// gradients (guided backpropagation, for sharper saliency pictures; not a true gradient).
enum class GradientRule { plain, guided };

namespace detail {
template <typename T>
void clamp_negative_to_zero(Tensor<T>& t) {
  constexpr std::size_t chunk = std::size_t(1) << 16;
  const std::size_t n = t.size(), chunks = (n + chunk - 1) / chunk;
  T* data = t.data();
  parallel_for(chunks, [&](std::size_t i) {
    const std::size_t begin = i * chunk, end = std::min(n, begin + chunk);
    for (std::size_t j = begin; j < end; ++j) data[j] = std::max(data[j], T(0));
  }, chunks > 1);
}
}  // namespace detail

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
      layers_[i].info.relu_of = i > 0 && is_conv_relu_pair(layers_[i - 1].info.kind, layers_[i].info.kind) ? layers_[i - 1].info.name : "";
      for (std::size_t j = 0; j < i; ++j)
        if (layers_[j].info.name == layers_[i].info.name) throw Error({}, layers_[i].info.name, "layer name used twice");
    }
  }

  const std::vector<Layer<T>>& layers() const noexcept { return layers_; }
  /// Remarks made while loading (for example tensors in the file that were not used).
  const std::vector<std::string>& notes() const noexcept { return notes_; }

  bool has_layer(const std::string& name) const noexcept { return find(name) < layers_.size(); }

  const Layer<T>& layer(const std::string& name) const { return layers_[index_of(name)]; }

  /// The conv layer `name`; throws fmviz::Error when there is none or it is another kind of layer.
  const Conv2d<T>& conv(const std::string& name) const {
    const Layer<T>& l = layer(name);
    if (const auto* c = l.template as<Conv2d<T>>()) return *c;
    throw Error({}, name, std::string("is a ") + to_string(l.info.kind) + " layer, not a conv layer");
  }

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
    if (i + 1 < layers_.size() && is_conv_relu_pair(layers_[i].info.kind, layers_[i + 1].info.kind)) ++i;
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
    return run(std::move(x), 0, last + 1, visitor);
  }

  Tensor<T> forward(Tensor<T> x, const std::string& stop_after = {}) const {
    return forward(std::move(x), NoVisitor{}, stop_after);
  }

  /// A forward (up to `stop_after`) that keeps the input and every layer's output for backward(). Nothing is
  /// fused or computed in place, so a conv layer's output and its ReLU's are both there. With `keep_from`, the
  /// layers before it run as a plain forward (fused, memory reused) and only the outputs from `keep_from` on are
  /// kept: enough for a backward to `keep_from` (Grad-CAM needs the last conv layer's, and costs a forward).
  ForwardTrace<T> trace(Tensor<T> x, const std::string& stop_after = {}, const std::string& keep_from = {}) const {
    return trace(std::move(x), NoVisitor{}, stop_after, keep_from);
  }

  /// The same, showing each layer's output to `visitor` as forward() does.
  template <typename Visitor,
            std::enable_if_t<std::is_invocable_v<Visitor&, const LayerInfo&, const Tensor<T>&>, int> = 0>
  ForwardTrace<T> trace(Tensor<T> x, Visitor&& visitor, const std::string& stop_after = {}, const std::string& keep_from = {}) const {
    const std::size_t last = last_index(stop_after);
    const std::size_t first = keep_from.empty() ? 0 : index_of(keep_from);
    if (first > last) throw Error({}, keep_from, "comes after the last layer the trace runs (" + layers_[last].info.name + ")");
    output_shape(x.shape(), stop_after);
    ForwardTrace<T> t;
    t.kept_from = first;
    t.outputs.resize(last + 1);
    if (first > 0) {
      const detail::RecyclingScope recycling;
      t.outputs[first] = run(std::move(x), 0, first + 1, visitor);
    } else {
      t.input = std::move(x);
      t.outputs[0] = std::visit([&](const auto& op) { return op.forward(t.input); }, layers_[0].op);
      visitor(layers_[0].info, static_cast<const Tensor<T>&>(t.outputs[0]));
    }
    for (std::size_t i = first + 1; i <= last; ++i) {  // a copy where the layer works in place
      t.outputs[i] = std::visit([&](const auto& op) { return op.forward(t.outputs[i - 1]); }, layers_[i].op);
      visitor(layers_[i].info, static_cast<const Tensor<T>&>(t.outputs[i]));
    }
    return t;
  }

  /// The gradient with respect to the output of layer `to` (or, with `to` empty, to the input) from `grad`, the
  /// gradient with respect to the output of the later layer `from`, back through the layers between, on what
  /// `trace` recorded. Threaded like the forward. For a conv layer's activation before its ReLU ask for the conv
  /// layer (`conv5_3`), after it for the ReLU (`relu5_3`). `rule` guided: guided backpropagation.
  Tensor<T> backward(const ForwardTrace<T>& trace, const std::string& from, Tensor<T> grad, const std::string& to = {},
                     GradientRule rule = GradientRule::plain) const {
    const std::size_t first = index_of(from);
    if (first >= trace.outputs.size())
      throw Error({}, from, "was not run by the traced forward (it stopped at " +
                                (trace.outputs.empty() ? std::string("the input") : layers_[trace.outputs.size() - 1].info.name) + ")");
    if (first < trace.kept_from)
      throw Error({}, from, "is before what the trace kept (it kept the outputs from " + layers_[trace.kept_from].info.name + " on)");
    if (grad.shape() != trace.outputs[first].shape())
      throw Error({}, from, "gradient of shape " + shape_to_string(grad.shape()) + " for an output of shape " +
                                shape_to_string(trace.outputs[first].shape()));
    std::size_t stop = 0;  // layers [stop, first] are gone back through
    if (!to.empty()) {
      stop = index_of(to) + 1;
      if (stop > first + 1) throw Error({}, to, "comes after " + from + ": a backward goes towards the input");
    }
    if (trace.kept_from > 0 && stop <= trace.kept_from)  // layer `stop` needs its input, the output before it
      throw Error({}, to.empty() ? std::string("input") : to,
                  "is before what the trace kept (it kept the outputs from " + layers_[trace.kept_from].info.name + " on)");
    for (std::size_t i = first + 1; i-- > stop;) {
      const Tensor<T>& in = i == 0 ? trace.input : trace.outputs[i - 1];
      try {
        grad = std::visit([&](const auto& op) { return op.backward(in, trace.outputs[i], std::move(grad)); }, layers_[i].op);
      } catch (const Error& e) {
        throw Error({}, layers_[i].info.name, std::string("backward: ") + e.what());
      }
      // Guided backpropagation (Springenberg et al.): a ReLU also stops the negative gradient.
      if (rule == GradientRule::guided && layers_[i].info.kind == LayerKind::relu) detail::clamp_negative_to_zero(grad);
    }
    return grad;
  }

 private:
  /// Runs layers [begin, end) on x. Without a visitor nobody sees a conv's output before its ReLU: where both
  /// are in the range they run as one pass (same values).
  template <typename Visitor>
  Tensor<T> run(Tensor<T> x, std::size_t begin, std::size_t end, Visitor& visitor) const {
    for (std::size_t i = begin; i < end; ++i) {
      const Layer<T>& layer = layers_[i];
      if constexpr (std::is_same_v<std::decay_t<Visitor>, NoVisitor>) {
        const auto* conv = std::get_if<Conv2d<T>>(&layer.op);
        if (conv && i + 1 < end && is_conv_relu_pair(layer.info.kind, layers_[i + 1].info.kind)) {
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
