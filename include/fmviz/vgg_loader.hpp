// load_vgg: builds a VGG Network<T> from a raw or safetensors weight file, validating every tensor.
#pragma once

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"
#include "network.hpp"
#include "vgg_config.hpp"
#include "weights.hpp"

namespace fmviz {

struct LoadOptions {
  /// Build (and load) the network only up to this layer, e.g. "conv3_1" (a conv keeps its ReLU).
  /// Lets a raw file that covers only a prefix of whole conv layers be loaded. Empty: everything the file holds.
  std::string last_layer;
  WeightFormat format = WeightFormat::automatic;
  /// How the conv layers compute (automatic: Winograd for the 3x3 layers with enough channels, GEMM for the rest).
  ConvAlgorithm algorithm = ConvAlgorithm::automatic;
  /// Winograd's output tile side, 2, 4 or 6; 0 chooses.
  std::size_t winograd_tile = 0;
  /// Transform the Winograd layers' weights once now (default), or at each forward to save memory.
  WinogradWeights winograd_weights = WinogradWeights::at_build;
};

namespace detail {

/// timm's vgg16.tv_in1k names for torchvision's classifier tensors, and the shapes timm stores them in.
struct NameAlias {
  const char* torchvision;
  const char* timm;
};
inline constexpr NameAlias timm_aliases[] = {
    {"classifier.0.weight", "pre_logits.fc1.weight"}, {"classifier.0.bias", "pre_logits.fc1.bias"},
    {"classifier.3.weight", "pre_logits.fc2.weight"}, {"classifier.3.bias", "pre_logits.fc2.bias"},
    {"classifier.6.weight", "head.fc.weight"},        {"classifier.6.bias", "head.fc.bias"},
};

/// Finds a tensor under its torchvision name or its timm alias and records that it was used.
class TensorLookup {
 public:
  explicit TensorLookup(const TensorTable& table) : table_(table), used_(table.tensors.size(), false) {}

  const StoredTensor* find(const std::string& name) {
    if (const StoredTensor* t = mark(table_.find(name))) return t;
    for (const auto& a : timm_aliases)
      if (name == a.torchvision) return mark(table_.find(a.timm));
    return nullptr;
  }

  /// Reads a tensor that must exist with the expected shape (or, for a Linear weight, its timm
  /// conv form (out, C, H, W) / (out, in, 1, 1) holding the same elements in the same order).
  template <typename T>
  Tensor<T> take(const TensorSpec& spec) {
    const StoredTensor* t = find(spec.name);
    if (!t) throw Error(table_.path(), spec.name, "missing (expected shape " + shape_to_string(spec.shape) + ")");
    const bool same = t->shape == spec.shape;
    const bool linear_as_conv = spec.shape.size() == 2 && t->shape.size() == 4 && t->shape[0] == spec.shape[0] &&
                                shape_size(t->shape) == shape_size(spec.shape);
    if (!same && !linear_as_conv)
      throw Error(table_.path(), t->name, "expected shape " + shape_to_string(spec.shape) + ", found " + shape_to_string(t->shape));
    return to_tensor<T>(*t, table_.path()).reshaped(spec.shape);
  }

  std::vector<std::string> unused() const {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < used_.size(); ++i)
      if (!used_[i]) names.push_back(table_.tensors[i].name);
    return names;
  }

 private:
  const StoredTensor* mark(const StoredTensor* t) {
    if (t) used_[static_cast<std::size_t>(t - table_.tensors.data())] = true;
    return t;
  }
  const TensorTable& table_;
  std::vector<bool> used_;
};

inline std::size_t plan_index(const std::vector<VggLayerPlan>& plan, const std::string& name, VggVariant v) {
  for (std::size_t i = 0; i < plan.size(); ++i)
    if (plan[i].name == name) return i;
  std::string known;
  for (const auto& p : plan) known += (known.empty() ? "" : " ") + p.name;
  throw Error({}, "last_layer", "\"" + name + "\" is not a layer of " + to_string(v) + " (layers: " + known + ")");
}

inline std::string conv_range(const std::vector<VggLayerPlan>& plan, std::size_t end) {
  std::string first, last;
  for (std::size_t i = 0; i < end; ++i)
    if (plan[i].kind == LayerKind::conv2d) (first.empty() ? first : last) = plan[i].name;
  return last.empty() ? first : first + "..." + last;
}

}  // namespace detail

