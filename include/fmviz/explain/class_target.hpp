// The class an explanation is about: each image's top class or one asked for, checked against the network.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "../classify.hpp"
#include "../error.hpp"
#include "../network.hpp"
#include "../tensor.hpp"

namespace fmviz {

/// The number of classes of a network that ends in its classifier; throws fmviz::Error (field `field`) when it
/// does not, naming the layer it ends at.
template <typename T>
std::size_t class_count(const Network<T>& net, const std::string& field) {
  if (!net.has_classifier())
    throw Error({}, field, "needs the classifier (fc6 ... fc8), and this network ends at " +
                               (net.layers().empty() ? std::string("nothing") : net.layers().back().info.name) +
                               ": load a weight file that holds the whole VGG16");
  return net.layers().back().template get<Linear<T>>().out_features();
}

/// Checks that `class_index` (if given) is one of the network's classes; throws fmviz::Error on field "class".
template <typename T>
void check_class_index(const Network<T>& net, const std::optional<std::size_t>& class_index, const std::string& field) {
  const std::size_t n = class_count(net, field);
  if (class_index && *class_index >= n)
    throw Error({}, "class", "class " + std::to_string(*class_index) + " does not exist: the classifier has classes 0-" + std::to_string(n - 1));
}

namespace detail {

/// Each image's explained class: `class_index`, or its top class; with its logit and probability.
template <typename T>
std::vector<ClassScore> explained_classes(const Tensor<T>& logits, const std::optional<std::size_t>& class_index) {
  const std::size_t n = logits.dim(0), classes = logits.dim(1);
  Tensor<float> as_float(logits.shape());
  for (std::size_t i = 0; i < logits.size(); ++i) as_float[i] = static_cast<float>(logits[i]);
  std::vector<ClassScore> targets;
  for (std::size_t k = 0; k < n; ++k) {
    if (!class_index) {
      targets.push_back(top_k(as_float, 1, k).front());
      continue;
    }
    for (const ClassScore& c : top_k(as_float, classes, k))
      if (c.index == *class_index) targets.push_back(c);
  }
  return targets;
}

/// d(sum over images of the image's target logit) / d(logits): one 1 per row.
template <typename T>
Tensor<T> one_hot(const Shape& logits_shape, const std::vector<ClassScore>& targets) {
  Tensor<T> g = Tensor<T>::zeros(logits_shape);
  for (std::size_t k = 0; k < targets.size(); ++k) g[k * logits_shape[1] + targets[k].index] = T(1);
  return g;
}

}  // namespace detail
}  // namespace fmviz
