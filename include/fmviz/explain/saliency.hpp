// Saliency: how much each input pixel moves a class logit. The plain gradient (Simonyan et al., 2014),
// SmoothGrad (Smilkov et al., 2017: the gradient averaged over noisy copies of the image) and guided
// backpropagation (Springenberg et al., 2015: ReLUs also stop negative gradients).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../classify.hpp"
#include "../detail/random.hpp"
#include "../error.hpp"
#include "../image8.hpp"
#include "../network.hpp"
#include "../stats.hpp"
#include "../tensor.hpp"
#include "class_target.hpp"

namespace fmviz {

enum class SaliencyMethod {
  vanilla,     ///< d logit / d image
  smoothgrad,  ///< its mean over noisy copies of the image
  guided,      ///< guided backpropagation
};

/// "vanilla", "smoothgrad" or "guided", as parse_saliency_method() reads it.
inline const char* to_string(SaliencyMethod m) noexcept {
  switch (m) {
    case SaliencyMethod::vanilla: return "vanilla";
    case SaliencyMethod::smoothgrad: return "smoothgrad";
    case SaliencyMethod::guided: return "guided";
  }
  return "?";
}

/// Words for people: "gradient", "SmoothGrad", "guided backpropagation".
inline const char* describe(SaliencyMethod m) noexcept {
  switch (m) {
    case SaliencyMethod::vanilla: return "gradient";
    case SaliencyMethod::smoothgrad: return "SmoothGrad";
    case SaliencyMethod::guided: return "guided backpropagation";
  }
  return "?";
}

/// "vanilla", "smoothgrad" or "guided"; anything else throws fmviz::Error on field "saliency".
inline SaliencyMethod parse_saliency_method(const std::string& text) {
  if (text == "vanilla") return SaliencyMethod::vanilla;
  if (text == "smoothgrad") return SaliencyMethod::smoothgrad;
  if (text == "guided") return SaliencyMethod::guided;
  throw Error({}, "saliency", "expects vanilla, smoothgrad or guided, got '" + text + "'");
}

struct SaliencyOptions {
  std::optional<std::size_t> class_index;  ///< none: each image's top class
  std::vector<SaliencyMethod> methods = {SaliencyMethod::vanilla, SaliencyMethod::smoothgrad, SaliencyMethod::guided};
  std::size_t samples = 25;  ///< SmoothGrad's noisy copies (each costs a forward and a backward)
  double noise = 0.15;       ///< SmoothGrad's noise: its standard deviation over the image's value range (max - min)
  std::uint64_t seed = 0;    ///< SmoothGrad's noise: the same seed gives the same maps, on any platform
};

/// One saliency map of one image.
struct SaliencyMap {
  SaliencyMethod method = SaliencyMethod::vanilla;
  ClassScore target;       ///< the class explained
  Tensor<float> gradient;  ///< (3, H, W): d logit / d image, in the network's input space (colour order included)
  Tensor<float> map;       ///< (H, W): the largest |gradient| over the colour channels at each pixel
};

/// Checks a request against a network before any work; throws fmviz::Error naming the option at fault.
template <typename T>
void check_saliency_request(const Network<T>& net, const SaliencyOptions& options) {
  check_class_index(net, options.class_index, "saliency");
  if (options.methods.empty()) throw Error({}, "saliency", "no method asked for");
  if (std::find(options.methods.begin(), options.methods.end(), SaliencyMethod::smoothgrad) != options.methods.end()) {
    if (options.samples == 0 || options.samples > 10000)
      throw Error({}, "samples", "SmoothGrad takes 1 to 10000 noisy copies, got " + std::to_string(options.samples));
    if (!(options.noise >= 0 && options.noise <= 10))
      throw Error({}, "noise", "SmoothGrad's noise must be from 0 to 10 (times the image's value range), got " + std::to_string(options.noise));
  }
}

namespace detail {

template <typename T>
SaliencyMap saliency_of(SaliencyMethod method, const ClassScore& target, const Tensor<T>& gradient, std::size_t k, double scale = 1) {
  const std::size_t c = gradient.dim(1), h = gradient.dim(2), w = gradient.dim(3), plane = h * w;
  SaliencyMap s;
  s.method = method;
  s.target = target;
  s.gradient = Tensor<float>({c, h, w});
  s.map = Tensor<float>({h, w});
  const T* g = gradient.data() + k * c * plane;
  for (std::size_t i = 0; i < c * plane; ++i) s.gradient[i] = static_cast<float>(double(g[i]) * scale);
  for (std::size_t i = 0; i < plane; ++i) {
    float m = 0;
    for (std::size_t ch = 0; ch < c; ++ch) m = std::max(m, std::abs(s.gradient[ch * plane + i]));
    s.map[i] = m;
  }
  return s;
}

/// Image k of `input` plus normal noise of standard deviation noise * (its max - its min), drawn from its own
/// stream (seed, image-independent), so an image's noise does not depend on the batch it is in.
template <typename T>
void add_noise(Tensor<T>& batch, std::size_t k, double noise, Random& random) {
  const std::size_t each = batch.size() / batch.dim(0);
  T* x = batch.data() + k * each;
  const auto [lo, hi] = std::minmax_element(x, x + each);
  const double sd = noise * (double(*hi) - double(*lo));
  for (std::size_t i = 0; i < each; ++i) x[i] = static_cast<T>(double(x[i]) + sd * random.normal());
}

}  // namespace detail

/// Each image's maps (outer: images; inner: options.methods in order) from a trace of the whole network that
/// kept everything (Network::trace without keep_from). The plain and guided maps reuse the trace; SmoothGrad
/// runs `samples` more forwards and backwards on noisy copies, for the class chosen on the clean image.
template <typename T>
std::vector<std::vector<SaliencyMap>> saliency_maps(const Network<T>& net, const ForwardTrace<T>& trace, const SaliencyOptions& options) {
  check_saliency_request(net, options);
  const std::string& last = net.layers().back().info.name;
  if (trace.outputs.size() != net.layers().size() || trace.kept_from != 0)
    throw Error({}, "trace", "must run the whole network, to " + last + "'s logits, and keep every layer");
  const Tensor<T>& logits = trace.outputs.back();
  const std::vector<ClassScore> targets = detail::explained_classes(logits, options.class_index);
  const Tensor<T> seed_grad = detail::one_hot<T>(logits.shape(), targets);
  const std::size_t n = logits.dim(0);
  std::vector<std::vector<SaliencyMap>> result(n);
  for (SaliencyMethod method : options.methods) {
    if (method == SaliencyMethod::smoothgrad) {
      Tensor<double> sum = Tensor<double>::zeros(trace.input.shape());
      std::vector<detail::Random> streams(n, detail::Random(options.seed));
      for (std::size_t s = 0; s < options.samples; ++s) {
        Tensor<T> noisy = trace.input;
        for (std::size_t k = 0; k < n; ++k) detail::add_noise(noisy, k, options.noise, streams[k]);
        const auto noisy_trace = net.trace(std::move(noisy));
        const Tensor<T> g = net.backward(noisy_trace, last, seed_grad);
        for (std::size_t i = 0; i < g.size(); ++i) sum[i] += double(g[i]);
      }
      for (std::size_t k = 0; k < n; ++k) result[k].push_back(detail::saliency_of(method, targets[k], sum, k, 1.0 / double(options.samples)));
      continue;
    }
    const GradientRule rule = method == SaliencyMethod::guided ? GradientRule::guided : GradientRule::plain;
    const Tensor<T> g = net.backward(trace, last, seed_grad, {}, rule);
    for (std::size_t k = 0; k < n; ++k) result[k].push_back(detail::saliency_of(method, targets[k], g, k));
  }
  return result;
}

/// The same from images (N, 3, H, W) as the network takes them.
template <typename T>
std::vector<std::vector<SaliencyMap>> saliency_maps(const Network<T>& net, Tensor<T> input, const SaliencyOptions& options) {
  check_saliency_request(net, options);
  return saliency_maps(net, net.trace(std::move(input)), options);
}

/// A picture of a map. The plain and SmoothGrad maps: grey, black at 0 and white from the 99th percentile of
/// the map up (a few pixels would otherwise leave the rest dark). Guided backpropagation: the gradient in
/// colour, grey at 0, saturating at the 99th percentile of |gradient|. `bgr`: the network's input is in BGR
/// order (the caffe preset), shown as RGB.
inline Image8 saliency_picture(const SaliencyMap& s, bool bgr = false) {
  const std::size_t h = s.map.dim(0), w = s.map.dim(1), plane = h * w;
  const auto level = [](double t) { return static_cast<std::uint8_t>(std::clamp(t, 0.0, 1.0) * 255.0 + 0.5); };
  if (s.method != SaliencyMethod::guided) {
    std::vector<float> values(s.map.begin(), s.map.end());
    const double top = detail::percentile(values, 99.0);
    Image8 out(w, h, 1);
    for (std::size_t i = 0; i < plane; ++i) out.pixels[i] = level(top > 0 ? s.map[i] / top : 0.0);
    return out;
  }
  std::vector<float> magnitudes(s.gradient.size());
  for (std::size_t i = 0; i < magnitudes.size(); ++i) magnitudes[i] = std::abs(s.gradient[i]);
  const double top = detail::percentile(magnitudes, 99.0);
  Image8 out(w, h, 3);
  const std::size_t channels = std::min<std::size_t>(s.gradient.dim(0), 3);
  for (std::size_t i = 0; i < plane; ++i)
    for (std::size_t ch = 0; ch < 3; ++ch) {
      const std::size_t from = bgr ? channels - 1 - std::min(ch, channels - 1) : std::min(ch, channels - 1);
      out.pixels[3 * i + ch] = level(top > 0 ? 0.5 + 0.5 * s.gradient[from * plane + i] / top : 0.5);
    }
  return out;
}

}  // namespace fmviz
