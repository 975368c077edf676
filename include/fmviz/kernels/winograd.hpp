// Winograd F(m x m, 3 x 3) convolution for 3x3 stride-1 layers: transform, 36 (or 16, 64) GEMMs, transform back.
//
// The layer's weights are transformed once, when the kernel is built: U[p] = (G g G^T)[p] for each of the alpha^2
// positions p, a K x C matrix per position. A forward then works through blocks of tiles sized to stay in cache:
//  1. input transform: V[p] (C x tiles) = (B^T d B)[p] for every channel and tile of the block;
//  2. one Eigen GEMM per position: M[p] (K x tiles) = U[p] V[p], with U[p] packed for the GEMM kernel at build;
//  3. output transform with the bias: y = A^T M A + b, written to the tiles' places in the output.
// Each step is shared out over threads (channels, positions, tiles), so no work is duplicated and the result
// does not depend on the thread count. The transforms are vectorised: the input transform works on `lanes`
// tiles at once, the output transform on `lanes` output channels at once, one cache line per matrix entry.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../detail/parallel.hpp"
#include "../detail/workspace.hpp"
#include "../error.hpp"
#include "../tensor.hpp"
#include "packed_gemm.hpp"
#include "winograd_matrices.hpp"

namespace fmviz {
namespace detail {

template <typename T>
class WinogradConv3x3 {
 public:
  static constexpr std::size_t lanes = 64 / sizeof(T);  // tiles transformed together
  static constexpr std::size_t max_alpha = 8;

  /// weight: (K, C, 3, 3). m: the output tile side, 2, 4 or 6.
  WinogradConv3x3(const Tensor<T>& weight, std::size_t m)
      : m_(m), alpha_(m + 2), k_(weight.dim(0)), c_(weight.dim(1)) {
    if (weight.rank() != 4 || weight.dim(2) != 3 || weight.dim(3) != 3)
      throw Error({}, "winograd", "needs a (K,C,3,3) weight, got " + shape_to_string(weight.shape()));
    const WinogradMatrices w = winograd_matrices(m, winograd_points(m));
    for (std::size_t i = 0; i < alpha_; ++i) {
      bt_.emplace_back();
      for (std::size_t j = 0; j < alpha_; ++j)
        if (w.BT(index(i), index(j)) != 0.0) bt_.back().push_back({j, static_cast<T>(w.BT(index(i), index(j)))});
    }
    for (std::size_t r = 0; r < m_; ++r) {
      at_.emplace_back();
      for (std::size_t j = 0; j < alpha_; ++j)
        if (w.AT(index(r), index(j)) != 0.0) at_.back().push_back({j, static_cast<T>(w.AT(index(r), index(j)))});
    }
    transform_weights(weight, w.G);
  }

  std::size_t tile() const noexcept { return m_; }
  std::size_t positions() const noexcept { return alpha_ * alpha_; }
  /// Bytes of transformed weights this kernel holds.
  std::size_t weight_bytes() const noexcept {
    std::size_t bytes = 0;
    for (const auto& u : u_) bytes += u.bytes();
    return bytes;
  }

  /// y (N, K, H + 2 pad_h - 2, W + 2 pad_w - 2) = conv(x, weights) + bias; y is allocated by the caller.
  void forward(const Tensor<T>& x, const T* bias, std::size_t pad_h, std::size_t pad_w, Tensor<T>& y) const {
    Geometry g;
    g.n = x.dim(0);
    g.h = x.dim(2);
    g.w = x.dim(3);
    g.oh = y.dim(2);
    g.ow = y.dim(3);
    g.pad_h = static_cast<std::ptrdiff_t>(pad_h);
    g.pad_w = static_cast<std::ptrdiff_t>(pad_w);
    g.tiles_y = (g.oh + m_ - 1) / m_;
    g.tiles_x = (g.ow + m_ - 1) / m_;
    const std::size_t total = g.n * g.tiles_y * g.tiles_x;

    // Tiles per block: V and M of a block together within the budget, a multiple of `lanes`, blocks of equal size.
    struct BlockTag {};
    const std::size_t per_tile = positions() * (c_ + k_) * sizeof(T);
    std::size_t block = std::max<std::size_t>(lanes, round_down(block_budget_bytes / per_tile, lanes));
    const std::size_t blocks = (total + block - 1) / block;
    block = std::min(round_up((total + blocks - 1) / blocks, lanes), round_up(total, lanes));

    T* v = thread_workspace<T, BlockTag>(positions() * (c_ + k_) * block);
    T* mm = v + positions() * c_ * block;
    std::vector<TilePlace> places(block);

    for (std::size_t first = 0; first < total; first += block) {
      const std::size_t count = std::min(block, total - first);
      for (std::size_t b = 0; b < count; ++b) places[b] = place_of(first + b, g);
      input_transform(x, g, places.data(), count, block, v);
      products(v, mm, count, block);
      output_transform(mm, bias, g, places.data(), count, block, y);
    }
  }

