// The VGG family as torchvision defines it: one cfg table, layer names, and the state_dict layout.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "error.hpp"
#include "layer_info.hpp"
#include "tensor.hpp"
#include "weights/tensor_spec.hpp"

namespace fmviz {

enum class VggVariant { vgg11, vgg13, vgg16, vgg19 };

inline const char* to_string(VggVariant v) noexcept {
  switch (v) {
    case VggVariant::vgg11: return "VGG11";
    case VggVariant::vgg13: return "VGG13";
    case VggVariant::vgg16: return "VGG16";
    case VggVariant::vgg19: return "VGG19";
  }
  return "?";
}

/// One layer of the plan: what to build, what to call it, and which state_dict tensors feed it.
struct VggLayerPlan {
  std::string name;          // conv1_1, relu1_1, pool1, avgpool, flatten, fc6, relu6, drop6, ...
  std::string state_prefix;  // "features.0", "classifier.3"; empty for layers without weights
  LayerKind kind = LayerKind::conv2d;
  std::size_t in = 0, out = 0;  // channels (conv) or features (linear)
  bool in_classifier = false;   // true from avgpool on: the part after pool5
};

namespace detail {

constexpr int pool_marker = 0;

inline std::vector<int> vgg_cfg(VggVariant v) {
  const int M = pool_marker;
  switch (v) {
    case VggVariant::vgg11: return {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
    case VggVariant::vgg13: return {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
    case VggVariant::vgg16: return {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};
    case VggVariant::vgg19: return {64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512, M};
  }
  throw Error({}, "variant", "unknown VGG variant");
}

}  // namespace detail

/// Every layer of a torchvision VGG, in order, with its fmviz name and state_dict prefix.
inline std::vector<VggLayerPlan> vgg_plan(VggVariant v) {
  std::vector<VggLayerPlan> plan;
  std::size_t index = 0, in = 3, block = 1, conv_in_block = 0;
  for (int c : detail::vgg_cfg(v)) {
    if (c == detail::pool_marker) {
      VggLayerPlan p;
      p.name = "pool" + std::to_string(block);
      p.kind = LayerKind::maxpool2d;
      plan.push_back(p);
      ++index;
      ++block;
      conv_in_block = 0;
      continue;
    }
    const std::string suffix = std::to_string(block) + "_" + std::to_string(++conv_in_block);
    VggLayerPlan conv;
    conv.name = "conv" + suffix;
    conv.state_prefix = "features." + std::to_string(index++);
    conv.kind = LayerKind::conv2d;
    conv.in = in;
    conv.out = static_cast<std::size_t>(c);
    plan.push_back(conv);
    VggLayerPlan relu;
    relu.name = "relu" + suffix;
    relu.kind = LayerKind::relu;
    plan.push_back(relu);
    ++index;
    in = static_cast<std::size_t>(c);
  }
  auto add = [&](VggLayerPlan p) {
    p.in_classifier = true;
    plan.push_back(std::move(p));
  };
  VggLayerPlan avg;
  avg.name = "avgpool";
  avg.kind = LayerKind::adaptive_avgpool2d;
  add(avg);
  VggLayerPlan flat;
  flat.name = "flatten";
  flat.kind = LayerKind::flatten;
  add(flat);
  const std::size_t features[] = {512 * 7 * 7, 4096, 4096, 1000};
  for (std::size_t i = 0; i < 3; ++i) {
    VggLayerPlan fc;
    fc.name = "fc" + std::to_string(6 + i);
    fc.state_prefix = "classifier." + std::to_string(3 * i);
    fc.kind = LayerKind::linear;
    fc.in = features[i];
    fc.out = features[i + 1];
    add(fc);
    if (i == 2) break;
    VggLayerPlan relu;
    relu.name = "relu" + std::to_string(6 + i);
    relu.kind = LayerKind::relu;
    add(relu);
    VggLayerPlan drop;
    drop.name = "drop" + std::to_string(6 + i);
    drop.kind = LayerKind::dropout;
    add(drop);
  }
  return plan;
}

/// The state_dict of the plan's layers [0, end), in torchvision order (weight then bias, layer by layer).
inline std::vector<TensorSpec> state_dict_specs(const std::vector<VggLayerPlan>& plan, std::size_t end) {
  std::vector<TensorSpec> specs;
  for (std::size_t i = 0; i < end && i < plan.size(); ++i) {
    const VggLayerPlan& p = plan[i];
    if (p.kind == LayerKind::conv2d) specs.push_back({p.state_prefix + ".weight", {p.out, p.in, 3, 3}});
    else if (p.kind == LayerKind::linear) specs.push_back({p.state_prefix + ".weight", {p.out, p.in}});
    else continue;
    specs.push_back({p.state_prefix + ".bias", {p.out}});
  }
  return specs;
}

}  // namespace fmviz
