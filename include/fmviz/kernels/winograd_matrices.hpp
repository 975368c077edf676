// The transform matrices of Winograd's minimal filtering F(m x m, 3 x 3), built in double from interpolation points.
#pragma once

#include <Eigen/Dense>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "../error.hpp"

namespace fmviz {
namespace detail {

/// Y = A^T [ (G g G^T) * (B^T d B) ] A for one m x m output tile, with alpha = m + 2 input rows and columns.
struct WinogradMatrices {
  std::size_t m = 0;      // output tile side
  std::size_t alpha = 0;  // input tile side, m + 2
  Eigen::MatrixXd AT;     // m x alpha: output transform
  Eigen::MatrixXd G;      // alpha x 3: filter transform
  Eigen::MatrixXd BT;     // alpha x alpha: input transform
};

/// The points each tile size interpolates at (the point at infinity is always added). For F(4,3), ncnn's
/// {0, +-sqrt2, +-sqrt2/2} halves the fp32 error of Lavin's {0, +-1, +-2} and of {0, +-1, +-1/2} (measured on
/// 256-channel sums of ReLU inputs: max |error| / max |result| 1.8e-6 against 6.3e-6 and 5.1e-6; bench/README.md).
inline std::vector<double> winograd_points(std::size_t m) {
  const double r = std::sqrt(2.0);
  switch (m) {
    case 2: return {0.0, 1.0, -1.0};
    case 4: return {0.0, r, -r, r / 2, -r / 2};
    case 6: return {0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0};
    default: throw Error({}, "winograd", "no interpolation points for F(" + std::to_string(m) + ",3)");
  }
}

/// Toom-Cook construction: with V the alpha x alpha Vandermonde matrix of the points (last row: the point at
/// infinity, picking the leading coefficient), a linear convolution is V^-1 [(V_3 g) * (V_m h)]; the correlation a
/// convolution layer computes is its transpose, so A^T = V_m^T, G = V_3 and B^T = V^-T. Each row of G is scaled to
/// a largest entry of 1 (and that row of B^T inversely): the least fp32 error of the scalings we measured.
inline WinogradMatrices winograd_matrices(std::size_t m, const std::vector<double>& points) {
  const std::size_t alpha = m + 2;
  if (points.size() + 1 != alpha) throw Error({}, "winograd", "F(m,3) needs m+1 finite points");
  const auto n = static_cast<Eigen::Index>(alpha);
  Eigen::MatrixXd V = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i + 1 < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j) V(i, j) = std::pow(points[static_cast<std::size_t>(i)], static_cast<double>(j));
  V(n - 1, n - 1) = 1.0;

  // The point at infinity takes the leading coefficient of each factor, so its row of V_k is e_{k-1}.
  auto truncated = [&](Eigen::Index k) {
    Eigen::MatrixXd Vk = V.leftCols(k);
    Vk.row(n - 1).setZero();
    Vk(n - 1, k - 1) = 1.0;
    return Vk;
  };

  WinogradMatrices w;
  w.m = m;
  w.alpha = alpha;
  w.AT = truncated(static_cast<Eigen::Index>(m)).transpose();
  w.G = truncated(3);
  w.BT = V.inverse().transpose();
  for (Eigen::Index i = 0; i < n; ++i) {
    const double s = w.G.row(i).cwiseAbs().maxCoeff();
    w.G.row(i) /= s;
    w.BT.row(i) *= s;
  }
  return w;
}

}  // namespace detail
}  // namespace fmviz