/// Builds a torchvision VGG from `path`. The network runs the classifier (ending in fc8's 1000 logits)
/// when the file holds it, and otherwise ends after pool5. Throws fmviz::Error naming the file and tensor at fault.
template <typename T>
Network<T> load_vgg(VggVariant variant, const std::string& path, const LoadOptions& options = {}) {
  const std::vector<VggLayerPlan> plan = vgg_plan(variant);
  const std::size_t pool5_end = static_cast<std::size_t>(
      std::find_if(plan.begin(), plan.end(), [](const VggLayerPlan& p) { return p.in_classifier; }) - plan.begin());
  std::size_t end = plan.size();  // one past the last layer to build
  if (!options.last_layer.empty()) {
    end = detail::plan_index(plan, options.last_layer, variant) + 1;
    if (end < plan.size() && is_conv_relu_pair(plan[end - 1].kind, plan[end].kind)) ++end;  // keep the conv's ReLU
  }

  const WeightFormat format = options.format == WeightFormat::automatic ? detect_weight_format(path) : options.format;
  TensorTable table;
  if (format == WeightFormat::safetensors) {
    table = read_safetensors(path);
  } else {
    std::error_code size_error;
    const auto bytes = static_cast<std::size_t>(std::filesystem::file_size(path, size_error));  // read_raw reports errors
    // Prefixes of whole conv layers: conv1_1 only, conv1_1...conv1_2, ... (the last one is the conv stack).
    std::vector<RawLayout> prefixes;
    std::vector<std::size_t> prefix_conv;  // plan index of each prefix's last conv
    for (std::size_t i = 0; i < pool5_end; ++i)
      if (plan[i].kind == LayerKind::conv2d) {
        prefixes.push_back({detail::conv_range(plan, i + 1) + " only", state_dict_specs(plan, i + 1)});
        prefix_conv.push_back(i);
      }
    std::vector<RawLayout> layouts;
    std::string hint;
    if (!options.last_layer.empty() && end < pool5_end) {
      // Asked for the front of the network: any prefix holding at least the convs it needs will do.
      std::size_t needed = 0;
      for (std::size_t i = 0; i < end; ++i) needed += plan[i].kind == LayerKind::conv2d;
      std::size_t match = needed == 0 ? 0 : needed - 1;
      for (std::size_t k = match; k + 1 < prefixes.size(); ++k)
        if (element_count(prefixes[k].tensors) * 4 == bytes) match = k;
      if (needed > 0 && match + 1 < prefixes.size()) layouts.push_back(prefixes[match]);
    }
    // A file that covers fewer whole conv layers only loads when asked for: say which option would do it.
    for (std::size_t k = 0; k + 1 < prefixes.size(); ++k)
      if (element_count(prefixes[k].tensors) * 4 == bytes) {
        const std::string& last = plan[prefix_conv[k]].name;
        hint = "it matches " + detail::conv_range(plan, prefix_conv[k] + 1) + " exactly: load it with last_layer \"" + last +
               "\" (CLI: --last-layer " + last + ")";
      }
    const std::string model = to_string(variant);
    layouts.push_back({model + " conv stack", state_dict_specs(plan, pool5_end)});
    layouts.push_back({model + " full model", state_dict_specs(plan, plan.size())});
    table = read_raw(path, layouts, hint);
  }

  detail::TensorLookup lookup(table);
  bool wants_classifier = false;  // a layer with weights after pool5 (avgpool and flatten have none)
  for (std::size_t i = pool5_end; i < end; ++i) wants_classifier = wants_classifier || plan[i].kind == LayerKind::linear;
  const bool file_has_classifier = lookup.find("classifier.0.weight") || lookup.find("classifier.6.weight");
  if (options.last_layer.empty()) end = file_has_classifier ? plan.size() : pool5_end;
  else if (wants_classifier && !file_has_classifier)
    throw Error(path, options.last_layer, "is in the classifier, but the file holds only the conv stack");

  const std::vector<TensorSpec> all_specs = state_dict_specs(plan, plan.size());
  std::size_t next_spec = 0;  // weight and bias of the next layer that has weights
  std::vector<Layer<T>> layers;
  for (std::size_t i = 0; i < end; ++i) {
    const VggLayerPlan& p = plan[i];
    if (p.kind == LayerKind::conv2d || p.kind == LayerKind::linear) {
      Tensor<T> weight = lookup.take<T>(all_specs[next_spec++]);
      Tensor<T> bias = lookup.take<T>(all_specs[next_spec++]);
      if (p.kind == LayerKind::conv2d) layers.emplace_back(p.name, Conv2d<T>(std::move(weight), std::move(bias), 1, 1, 1, 1, options.algorithm,
                                                  options.winograd_tile, options.winograd_weights));
      else layers.emplace_back(p.name, Linear<T>(std::move(weight), std::move(bias)));
    } else if (p.kind == LayerKind::relu) {
      layers.emplace_back(p.name, ReLU{});
    } else if (p.kind == LayerKind::maxpool2d) {
      layers.emplace_back(p.name, MaxPool2d(2, 2));
    } else if (p.kind == LayerKind::adaptive_avgpool2d) {
      layers.emplace_back(p.name, AdaptiveAvgPool2d(7, 7));
    } else if (p.kind == LayerKind::flatten) {
      layers.emplace_back(p.name, Flatten{});
    } else {
      layers.emplace_back(p.name, Dropout{});
    }
  }

  std::vector<std::string> notes = std::move(table.notes);
  if (format == WeightFormat::safetensors) {
    // Tensors of layers past last_layer are expected to be unused; anything else is worth a word.
    std::vector<std::string> extra;
    for (const std::string& name : lookup.unused()) {
      bool known = std::any_of(all_specs.begin(), all_specs.end(), [&](const TensorSpec& s) { return s.name == name; });
      for (const auto& a : detail::timm_aliases) known = known || name == a.timm;
      if (!known) extra.push_back(name);
    }
    if (!extra.empty()) {
      std::string list;
      for (std::size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", " : "") + extra[i];
      if (extra.size() > 5) list += ", ...";
      notes.push_back(path + ": ignored " + std::to_string(extra.size()) + " tensor(s) that " + to_string(variant) +
                      " does not use: " + list);
    }
  }
  return Network<T>(std::move(layers), std::move(notes));
}

/// VGG16, the network the rest of fmviz is built around.
template <typename T>
Network<T> load_vgg16(const std::string& path, const LoadOptions& options = {}) {
  return load_vgg<T>(VggVariant::vgg16, path, options);
}

}  // namespace fmviz
