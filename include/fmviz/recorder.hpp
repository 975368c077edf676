// ActivationRecorder<T>: a forward visitor that keeps a copy of every conv layer's output by name, and one value
// range over all it holds (network_range), for drawing every layer on one scale.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"
#include "layer_info.hpp"
#include "stats.hpp"
#include "tap.hpp"
#include "tensor.hpp"

namespace fmviz {

template <typename T>
class ActivationRecorder {
 public:
  /// Records every conv layer; `layers`, if not empty, limits it to those conv names.
  explicit ActivationRecorder(Tap tap = Tap::conv, std::vector<std::string> layers = {})
      : tap_(tap), wanted_(std::move(layers)) {}

  void operator()(const LayerInfo& info, const Tensor<T>& output) {
    if (const std::string* conv = tapped_conv(info, tap_))
      if (wants(*conv)) store(*conv, output);
  }

  Tap tap() const noexcept { return tap_; }
  /// Conv layer names recorded so far, in network order.
  const std::vector<std::string>& names() const noexcept { return names_; }
  std::size_t size() const noexcept { return names_.size(); }
  bool contains(const std::string& name) const noexcept { return find(name) < names_.size(); }

  const Tensor<T>& at(const std::string& name) const {
    const std::size_t i = find(name);
    if (i == names_.size()) {
      std::string have;
      for (const auto& n : names_) have += (have.empty() ? "" : " ") + n;
      throw Error({}, name, "no activation recorded under this name (recorded: " + (have.empty() ? "none" : have) + ")");
    }
    return activations_[i];
  }

  /// Forgets what was recorded, keeping the tap and layer choice.
  void clear() noexcept {
    names_.clear();
    activations_.clear();
  }

 private:
  bool wants(const std::string& name) const {
    return wanted_.empty() || std::find(wanted_.begin(), wanted_.end(), name) != wanted_.end();
  }
  std::size_t find(const std::string& name) const noexcept {
    return static_cast<std::size_t>(std::find(names_.begin(), names_.end(), name) - names_.begin());
  }
  void store(const std::string& name, const Tensor<T>& output) {
    const std::size_t i = find(name);
    if (i < names_.size()) activations_[i] = output;  // a second forward replaces the first
    else {
      names_.push_back(name);
      activations_.push_back(output);
    }
  }

  Tap tap_;
  std::vector<std::string> wanted_;
  std::vector<std::string> names_;
  std::vector<Tensor<T>> activations_;
};

/// One value range over every layer the recorder holds (see network_range in stats.hpp): for drawing every
/// recorded layer on one scale.
template <typename T>
ValueRange network_range(const ActivationRecorder<T>& recorder, double clip_percent = 0.0) {
  std::vector<const Tensor<T>*> all;
  for (const std::string& name : recorder.names()) all.push_back(&recorder.at(name));
  return network_range(all, clip_percent);
}

}  // namespace fmviz
