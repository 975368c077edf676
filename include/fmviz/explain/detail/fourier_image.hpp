// FourierImage: Lucid's spectral parameterisation of an image plane ("Feature Visualization", Olah et al., Distill
// 2017) and its adjoint. The parameters are the real and imaginary parts of an H x (W/2+1) half spectrum; the plane is
// their inverse real 2-D DFT (numpy's irfft2), after each coefficient is scaled by
//   1 / max(|frequency|, 1 / max(H, W))^decay_power * sqrt(H * W) / 4
// as Lucid's fft_image does (the sqrt(HW) makes the transform unitary, the 1/4 is Lucid's own constant). Equal steps
// on every parameter then move low frequencies more than high ones: gradient ascent in this basis does not fill the
// image with high-frequency patterns that the network reacts to but people do not see.
//
// The DFT is two dense real matrix products (Eigen): along the rows a complex DFT of all H frequencies, along the
// columns the real-output half-spectrum sum. Its adjoint is the same products with the matrices transposed. At the
// sizes used here (128 to 224) they cost a few percent of the network's step.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "../../error.hpp"

namespace fmviz {
namespace detail {

/// cos and sin of 2 pi m / n, exact at the quarter turns (so that the sine of the DC and Nyquist terms is exactly
/// 0, as numpy's irfft ignores their imaginary parts).
inline void unit_circle(std::size_t m, std::size_t n, double& c, double& s) {
  m %= n;
  if (m == 0) c = 1, s = 0;
  else if (4 * m == n) c = 0, s = 1;
  else if (2 * m == n) c = -1, s = 0;
  else if (4 * m == 3 * n) c = 0, s = -1;
  else {
    const double a = 6.283185307179586 * static_cast<double>(m) / static_cast<double>(n);
    c = std::cos(a), s = std::sin(a);
  }
}

template <typename T>
class FourierImage {
 public:
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<Matrix>;
  using ConstMap = Eigen::Map<const Matrix>;

  FourierImage() = default;
  FourierImage(std::size_t height, std::size_t width, double decay_power = 1.0) : h_(height), w_(width), k_(width / 2 + 1) {
    if (height == 0 || width == 0) throw Error({}, "size", "a Fourier image needs at least one pixel");
    const auto H = static_cast<Eigen::Index>(h_), W = static_cast<Eigen::Index>(w_), K = static_cast<Eigen::Index>(k_);
    // Rows: Z = [[C, -S], [S, C]] [Xr; Xi], a complex inverse DFT (e^{+2 pi i ky h / H}, no 1/H: it is in the columns').
    rows_.resize(2 * H, 2 * H);
    for (Eigen::Index y = 0; y < H; ++y)
      for (Eigen::Index f = 0; f < H; ++f) {
        double c, s;
        unit_circle(static_cast<std::size_t>(y * f), h_, c, s);
        rows_(y, f) = static_cast<T>(c), rows_(y, H + f) = static_cast<T>(-s);
        rows_(H + y, f) = static_cast<T>(s), rows_(H + y, H + f) = static_cast<T>(c);
      }
    // Columns: x = Zr Cx^T - Zi Sx^T, the half spectrum's real inverse: frequencies other than DC and Nyquist count twice.
    cos_t_.resize(K, W);
    sin_t_.resize(K, W);
    const double norm = 1.0 / (static_cast<double>(h_) * static_cast<double>(w_));
    for (Eigen::Index f = 0; f < K; ++f) {
      const bool single = f == 0 || 2 * static_cast<std::size_t>(f) == w_;
      const double weight = (single ? 1.0 : 2.0) * norm;
      for (Eigen::Index x = 0; x < W; ++x) {
        double c, s;
        unit_circle(static_cast<std::size_t>(f * x), w_, c, s);
        cos_t_(f, x) = static_cast<T>(weight * c);
        sin_t_(f, x) = static_cast<T>(-weight * s);
      }
    }
    // Lucid's scale, per coefficient, the same for its real and imaginary part.
    scale_.resize(2 * H, K);
    const double floor_frequency = 1.0 / static_cast<double>(std::max(h_, w_));
    const double unitary = std::sqrt(static_cast<double>(h_) * static_cast<double>(w_)) / 4.0;
    for (Eigen::Index y = 0; y < H; ++y)
      for (Eigen::Index f = 0; f < K; ++f) {
        const double fy = static_cast<double>(2 * y < H ? y : y - H) / static_cast<double>(h_);  // numpy's fftfreq
        const double fx = static_cast<double>(f) / static_cast<double>(w_);
        const double freq = std::max(std::sqrt(fx * fx + fy * fy), floor_frequency);
        const T v = static_cast<T>(unitary / std::pow(freq, decay_power));
        scale_(y, f) = v, scale_(H + y, f) = v;
      }
  }

  std::size_t height() const noexcept { return h_; }
  std::size_t width() const noexcept { return w_; }
  /// Complex coefficients per row: W/2 + 1.
  std::size_t frequencies() const noexcept { return k_; }
  /// Real parameters per plane: the H x K real parts, then the H x K imaginary parts.
  std::size_t parameter_count() const noexcept { return 2 * h_ * k_; }

  /// The plane (H x W, row-major) the parameters give.
  void to_image(const T* params, T* image) const {
    const Matrix z = rows_ * ConstMap(params, rows(2), cols()).cwiseProduct(scale_);
    Map out(image, rows(1), static_cast<Eigen::Index>(w_));
    out.noalias() = z.topRows(rows(1)) * cos_t_;
    out.noalias() += z.bottomRows(rows(1)) * sin_t_;
  }

  /// The adjoint: the parameters' gradient from the plane's (both as laid out above).
  void adjoint(const T* grad_image, T* grad_params) const {
    const ConstMap g(grad_image, rows(1), static_cast<Eigen::Index>(w_));
    Matrix gz(rows(2), cols());
    gz.topRows(rows(1)).noalias() = g * cos_t_.transpose();
    gz.bottomRows(rows(1)).noalias() = g * sin_t_.transpose();
    Map out(grad_params, rows(2), cols());
    out.noalias() = rows_.transpose() * gz;
    out.array() *= scale_.array();
  }

 private:
  Eigen::Index rows(std::size_t times) const noexcept { return static_cast<Eigen::Index>(times * h_); }
  Eigen::Index cols() const noexcept { return static_cast<Eigen::Index>(k_); }

  std::size_t h_ = 0, w_ = 0, k_ = 0;
  Matrix rows_;           // 2H x 2H
  Matrix cos_t_, sin_t_;  // K x W, weighted and normalised, sin_t_ negated
  Matrix scale_;          // 2H x K
};

}  // namespace detail
}  // namespace fmviz
