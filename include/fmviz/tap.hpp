// Tap: which output of a conv layer is shown, before or after its ReLU; parsed and printed here.
#pragma once

#include <string>

#include "error.hpp"
#include "layer_info.hpp"

namespace fmviz {

enum class Tap {
  conv,  ///< the convolution's output before ReLU (what the classic tutorial shows)
  relu,  ///< after the ReLU that follows it
};

/// "conv" or "relu", as parse_tap() reads it.
inline const char* to_string(Tap tap) noexcept { return tap == Tap::conv ? "conv" : "relu"; }

/// Words for people: "conv output, before ReLU" or "after ReLU".
inline const char* describe(Tap tap) noexcept { return tap == Tap::conv ? "conv output, before ReLU" : "after ReLU"; }

/// "conv" or "relu"; anything else throws fmviz::Error on field "tap".
inline Tap parse_tap(const std::string& text) {
  if (text == "conv") return Tap::conv;
  if (text == "relu") return Tap::relu;
  throw Error({}, "tap", "expects conv or relu, got '" + text + "'");
}

/// The conv layer whose `tap` output the output of layer `info` is, or nullptr: a conv layer itself for Tap::conv,
/// the ReLU right after a conv layer for Tap::relu.
inline const std::string* tapped_conv(const LayerInfo& info, Tap tap) noexcept {
  if (tap == Tap::conv) return info.kind == LayerKind::conv2d ? &info.name : nullptr;
  return info.kind == LayerKind::relu && !info.relu_of.empty() ? &info.relu_of : nullptr;
}

}  // namespace fmviz
