// Feature visualisation by optimisation (Olah, Mordvintsev and Schubert, "Feature Visualization", Distill 2017):
// images made from noise, step by step, to excite one channel of a conv layer (or one neuron, or the whole layer), with
// Lucid's standard recipe: a Fourier-space image in decorrelated colours (explain/detail/spectral_image.hpp), random
// pad, jitter, scale and rotation at every step (explain/detail/random_transform.hpp), and Adam. Several channels are
// optimised together as one batch, one traced forward and one backward per step. See docs/feature-visualisation.md.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../detail/parallel.hpp"
#include "../detail/random.hpp"
#include "../error.hpp"
#include "../layer_info.hpp"
#include "../model_input.hpp"
#include "../network.hpp"
#include "../rgb_image.hpp"
#include "../tap.hpp"
#include "../tensor.hpp"
#include "detail/adam.hpp"
#include "detail/affine_warp.hpp"
#include "detail/feature_input.hpp"
#include "detail/random_transform.hpp"

namespace fmviz {

/// What visualize_channels maximises for each channel c.
enum class FeatureObjective {
  channel,  ///< the mean of channel c over all positions (Lucid's objectives.channel)
  neuron,   ///< channel c at the centre position (h / 2, w / 2) (Lucid's objectives.neuron)
};

struct FeatureVisOptions {
  std::size_t size = 128;        ///< the image's side, 8 to 1024 pixels (Lucid's default 128); the network sees size + 12
  std::size_t steps = 512;       ///< optimisation steps, 1 to 100000 (Lucid's default threshold, 512)
  double learning_rate = 0.05;   ///< Adam's (betas 0.9, 0.999, epsilon 1e-8)
  std::uint64_t seed = 0;        ///< start and transforms; image n of a request draws from its own stream (seed, n)
  /// Tap::conv (default): the conv output before its ReLU, Lucid's "_pre_relu" objectives, whose gradient is not zero
  /// where the channel is negative, as it is nearly everywhere on the grey start. Tap::relu: after the ReLU.
  Tap tap = Tap::conv;
  FeatureObjective objective = FeatureObjective::channel;  ///< visualize_channels only
  Preset preset = Preset::torchvision;  ///< the network's input convention (Preset::caffe for the Oxford weights)
  bool transforms = true;        ///< Lucid's random pad, jitter, scale and rotation at every step; off: the plain image
  double decay_power = 1.0;      ///< spectrum scale 1 / max(frequency, 1 / size)^decay_power
  double init_sd = 0.01;         ///< standard deviation of the starting Fourier coefficients
};

/// What a step reports to an observer.
struct FeatureVisStep {
  std::size_t step = 0, steps = 0;  ///< step 1 .. steps
  std::vector<double> objectives;   ///< each image's objective at this step, before the step's update
};
using FeatureVisObserver = std::function<void(const FeatureVisStep&)>;

/// One optimised image.
struct ChannelVisualization {
  std::string layer;
  int channel = -1;                         ///< -1 for a whole layer (visualize_layer)
  RgbImage image;                           ///< size x size, RGB in [0, 1]; to_image8() for a PNG
  std::vector<double> activation_history;   ///< the objective at each step, on that step's randomly transformed image
  double final_activation = 0;              ///< the objective on the final image as it is (no transforms)
};

namespace detail {

enum class FeatureTargetKind { channel, neuron, layer };

struct FeatureTarget {
  FeatureTargetKind kind = FeatureTargetKind::channel;
  std::size_t channel = 0;
};

/// SplitMix64's finaliser of (seed, stream): independent, well-mixed seeds for image n's start (stream 2n) and
/// transforms (2n + 1), so that an image does not depend on the others in its batch.
inline std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t stream) noexcept {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline std::string conv_list(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : " ") + n;
  return s.empty() ? "none" : s;
}

/// Checks everything about a request before any work; returns the name of the layer whose output is maximised
/// (the conv layer, or its ReLU for Tap::relu). Throws fmviz::Error naming the option at fault.
template <typename T>
std::string check_feature_request(const Network<T>& net, const std::string& layer, const std::vector<FeatureTarget>& targets,
                                  const FeatureVisOptions& o) {
  const std::vector<std::string> convs = net.conv_names();
  if (!net.has_layer(layer)) throw Error({}, "layer", "no layer named \"" + layer + "\" (conv layers: " + conv_list(convs) + ")");
  const Layer<T>& l = net.layer(layer);
  if (l.info.kind != LayerKind::conv2d)
    throw Error({}, "layer", "\"" + layer + "\" is a " + to_string(l.info.kind) + " layer; feature visualisation takes a conv layer (" +
                                 conv_list(convs) + ")");
  std::string from = layer;
  if (o.tap == Tap::relu) {
    const auto& layers = net.layers();
    const std::size_t next = l.info.index + 1;
    if (next >= layers.size() || layers[next].info.relu_of != layer)
      throw Error({}, "tap", "\"" + layer + "\" has no ReLU after it: use Tap::conv");
    from = layers[next].info.name;
  }
  if (targets.empty()) throw Error({}, "channels", "no channels to visualise");
  const std::size_t channels = l.template get<Conv2d<T>>().out_channels();
  for (const FeatureTarget& t : targets)
    if (t.kind != FeatureTargetKind::layer && t.channel >= channels)
      throw Error({}, "channels", "channel " + std::to_string(t.channel) + " is out of range: " + layer + " has channels 0-" +
                                      std::to_string(channels - 1));
  if (o.size < 8 || o.size > 1024) throw Error({}, "size", "must be 8 to 1024 pixels, got " + std::to_string(o.size));
  if (o.steps < 1 || o.steps > 100000) throw Error({}, "steps", "must be 1 to 100000, got " + std::to_string(o.steps));
  if (!(std::isfinite(o.learning_rate) && o.learning_rate > 0))
    throw Error({}, "learning_rate", "must be a positive number, got " + std::to_string(o.learning_rate));
  if (!(std::isfinite(o.decay_power) && o.decay_power >= 0 && o.decay_power <= 8))
    throw Error({}, "decay_power", "must be 0 to 8, got " + std::to_string(o.decay_power));
  if (!(std::isfinite(o.init_sd) && o.init_sd >= 0 && o.init_sd <= 10))
    throw Error({}, "init_sd", "must be 0 to 10, got " + std::to_string(o.init_sd));
  const std::size_t side = o.transforms ? TransformRecipe{}.output_size(o.size) : o.size;
  try {
    net.output_shape({targets.size(), 3, side, side}, layer);
  } catch (const Error& e) {
    throw Error({}, "size", std::to_string(o.size) + " pixels is too small for " + layer + " (" + e.what() + ")");
  }
  return from;
}

/// Image n's objective on `out` (N, C, h, w) and, when `grad` is given, the gradient of its negation (Adam descends).
template <typename T>
double feature_objective(const Tensor<T>& out, std::size_t n, const FeatureTarget& t, Tensor<T>* grad) {
  const std::size_t c_count = out.dim(1), h = out.dim(2), w = out.dim(3), plane = h * w;
  double value = 0;
  if (t.kind == FeatureTargetKind::channel) {
    const T* p = out.channel(n, t.channel);
    for (std::size_t i = 0; i < plane; ++i) value += static_cast<double>(p[i]);
    value /= static_cast<double>(plane);
    if (grad) std::fill(grad->channel(n, t.channel), grad->channel(n, t.channel) + plane, static_cast<T>(-1.0 / static_cast<double>(plane)));
  } else if (t.kind == FeatureTargetKind::neuron) {
    value = static_cast<double>(out(n, t.channel, h / 2, w / 2));
    if (grad) (*grad)(n, t.channel, h / 2, w / 2) = T(-1);
  } else {  // DeepDream: the mean of the squares of the whole layer
    const T* p = out.channel(n, 0);
    const std::size_t count = c_count * plane;
    for (std::size_t i = 0; i < count; ++i) value += static_cast<double>(p[i]) * static_cast<double>(p[i]);
    value /= static_cast<double>(count);
    if (grad) {
      T* g = grad->channel(n, 0);
      const T k = static_cast<T>(-2.0 / static_cast<double>(count));
      for (std::size_t i = 0; i < count; ++i) g[i] = k * p[i];
    }
  }
  return value;
}

/// The optimisation itself, for a request check_feature_request accepted.
template <typename T>
std::vector<ChannelVisualization> optimise_features(const Network<T>& net, const std::string& layer, const std::string& from,
                                                    const std::vector<FeatureTarget>& targets, const FeatureVisOptions& o,
                                                    const FeatureVisObserver& observer) {
  const std::size_t n_images = targets.size();
  const FeatureInput<T> input(o.size, o.preset, o.transforms, o.decay_power);
  const std::size_t n_params = input.spectral.parameter_count(), pixels = input.pixels();
  std::size_t from_index = 0;
  while (net.layers()[from_index].info.name != from) ++from_index;

  // Image n: its own random streams (start, transforms), parameters, optimiser, warp and current picture.
  std::vector<Random> transform_random;
  std::vector<std::vector<T>> params(n_images, std::vector<T>(n_params)), rgb(n_images, std::vector<T>(3 * pixels));
  std::vector<Adam<T>> adam;
  for (std::size_t n = 0; n < n_images; ++n) {
    Random start(stream_seed(o.seed, 2 * n));
    input.spectral.initialise(params[n].data(), start, o.init_sd);
    transform_random.emplace_back(stream_seed(o.seed, 2 * n + 1));
    adam.emplace_back(n_params, o.learning_rate);
  }
  std::vector<AffineWarp> warps(n_images);
  std::vector<ChannelVisualization> result(n_images);
  for (std::size_t n = 0; n < n_images; ++n) {
    result[n].layer = layer;
    result[n].channel = targets[n].kind == FeatureTargetKind::layer ? -1 : static_cast<int>(targets[n].channel);
    result[n].activation_history.reserve(o.steps);
  }

  Tensor<T> x({n_images, 3, input.side, input.side});
  for (std::size_t step = 1; step <= o.steps; ++step) {
    parallel_for(n_images, [&](std::size_t n) {
      const EigenOnThisThread serial;  // our products: one thread each, the same bits for any thread count
      if (o.transforms) warps[n] = transform_warp(draw_transform(transform_random[n]), o.size);
      input.forward(params[n].data(), warps[n], rgb[n].data(), x.channel(n, 0));
    });
    // One traced forward and one backward for the whole batch.
    Tensor<T> grad_x;
    FeatureVisStep report{step, o.steps, std::vector<double>(n_images)};
    {
      const ForwardTrace<T> trace = net.trace(x, layer);
      const Tensor<T>& out = trace.outputs[from_index];
      Tensor<T> grad = Tensor<T>::zeros(out.shape());
      for (std::size_t n = 0; n < n_images; ++n) report.objectives[n] = feature_objective(out, n, targets[n], &grad);
      grad_x = net.backward(trace, from, std::move(grad));
    }
    parallel_for(n_images, [&](std::size_t n) {
      const EigenOnThisThread serial;
      std::vector<T> grad_params(n_params);
      input.backward(rgb[n].data(), warps[n], grad_x.channel(n, 0), grad_params.data());
      adam[n].step(params[n].data(), grad_params.data());
    });
    for (std::size_t n = 0; n < n_images; ++n) result[n].activation_history.push_back(report.objectives[n]);
    if (observer) observer(report);
  }

  // The final pictures, and their objectives as they are (no transforms).
  const FeatureInput<T> plain_input(o.size, o.preset, false, o.decay_power);
  Tensor<T> plain({n_images, 3, o.size, o.size});
  parallel_for(n_images, [&](std::size_t n) {
    const EigenOnThisThread serial;
    plain_input.forward(params[n].data(), AffineWarp{}, rgb[n].data(), plain.channel(n, 0));
  });
  Tensor<T> seen;
  net.forward(std::move(plain), [&](const LayerInfo& info, const Tensor<T>& out) {
    if (info.name == from) seen = out;
  }, layer);
  for (std::size_t n = 0; n < n_images; ++n) {
    result[n].final_activation = feature_objective<T>(seen, n, targets[n], nullptr);
    RgbImage& img = result[n].image;
    img.width = img.height = o.size;
    img.pixels.resize(3 * pixels);
    for (std::size_t p = 0; p < pixels; ++p)
      for (std::size_t c = 0; c < 3; ++c) img.pixels[3 * p + c] = static_cast<float>(rgb[n][c * pixels + p]);
  }
  return result;
}

}  // namespace detail