 private:
  struct Term {
    std::size_t index;
    T coef;
  };
  struct Geometry {
    std::size_t n, h, w, oh, ow, tiles_y, tiles_x;
    std::ptrdiff_t pad_h, pad_w;
  };
  /// Where one tile reads (top-left of its alpha x alpha input patch, may lie in the padding) and writes.
  struct TilePlace {
    std::size_t image;
    std::ptrdiff_t iy, ix;
    std::size_t oy, ox, rows, cols;
  };

  // About half of a core's share of L3 on the machines we measured; see bench/README.md.
  static constexpr std::size_t block_budget_bytes = std::size_t(4) << 20;

  static Eigen::Index index(std::size_t i) { return static_cast<Eigen::Index>(i); }
  static std::size_t round_up(std::size_t n, std::size_t q) { return (n + q - 1) / q * q; }
  static std::size_t round_down(std::size_t n, std::size_t q) { return n / q * q; }

  TilePlace place_of(std::size_t t, const Geometry& g) const {
    const std::size_t per_image = g.tiles_y * g.tiles_x;
    TilePlace p;
    p.image = t / per_image;
    const std::size_t ty = (t % per_image) / g.tiles_x, tx = t % g.tiles_x;
    p.oy = ty * m_;
    p.ox = tx * m_;
    p.iy = static_cast<std::ptrdiff_t>(p.oy) - g.pad_h;
    p.ix = static_cast<std::ptrdiff_t>(p.ox) - g.pad_w;
    p.rows = std::min(m_, g.oh - p.oy);
    p.cols = std::min(m_, g.ow - p.ox);
    return p;
  }

  void transform_weights(const Tensor<T>& weight, const Eigen::MatrixXd& G) {
    Tensor<T> u({positions(), k_, c_});  // U[p] = (G g G^T)[p], K x C row-major for each position
    const std::size_t a = alpha_, kc = k_ * c_;
    parallel_for(k_, [&](std::size_t k) {
      double gg[3][3], t[max_alpha][3];
      for (std::size_t c = 0; c < c_; ++c) {
        const T* src = weight.data() + (k * c_ + c) * 9;
        for (std::size_t i = 0; i < 9; ++i) gg[i / 3][i % 3] = static_cast<double>(src[i]);
        for (std::size_t i = 0; i < a; ++i)
          for (std::size_t j = 0; j < 3; ++j)
            t[i][j] = G(index(i), 0) * gg[0][j] + G(index(i), 1) * gg[1][j] + G(index(i), 2) * gg[2][j];
        for (std::size_t i = 0; i < a; ++i)
          for (std::size_t j = 0; j < a; ++j)
            u[(i * a + j) * kc + k * c_ + c] =
                static_cast<T>(t[i][0] * G(index(j), 0) + t[i][1] * G(index(j), 1) + t[i][2] * G(index(j), 2));
      }
    }, kc > 256);
    u_.resize(positions());
    parallel_for(positions(), [&](std::size_t p) { u_[p] = PackedLhs<T>(u.data() + p * kc, k_, c_); });
  }

