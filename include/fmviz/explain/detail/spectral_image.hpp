// SpectralImage: the RGB image Lucid optimises, from its parameters and back. Three FourierImage planes in the
// decorrelated colour space, turned into RGB in [0, 1] by the colour matrix and a sigmoid; the backward is the
// adjoint of each piece in reverse. The sigmoid keeps every pixel valid without clipping, so no step is lost at
// the bounds.
#pragma once

#include <cstddef>
#include <vector>

#include "decorrelated_colour.hpp"
#include "fourier_image.hpp"
#include "../../detail/random.hpp"

namespace fmviz {
namespace detail {

template <typename T>
class SpectralImage {
 public:
  SpectralImage() = default;
  SpectralImage(std::size_t height, std::size_t width, double decay_power = 1.0) : fourier_(height, width, decay_power) {}

  std::size_t height() const noexcept { return fourier_.height(); }
  std::size_t width() const noexcept { return fourier_.width(); }
  std::size_t pixels() const noexcept { return fourier_.height() * fourier_.width(); }
  /// Three planes' Fourier parameters, plane after plane.
  std::size_t parameter_count() const noexcept { return 3 * fourier_.parameter_count(); }

  /// Lucid's start: every parameter normal with standard deviation `sd` (0.01), a nearly uniform grey image.
  void initialise(T* params, Random& random, double sd) const {
    for (std::size_t i = 0; i < parameter_count(); ++i) params[i] = static_cast<T>(sd * random.normal());
  }

  /// rgb: three planes R, G, B (each height x width, row-major), values in (0, 1).
  void render(const T* params, T* rgb) const {
    std::vector<T> planes(3 * pixels());
    for (std::size_t j = 0; j < 3; ++j) fourier_.to_image(params + j * fourier_.parameter_count(), planes.data() + j * pixels());
    decorrelated_to_rgb(planes.data(), rgb, pixels());
  }

  /// The parameters' gradient from the RGB image's, given the image render() made from them.
  void backward(const T* rgb, const T* grad_rgb, T* grad_params) const {
    std::vector<T> grad_planes(3 * pixels());
    decorrelated_to_rgb_adjoint(rgb, grad_rgb, grad_planes.data(), pixels());
    for (std::size_t j = 0; j < 3; ++j)
      fourier_.adjoint(grad_planes.data() + j * pixels(), grad_params + j * fourier_.parameter_count());
  }

 private:
  FourierImage<T> fourier_;
};

}  // namespace detail
}  // namespace fmviz
