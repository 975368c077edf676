// The transform matrices of Winograd's minimal filtering F(m x m, 3 x 3), built in double from interpolation
// points at compile time, so the kernels see them as constants (zeros skipped, ones folded away).
#pragma once

#include <cstddef>

namespace fmviz {
namespace detail {

/// Y = A^T [ (G g G^T) * (B^T d B) ] A for one m x m output tile, with alpha = m + 2 input rows and columns.
template <std::size_t M>
struct WinogradMatrices {
  static constexpr std::size_t m = M;
  static constexpr std::size_t alpha = M + 2;
  double AT[M][M + 2] = {};         // m x alpha: output transform
  double G[M + 2][3] = {};          // alpha x 3: filter transform
  double BT[M + 2][M + 2] = {};     // alpha x alpha: input transform
  double points[M + 1] = {};        // the finite interpolation points (the point at infinity is implied)
};

namespace winograd_math {

constexpr double abs(double x) { return x < 0 ? -x : x; }

constexpr double power(double x, std::size_t n) {
  double p = 1;
  for (std::size_t i = 0; i < n; ++i) p *= x;
  return p;
}

/// The points each tile size interpolates at. For F(4,3), ncnn's {0, +-sqrt2, +-sqrt2/2} gives about a third of
/// the fp32 error of Lavin's {0, +-1, +-2} and of {0, +-1, +-1/2} (measured on 256-channel sums of ReLU inputs:
/// max |error| / max |result| 1.8e-6 against 6.3e-6 and 5.1e-6; see bench/README.md).
template <std::size_t M>
constexpr void set_points(double (&p)[M + 1]) {
  constexpr double r = 1.41421356237309504880;  // sqrt(2)
  if constexpr (M == 2) {
    const double v[] = {0.0, 1.0, -1.0};
    for (std::size_t i = 0; i <= M; ++i) p[i] = v[i];
  } else if constexpr (M == 4) {
    const double v[] = {0.0, r, -r, r / 2, -r / 2};
    for (std::size_t i = 0; i <= M; ++i) p[i] = v[i];
  } else {
    static_assert(M == 6, "Winograd F(m,3) is built for m = 2, 4 and 6");
    const double v[] = {0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0};
    for (std::size_t i = 0; i <= M; ++i) p[i] = v[i];
  }
}

}  // namespace winograd_math

/// Toom-Cook construction: with V the alpha x alpha Vandermonde matrix of the points (last row: the point at
/// infinity, picking the leading coefficient), a linear convolution is V^-1 [(V_3 g) * (V_m h)]; the correlation a
/// convolution layer computes is its transpose, so A^T = V_m^T, G = V_3 and B^T = V^-T. Each row of G is scaled to
/// a largest entry of 1 (and that row of B^T inversely): the least fp32 error of the scalings we measured.
template <std::size_t M>
constexpr WinogradMatrices<M> winograd_matrices() {
  constexpr std::size_t n = M + 2;
  WinogradMatrices<M> w;
  winograd_math::set_points<M>(w.points);
  double V[n][n] = {};
  for (std::size_t i = 0; i + 1 < n; ++i)
    for (std::size_t j = 0; j < n; ++j) V[i][j] = winograd_math::power(w.points[i], j);
  V[n - 1][n - 1] = 1.0;

  // inv = V^-1 by Gauss-Jordan elimination with partial pivoting.
  double a[n][n] = {}, inv[n][n] = {};
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) a[i][j] = V[i][j];
    inv[i][i] = 1.0;
  }
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r)
      if (winograd_math::abs(a[r][col]) > winograd_math::abs(a[pivot][col])) pivot = r;
    for (std::size_t j = 0; j < n; ++j) {
      const double t = a[col][j], u = inv[col][j];
      a[col][j] = a[pivot][j];
      inv[col][j] = inv[pivot][j];
      a[pivot][j] = t;
      inv[pivot][j] = u;
    }
    const double d = a[col][col];
    for (std::size_t j = 0; j < n; ++j) {
      a[col][j] /= d;
      inv[col][j] /= d;
    }
    for (std::size_t r = 0; r < n; ++r) {
      if (r == col) continue;
      const double f = a[r][col];
      for (std::size_t j = 0; j < n; ++j) {
        a[r][j] -= f * a[col][j];
        inv[r][j] -= f * inv[col][j];
      }
    }
  }

  // The point at infinity takes the leading coefficient of each factor: its row of V_k is e_{k-1}.
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < 3; ++j) w.G[i][j] = i + 1 < n ? V[i][j] : (j == 2 ? 1.0 : 0.0);
    for (std::size_t r = 0; r < M; ++r) w.AT[r][i] = i + 1 < n ? V[i][r] : (r == M - 1 ? 1.0 : 0.0);
    for (std::size_t j = 0; j < n; ++j) w.BT[i][j] = inv[j][i];
  }
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < 3; ++j) s = winograd_math::abs(w.G[i][j]) > s ? winograd_math::abs(w.G[i][j]) : s;
    for (std::size_t j = 0; j < 3; ++j) w.G[i][j] /= s;
    for (std::size_t j = 0; j < n; ++j) w.BT[i][j] *= s;
  }
  return w;
}

}  // namespace detail
}  // namespace fmviz