  /// V[p][c][b] = (B^T d B)[p] for the block's tiles, channel by channel.
  void input_transform(const Tensor<T>& x, const Geometry& g, const TilePlace* places, std::size_t count, std::size_t stride,
                       T* v) const {
    const std::size_t a = alpha_, a2 = a * a, plane = g.h * g.w;
    const auto h = static_cast<std::ptrdiff_t>(g.h), w = static_cast<std::ptrdiff_t>(g.w);
    parallel_for(c_, [&](std::size_t c) {
      alignas(64) T d[max_alpha * max_alpha][lanes];
      alignas(64) T t[max_alpha * max_alpha][lanes];
      for (std::size_t b0 = 0; b0 < count; b0 += lanes) {
        const std::size_t n_lanes = std::min(lanes, count - b0);
        for (std::size_t l = 0; l < lanes; ++l) {
          if (l >= n_lanes) {
            for (std::size_t q = 0; q < a2; ++q) d[q][l] = T(0);
            continue;
          }
          const TilePlace& p = places[b0 + l];
          const T* src = x.data() + (p.image * c_ + c) * plane;
          const bool inside = p.iy >= 0 && p.ix >= 0 && p.iy + static_cast<std::ptrdiff_t>(a) <= h &&
                              p.ix + static_cast<std::ptrdiff_t>(a) <= w;
          for (std::size_t r = 0; r < a; ++r) {
            const std::ptrdiff_t yy = p.iy + static_cast<std::ptrdiff_t>(r);
            if (inside) {
              const T* row = src + yy * w + p.ix;
              for (std::size_t s = 0; s < a; ++s) d[r * a + s][l] = row[s];
            } else {
              for (std::size_t s = 0; s < a; ++s) {
                const std::ptrdiff_t xx = p.ix + static_cast<std::ptrdiff_t>(s);
                d[r * a + s][l] = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? src[yy * w + xx] : T(0);
              }
            }
          }
        }
        // t = B^T d, then v = t B, each a sum over the nonzero entries of a row of B^T.
        for (std::size_t i = 0; i < a; ++i)
          for (std::size_t j = 0; j < a; ++j) {
            T acc[lanes] = {};
            for (const Term& term : bt_[i])
              for (std::size_t l = 0; l < lanes; ++l) acc[l] += term.coef * d[term.index * a + j][l];
            for (std::size_t l = 0; l < lanes; ++l) t[i * a + j][l] = acc[l];
          }
        for (std::size_t i = 0; i < a; ++i)
          for (std::size_t j = 0; j < a; ++j) {
            T acc[lanes] = {};
            for (const Term& term : bt_[j])
              for (std::size_t l = 0; l < lanes; ++l) acc[l] += term.coef * t[i * a + term.index][l];
            T* dst = v + ((i * a + j) * c_ + c) * stride + b0;
            for (std::size_t l = 0; l < lanes; ++l) dst[l] = acc[l];
          }
      }
    }, c_ * count >= 2 * lanes);
  }

  /// M[p] (K x count, column-major: tile after tile) = U[p] (K x C) V[p] (C x count), one GEMM per position.
  void products(const T* v, T* mm, std::size_t count, std::size_t stride) const {
    parallel_for(positions(), [&](std::size_t p) { u_[p].multiply(v + p * c_ * stride, count, stride, mm + p * k_ * stride, k_); });
  }

  /// y = A^T M A + bias for every tile of the block, `lanes` output channels at a time.
  void output_transform(const T* mm, const T* bias, const Geometry& g, const TilePlace* places, std::size_t count,
                        std::size_t stride, Tensor<T>& y) const {
    const std::size_t a = alpha_, a2 = a * a, plane = g.oh * g.ow;
    parallel_for(count, [&](std::size_t b) {
      alignas(64) T src[max_alpha * max_alpha][lanes];
      alignas(64) T t[max_alpha * max_alpha][lanes];
      alignas(64) T out[max_alpha * max_alpha][lanes];
      const TilePlace& p = places[b];
      for (std::size_t k0 = 0; k0 < k_; k0 += lanes) {
        const std::size_t n_lanes = std::min(lanes, k_ - k0);
        for (std::size_t q = 0; q < a2; ++q) {
          const T* from = mm + (q * stride + b) * k_ + k0;
          for (std::size_t l = 0; l < lanes; ++l) src[q][l] = l < n_lanes ? from[l] : T(0);
        }
        for (std::size_t r = 0; r < m_; ++r)
          for (std::size_t j = 0; j < a; ++j) {
            T acc[lanes] = {};
            for (const Term& term : at_[r])
              for (std::size_t l = 0; l < lanes; ++l) acc[l] += term.coef * src[term.index * a + j][l];
            for (std::size_t l = 0; l < lanes; ++l) t[r * a + j][l] = acc[l];
          }
        for (std::size_t r = 0; r < m_; ++r)
          for (std::size_t s = 0; s < m_; ++s) {
            T acc[lanes];
            for (std::size_t l = 0; l < lanes; ++l) acc[l] = bias && l < n_lanes ? bias[k0 + l] : T(0);
            for (const Term& term : at_[s])
              for (std::size_t l = 0; l < lanes; ++l) acc[l] += term.coef * t[r * a + term.index][l];
            for (std::size_t l = 0; l < lanes; ++l) out[r * m_ + s][l] = acc[l];
          }
        for (std::size_t l = 0; l < n_lanes; ++l) {
          T* dst = y.data() + (p.image * k_ + k0 + l) * plane + p.oy * g.ow + p.ox;
          for (std::size_t r = 0; r < p.rows; ++r)
            for (std::size_t s = 0; s < p.cols; ++s) dst[r * g.ow + s] = out[r * m_ + s][l];
        }
      }
    }, k_ * count >= 2 * lanes);
  }

  std::size_t m_, alpha_, k_, c_;
  std::vector<std::vector<Term>> bt_;  // nonzero entries of each row of B^T
  std::vector<std::vector<Term>> at_;  // nonzero entries of each row of A^T
  std::vector<PackedLhs<T>> u_;        // the transformed weights U[p], K x C for each position p
};

}  // namespace detail
}  // namespace fmviz
