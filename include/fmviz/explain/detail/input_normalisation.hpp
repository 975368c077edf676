// The network's input normalisation (model_input.hpp's Preset) as a differentiable step: RGB planes in [0, 1] to
// what the network takes, and the gradient back. The optimised image is a picture; the normalisation belongs to the
// model, so it comes after the random transforms, as in Lucid (whose padding grey is 0.5 in picture values).
#pragma once

#include <cstddef>

#include "../../model_input.hpp"

namespace fmviz {
namespace detail {

/// Input channel c (0..2) is picture channel picture_channel(c): torchvision's R, G, B, or Caffe's B, G, R.
inline std::size_t picture_channel(Preset preset, std::size_t c) noexcept { return preset == Preset::caffe ? 2 - c : c; }

/// Network input x = a * v + b for the picture value v in input channel c.
inline void input_affine(Preset preset, std::size_t c, double& a, double& b) noexcept {
  if (preset == Preset::torchvision) {
    a = 1.0 / imagenet_std[c];
    b = -imagenet_mean[c] / imagenet_std[c];
  } else {
    a = 255.0;
    b = -caffe_bgr_mean[c];
  }
}

/// In place: `n` picture values of input channel c become network input.
template <typename T>
void normalise_input(Preset preset, std::size_t c, T* values, std::size_t n) {
  double a, b;
  input_affine(preset, c, a, b);
  const T ta = static_cast<T>(a), tb = static_cast<T>(b);
  for (std::size_t i = 0; i < n; ++i) values[i] = ta * values[i] + tb;
}

/// In place: the gradient with respect to input channel c becomes the gradient with respect to its picture values.
template <typename T>
void normalise_input_adjoint(Preset preset, std::size_t c, T* grad, std::size_t n) {
  double a, b;
  input_affine(preset, c, a, b);
  const T ta = static_cast<T>(a);
  for (std::size_t i = 0; i < n; ++i) grad[i] *= ta;
}

}  // namespace detail
}  // namespace fmviz
