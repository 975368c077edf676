// Class activation maps: where in the image the evidence for a class lies, from one conv layer's activations
// and the class logit's gradient with respect to them. Grad-CAM (Selvaraju et al., 2017), Grad-CAM++
// (Chattopadhay et al., 2018) and LayerCAM (Jiang et al., 2021), as pytorch-grad-cam computes them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "../classify.hpp"
#include "../detail/parallel.hpp"
#include "../error.hpp"
#include "../network.hpp"
#include "../overlay.hpp"
#include "../tap.hpp"
#include "../tensor.hpp"
#include "class_target.hpp"

namespace fmviz {

enum class CamMethod {
  grad_cam,            ///< channel weights: the gradient's spatial mean
  grad_cam_plus_plus,  ///< channel weights: positive gradients weighted by second- and third-order terms
  layer_cam,           ///< no channel weights: each position's activation times its own positive gradient
};

/// "gradcam", "gradcam++" or "layercam", as parse_cam_method() reads it (pytorch-grad-cam's names).
inline const char* to_string(CamMethod m) noexcept {
  switch (m) {
    case CamMethod::grad_cam: return "gradcam";
    case CamMethod::grad_cam_plus_plus: return "gradcam++";
    case CamMethod::layer_cam: return "layercam";
  }
  return "?";
}

/// The method's published name: "Grad-CAM", "Grad-CAM++", "LayerCAM".
inline const char* describe(CamMethod m) noexcept {
  switch (m) {
    case CamMethod::grad_cam: return "Grad-CAM";
    case CamMethod::grad_cam_plus_plus: return "Grad-CAM++";
    case CamMethod::layer_cam: return "LayerCAM";
  }
  return "?";
}

/// "gradcam", "gradcam++" (or "gradcampp") or "layercam"; anything else throws fmviz::Error on field "cam-method".
inline CamMethod parse_cam_method(const std::string& text) {
  if (text == "gradcam") return CamMethod::grad_cam;
  if (text == "gradcam++" || text == "gradcampp") return CamMethod::grad_cam_plus_plus;
  if (text == "layercam") return CamMethod::layer_cam;
  throw Error({}, "cam-method", "expects gradcam, gradcam++ or layercam, got '" + text + "'");
}

/// Which maps, for which class, at which layer.
struct CamOptions {
  std::string layer = "conv5_3";  ///< a conv layer; the last one sees the most and is the usual choice
  Tap tap = Tap::relu;            ///< its activation after the ReLU (the rectified maps the papers use), or before
  std::optional<std::size_t> class_index;  ///< none: each image's top class
  std::vector<CamMethod> methods = {CamMethod::grad_cam, CamMethod::grad_cam_plus_plus, CamMethod::layer_cam};
};

/// One map of one image.
struct ClassActivationMap {
  CamMethod method = CamMethod::grad_cam;
  std::string layer;
  Tap tap = Tap::relu;
  ClassScore target;               ///< the class explained: its index, logit and probability
  Tensor<float> map;               ///< (h, w) at the layer's resolution, after the final ReLU, not rescaled
  std::vector<float> channel_weights;  ///< Grad-CAM and Grad-CAM++: each channel's weight; LayerCAM: empty
};

/// The name of the layer whose output is `options.layer`'s activation at `options.tap`: the conv layer, or the
/// ReLU after it.
template <typename T>
std::string cam_activation_layer(const Network<T>& net, const CamOptions& options) {
  if (!net.has_layer(options.layer)) {
    std::string convs;
    for (const auto& n : net.conv_names()) convs += (convs.empty() ? "" : ",") + n;
    throw Error({}, "cam-layer", "'" + options.layer + "' is not a layer of this network (its conv layers: " + convs + ")");
  }
  const LayerInfo& info = net.layer(options.layer).info;
  if (info.kind != LayerKind::conv2d)
    throw Error({}, "cam-layer", "'" + options.layer + "' is a " + to_string(info.kind) + " layer, not a conv layer");
  if (options.tap == Tap::conv) return options.layer;
  for (const auto& l : net.layers())
    if (l.info.relu_of == options.layer) return l.info.name;
  throw Error({}, "cam-layer", "'" + options.layer + "' has no ReLU after it: ask for its output before the ReLU (tap conv)");
}

/// Checks a request against a network before any work: a classifier, a conv layer, a class that exists, at
/// least one method. Throws fmviz::Error naming the option at fault.
template <typename T>
void check_cam_request(const Network<T>& net, const CamOptions& options) {
  check_class_index(net, options.class_index, "cam");
  (void)cam_activation_layer(net, options);
  if (options.methods.empty()) throw Error({}, "cam-method", "no method asked for");
}

namespace detail {

/// One image's maps from its activation A and gradient G, both (C, h, w) at `a` and `g`. Sums in double.
inline std::vector<ClassActivationMap> cams_of(const float* a, const float* g, std::size_t c, std::size_t h, std::size_t w,
                                               const CamOptions& options, const ClassScore& target) {
  const std::size_t plane = h * w;
  std::vector<ClassActivationMap> maps;
  for (CamMethod method : options.methods) {
    ClassActivationMap m;
    m.method = method;
    m.layer = options.layer;
    m.tap = options.tap;
    m.target = target;
    std::vector<double> sum(plane, 0.0);
    if (method == CamMethod::layer_cam) {
      for (std::size_t k = 0; k < c; ++k)
        for (std::size_t i = 0; i < plane; ++i) sum[i] += double(std::max(g[k * plane + i], 0.0f)) * double(a[k * plane + i]);
    } else {
      m.channel_weights.resize(c);
      for (std::size_t k = 0; k < c; ++k) {
        const float* gk = g + k * plane;
        const float* ak = a + k * plane;
        double weight = 0;
        if (method == CamMethod::grad_cam) {
          for (std::size_t i = 0; i < plane; ++i) weight += gk[i];
          weight /= double(plane);
        } else {
          // alpha = g^2 / (2 g^2 + sum(A) g^3 + eps), 0 where g is 0; weight = sum of alpha * relu(g).
          double activation_sum = 0;
          for (std::size_t i = 0; i < plane; ++i) activation_sum += ak[i];
          for (std::size_t i = 0; i < plane; ++i) {
            const double g1 = gk[i], g2 = g1 * g1, g3 = g2 * g1;
            const double alpha = g1 != 0 ? g2 / (2 * g2 + activation_sum * g3 + 1e-6) : 0.0;
            weight += alpha * std::max(g1, 0.0);
          }
        }
        m.channel_weights[k] = static_cast<float>(weight);
        for (std::size_t i = 0; i < plane; ++i) sum[i] += weight * double(ak[i]);
      }
    }
    m.map = Tensor<float>({h, w});
    for (std::size_t i = 0; i < plane; ++i) m.map[i] = static_cast<float>(std::max(sum[i], 0.0));
    maps.push_back(std::move(m));
  }
  return maps;
}

}  // namespace detail

/// Each image's maps (outer: images of the batch; inner: options.methods in order) from a trace that reaches
/// the classifier and kept `options.layer`'s activation (Network::trace with keep_from set to
/// cam_activation_layer(), or kept from the start). One backward, from the logits to the layer, for the batch.
template <typename T>
std::vector<std::vector<ClassActivationMap>> class_activation_maps(const Network<T>& net, const ForwardTrace<T>& trace,
                                                                   const CamOptions& options) {
  check_cam_request(net, options);
  const std::string at = cam_activation_layer(net, options);
  const std::string& last = net.layers().back().info.name;
  if (trace.outputs.size() != net.layers().size())
    throw Error({}, "trace", "must run the whole network, to " + last + "'s logits");
  const Tensor<T>& logits = trace.outputs.back();
  const std::vector<ClassScore> targets = detail::explained_classes(logits, options.class_index);
  const Tensor<T> grad = net.backward(trace, last, detail::one_hot<T>(logits.shape(), targets), at);
  const Tensor<T>& activation = trace.outputs[net.layer(at).info.index];
  const std::size_t n = activation.dim(0), c = activation.dim(1), h = activation.dim(2), w = activation.dim(3), each = c * h * w;
  std::vector<std::vector<ClassActivationMap>> result(n);
  std::vector<float> a(each), g(each);
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t i = 0; i < each; ++i) {
      a[i] = static_cast<float>(activation[k * each + i]);
      g[i] = static_cast<float>(grad[k * each + i]);
    }
    result[k] = detail::cams_of(a.data(), g.data(), c, h, w, options, targets[k]);
  }
  return result;
}

