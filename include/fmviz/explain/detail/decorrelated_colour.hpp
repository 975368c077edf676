// Lucid's decorrelated colour space: the optimised image lives in coordinates whose three planes are uncorrelated
// over natural images, and becomes RGB in [0, 1] by the square root of ImageNet's colour correlation matrix (Lucid's
// published numbers, divided by its largest column norm) and a sigmoid. Independent steps on decorrelated planes
// give natural colours; steps on raw R, G, B would push the three together towards grey-green patterns.
#pragma once

#include <cmath>
#include <cstddef>

namespace fmviz {
namespace detail {

/// Lucid's color_correlation_svd_sqrt, rows R, G, B.
inline constexpr double colour_correlation_sqrt[3][3] = {{0.26, 0.09, 0.02}, {0.27, 0.00, -0.05}, {0.27, -0.09, 0.03}};

/// The matrix divided by its largest column norm (Lucid's color_correlation_normalized).
struct ColourMatrix {
  double m[3][3];
  ColourMatrix() : m{} {
    double largest = 0;
    for (int j = 0; j < 3; ++j) {
      double sq = 0;
      for (int i = 0; i < 3; ++i) sq += colour_correlation_sqrt[i][j] * colour_correlation_sqrt[i][j];
      largest = std::sqrt(sq) > largest ? std::sqrt(sq) : largest;
    }
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) m[i][j] = colour_correlation_sqrt[i][j] / largest;
  }
};

/// rgb[i] = sigmoid(sum_j M[i][j] plane[j]) for the `n` pixels of three planes (planes[j * n + p], rgb likewise).
template <typename T>
void decorrelated_to_rgb(const T* planes, T* rgb, std::size_t n) {
  static const ColourMatrix c;
  T m[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m[i][j] = static_cast<T>(c.m[i][j]);
  for (std::size_t p = 0; p < n; ++p) {
    const T a = planes[p], b = planes[n + p], d = planes[2 * n + p];
    for (int i = 0; i < 3; ++i) {
      const T v = m[i][0] * a + m[i][1] * b + m[i][2] * d;
      rgb[i * n + p] = T(1) / (T(1) + std::exp(-v));
    }
  }
}

/// The adjoint: the planes' gradient from the RGB image's, given that image (the sigmoid's derivative is rgb (1 - rgb)).
template <typename T>
void decorrelated_to_rgb_adjoint(const T* rgb, const T* grad_rgb, T* grad_planes, std::size_t n) {
  static const ColourMatrix c;
  T m[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m[i][j] = static_cast<T>(c.m[i][j]);
  for (std::size_t p = 0; p < n; ++p) {
    T g[3];
    for (int i = 0; i < 3; ++i) {
      const T y = rgb[i * n + p];
      g[i] = grad_rgb[i * n + p] * y * (T(1) - y);
    }
    for (int j = 0; j < 3; ++j) grad_planes[j * n + p] = m[0][j] * g[0] + m[1][j] * g[1] + m[2][j] * g[2];
  }
}

}  // namespace detail
}  // namespace fmviz