/// Optimises one image per entry of `channels`, image n maximising channel channels[n] of conv layer `layer` (its mean,
/// or its centre neuron: options.objective), all as one batch. The request is checked before any work: an unknown
/// layer, a layer that is not a conv layer, a channel out of range, a size, step count or rate out of bounds throw
/// fmviz::Error whose field() names the option ("layer", "channels", "size", "steps", "learning_rate", "tap", ...).
/// `observer`, if given, hears of every step. The results are the same bits for the same seed, options and thread count.
template <typename T>
std::vector<ChannelVisualization> visualize_channels(const Network<T>& net, const std::string& layer, const std::vector<int>& channels,
                                                     const FeatureVisOptions& options = {}, const FeatureVisObserver& observer = {}) {
  std::vector<detail::FeatureTarget> targets;
  for (int c : channels) {
    if (c < 0) throw Error({}, "channels", "channel " + std::to_string(c) + " is out of range: channels count from 0");
    targets.push_back({options.objective == FeatureObjective::neuron ? detail::FeatureTargetKind::neuron : detail::FeatureTargetKind::channel,
                       static_cast<std::size_t>(c)});
  }
  const std::string from = detail::check_feature_request(net, layer, targets, options);
  return detail::optimise_features(net, layer, from, targets, options, observer);
}

/// One image that excites the whole layer: DeepDream's objective, the mean of the squares of all its activations (Lucid's
/// objectives.deepdream). options.objective does not apply; the result's channel is -1.
template <typename T>
ChannelVisualization visualize_layer(const Network<T>& net, const std::string& layer, const FeatureVisOptions& options = {},
                                     const FeatureVisObserver& observer = {}) {
  const std::vector<detail::FeatureTarget> targets = {{detail::FeatureTargetKind::layer, 0}};
  const std::string from = detail::check_feature_request(net, layer, targets, options);
  return std::move(detail::optimise_features(net, layer, from, targets, options, observer).front());
}

}  // namespace fmviz