/// The same from images (N, 3, H, W) as the network takes them: a forward that keeps only what the maps need
/// (it costs about one plain forward), then the backward.
template <typename T>
std::vector<std::vector<ClassActivationMap>> class_activation_maps(const Network<T>& net, Tensor<T> input, const CamOptions& options) {
  check_cam_request(net, options);
  return class_activation_maps(net, net.trace(std::move(input), {}, cam_activation_layer(net, options)), options);
}

/// pytorch-grad-cam's picture of a map: shifted to start at 0, divided by its maximum (plus 1e-7), upsampled
/// bilinearly to width x height. Values in [0, 1]; (height, width).
inline Tensor<float> cam_heatmap(const ClassActivationMap& cam, std::size_t width, std::size_t height) {
  const std::size_t h = cam.map.dim(0), w = cam.map.dim(1);
  std::vector<float> scaled(cam.map.begin(), cam.map.end());
  const float lo = *std::min_element(scaled.begin(), scaled.end());
  for (float& v : scaled) v -= lo;
  const float hi = *std::max_element(scaled.begin(), scaled.end());
  for (float& v : scaled) v /= 1e-7f + hi;
  const std::vector<float> up = upsample_bilinear(scaled, w, h, width, height);
  Tensor<float> out({height, width});
  std::copy(up.begin(), up.end(), out.begin());
  return out;
}

/// The map over the photo (RGB, the photo's size): coloured with `colormap` from the map's minimum to its
/// maximum and blended with weight `alpha`, as pytorch-grad-cam's show_cam_on_image does with its jet map.
inline Image8 cam_overlay(const RgbImage& photo, const ClassActivationMap& cam, Colormap colormap = Colormap::turbo, double alpha = 0.5) {
  Tensor<float> as_activation({1, 1, cam.map.dim(0), cam.map.dim(1)});
  std::copy(cam.map.begin(), cam.map.end(), as_activation.begin());
  OverlayOptions o;
  o.channel = 0;
  o.colormap = colormap;
  o.alpha = alpha;
  return overlay(photo, as_activation, o);
}

}  // namespace fmviz
