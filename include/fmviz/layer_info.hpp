// What a layer is, as a forward's visitor sees it, and the one rule that pairs a conv layer with its ReLU.
#pragma once

#include <cstddef>
#include <string>

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

/// A conv layer's ReLU is the ReLU right after it. This one rule decides what Tap::relu shows for a conv layer,
/// that a forward stopping at a conv layer runs its ReLU too, that a forward nobody watches fuses the two, and
/// that loading up to a conv layer loads its ReLU.
constexpr bool is_conv_relu_pair(LayerKind layer, LayerKind next) noexcept {
  return layer == LayerKind::conv2d && next == LayerKind::relu;
}

/// What a visitor is told about the layer whose output it is shown.
struct LayerInfo {
  std::string name;   // conv1_1, relu1_1, pool1, ..., fc6, relu6, drop6, fc7, ..., fc8
  LayerKind kind;
  std::size_t index;  // position in the network, from 0
  std::string relu_of = {};  // for a conv layer's ReLU (is_conv_relu_pair), that conv layer's name; else empty
};

}  // namespace fmviz
