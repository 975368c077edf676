// FeatureInput: one optimised image's way from its parameters to the network's input and its gradient back, the
// chain every step runs: Fourier planes in decorrelated colours -> RGB picture -> the step's random warp (grey
// outside) -> the model's normalisation. Kept in one place so that the tests check the very code the optimiser runs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "../../model_input.hpp"
#include "affine_warp.hpp"
#include "input_normalisation.hpp"
#include "random_transform.hpp"
#include "spectral_image.hpp"

namespace fmviz {
namespace detail {

template <typename T>
struct FeatureInput {
  FeatureInput(std::size_t size, Preset preset, bool transforms, double decay_power)
      : spectral(size, size, decay_power), size(size), side(transforms ? TransformRecipe{}.output_size(size) : size),
        preset(preset), transforms(transforms) {}

  std::size_t pixels() const noexcept { return size * size; }
  std::size_t side_pixels() const noexcept { return side * side; }

  /// rgb (3 planes of size x size) from the parameters, and the network input (3 planes of side x side) through the warp.
  void forward(const T* params, const AffineWarp& warp, T* rgb, T* input) const {
    spectral.render(params, rgb);
    for (std::size_t c = 0; c < 3; ++c) {
      const T* src = rgb + picture_channel(preset, c) * pixels();
      T* dst = input + c * side_pixels();
      if (transforms) warp.apply(src, dst, T(0.5));  // Lucid pads with grey
      else std::copy(src, src + pixels(), dst);
      normalise_input(preset, c, dst, side_pixels());
    }
  }

  /// The parameters' gradient from the input's (grad_input is used as scratch), given the rgb forward() made.
  void backward(const T* rgb, const AffineWarp& warp, T* grad_input, T* grad_params) const {
    std::vector<T> grad_rgb(3 * pixels());
    for (std::size_t c = 0; c < 3; ++c) {
      T* g = grad_input + c * side_pixels();
      normalise_input_adjoint(preset, c, g, side_pixels());
      T* dst = grad_rgb.data() + picture_channel(preset, c) * pixels();
      if (transforms) warp.adjoint(g, dst);
      else std::copy(g, g + pixels(), dst);
    }
    spectral.backward(rgb, grad_rgb.data(), grad_params);
  }

  SpectralImage<T> spectral;
  std::size_t size, side;
  Preset preset;
  bool transforms;
};

}  // namespace detail
}  // namespace fmviz
