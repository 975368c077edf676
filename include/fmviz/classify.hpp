// What the network decided: the top K classes of a classifier's logits, with softmax probabilities.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "error.hpp"
#include "imagenet_classes.hpp"
#include "tensor.hpp"

namespace fmviz {

/// One class of a decision.
struct ClassScore {
  std::size_t index = 0;    ///< the logit's index (the ImageNet class for VGG16's fc8)
  double probability = 0;   ///< softmax over all the logits of the image
  float logit = 0;
};

/// The name of ImageNet class `index` ("tench", ...), or "class N" past the 1000.
inline std::string imagenet_class_name(std::size_t index) {
  return index < imagenet_class_count ? std::string(imagenet_classes[index]) : "class " + std::to_string(index);
}

/// The ImageNet class `text` names: its number (0-999) or its name as imagenet_class_name() gives it ("tabby").
/// Throws fmviz::Error on field "class" for anything else, and for a name two classes would share.
inline std::size_t parse_imagenet_class(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 4 || std::stoul(text) >= imagenet_class_count)
      throw Error({}, "class", "class " + text + " does not exist: ImageNet has classes 0-" + std::to_string(imagenet_class_count - 1));
    return std::stoul(text);
  }
  std::vector<std::size_t> found;
  for (std::size_t i = 0; i < imagenet_class_count; ++i)
    if (text == imagenet_classes[i]) found.push_back(i);
  if (found.size() == 1) return found.front();
  if (found.size() > 1)
    throw Error({}, "class", "'" + text + "' names classes " + std::to_string(found[0]) + " and " + std::to_string(found[1]) + ": give the number");
  throw Error({}, "class", "'" + text + "' is neither a class number (0-" + std::to_string(imagenet_class_count - 1) +
                               ") nor an ImageNet class name such as 'tabby'");
}

/// The k highest logits of image `row` of `logits` (shape (N, classes) or (classes)), highest first (equal
/// logits: lower index first), with their softmax probabilities (computed in double, shifted by the maximum).
inline std::vector<ClassScore> top_k(const Tensor<float>& logits, std::size_t k, std::size_t row = 0) {
  if (logits.rank() != 1 && logits.rank() != 2)
    throw Error({}, "logits", "expected shape (N, classes) or (classes), got " + shape_to_string(logits.shape()));
  const std::size_t rows = logits.rank() == 2 ? logits.dim(0) : 1, n = logits.rank() == 2 ? logits.dim(1) : logits.dim(0);
  if (row >= rows) throw Error({}, "logits", "no image " + std::to_string(row) + " in a batch of " + std::to_string(rows));
  if (n == 0) throw Error({}, "logits", "no classes");
  if (k == 0 || k > n) throw Error({}, "top_k", "k must be from 1 to the " + std::to_string(n) + " classes, got " + std::to_string(k));
  const float* x = logits.data() + row * n;
  const double top = *std::max_element(x, x + n);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - top);
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](std::size_t a, std::size_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
  std::vector<ClassScore> best(k);
  for (std::size_t j = 0; j < k; ++j) best[j] = {order[j], std::exp(static_cast<double>(x[order[j]]) - top) / sum, x[order[j]]};
  return best;
}

}  // namespace fmviz
