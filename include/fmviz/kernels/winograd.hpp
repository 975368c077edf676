// Winograd F(m x m, 3 x 3) convolution for 3x3 stride-1 layers: transform, 36 (or 16, 64) GEMMs, transform back.
//
// The layer's weights are transformed once, when the kernel is built: U[p] = (G g G^T)[p] for each of the alpha^2
// positions p, a K x C matrix per position. A forward then works through blocks of tiles sized to stay in cache:
//  1. input transform: V[p] (C x tiles) = (B^T d B)[p] for every channel and tile of the block, written straight
//     into the layout the GEMM kernel reads;
//  2. one Eigen GEMM per position: M[p] (K x tiles) = U[p] V[p], with U[p] packed for the GEMM kernel at build;
//  3. output transform with the bias (and the ReLU, when asked): y = A^T M A + b, written to the tiles' places.
// A kernel built without transforming its weights (to save memory) transforms them during the forward, one band
// of output channels at a time when the tiles make one block, so it never holds more than a band.
// With as many blocks as threads twice over, each thread runs whole blocks; else each step of a block is shared
// out over threads (channels, positions, tiles). Either way no work is duplicated, and a tile's result depends
// neither on the thread count nor on its block (nor, so, on the other images of a batch).
// The transforms are vectorised: the input transform works on `lanes` tiles at once, the output transform on
// `lanes` output channels at once, one cache line per matrix entry; tiles and channels move between those lanes
// and memory by SIMD packets transposed in registers.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../detail/parallel.hpp"
#include "../detail/workspace.hpp"
#include "../error.hpp"
#include "../tensor.hpp"
#include "packed_gemm.hpp"
#include "winograd_matrices.hpp"

// Eigen's SIMD packets (__m256 and the like) as template arguments: GCC warns that their alignment attributes
// are dropped, which is harmless here (PacketBlock is Eigen's own type for exactly this use).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

namespace fmviz {
namespace detail {

template <typename T>
class WinogradConv3x3 {
 public:
  static constexpr std::size_t lanes = 64 / sizeof(T);  // tiles (or output channels) transformed together
  static_assert(lanes % PackedLhs<T>::column_group() == 0, "a GEMM column group must not reach past a group of lanes");

  /// weight: (K, C, 3, 3). m: the output tile side, 2, 4 or 6. With `transform_now`, the weights are transformed
  /// here and kept; without, each forward transforms them into the calling thread's scratch memory.
  WinogradConv3x3(const Tensor<T>& weight, std::size_t m, bool transform_now = true)
      : m_(m), alpha_(m + 2), k_(weight.dim(0)), c_(weight.dim(1)) {
    if (weight.rank() != 4 || weight.dim(2) != 3 || weight.dim(3) != 3)
      throw Error({}, "winograd", "needs a (K,C,3,3) weight, got " + shape_to_string(weight.shape()));
    if (m != 2 && m != 4 && m != 6) throw Error({}, "winograd", "no F(" + std::to_string(m) + ",3): the tile must be 2, 4 or 6");
    if (transform_now) {
      for (std::size_t p = 0; p < positions(); ++p) u_.emplace_back(k_, c_);
      with_tile([&](auto tile) { transform_weights<decltype(tile)::value>(weight, 0, u_); });
    }
  }

  std::size_t tile() const noexcept { return m_; }
  std::size_t positions() const noexcept { return alpha_ * alpha_; }
  /// Bytes of transformed weights this kernel holds (0 when each forward transforms them).
  std::size_t weight_bytes() const noexcept {
    std::size_t bytes = 0;
    for (const auto& u : u_) bytes += u.bytes();
    return bytes;
  }

  /// y (N, K, H + 2 pad_h - 2, W + 2 pad_w - 2) = conv(x, weight) + bias, then max(y, 0) with `relu`; y is
  /// allocated by the caller. `weight` is the one the kernel was built with (read only when it was built without
  /// transforming it).
  void forward(const Tensor<T>& x, const Tensor<T>& weight, const T* bias, std::size_t pad_h, std::size_t pad_w,
               Tensor<T>& y, bool relu = false) const {
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
    // Every block reads all of U, so where U is larger than the budget (512-channel layers), blocks may grow to U's
    // size: a batch then reads the weights once, not once per few tiles.
    const std::size_t per_tile = positions() * (c_ + k_) * sizeof(T);
    const std::size_t budget = std::max(block_budget_bytes, positions() * k_ * c_ * sizeof(T));
    std::size_t block = std::max<std::size_t>(lanes, round_down(budget / per_tile, lanes));
    std::size_t blocks = (total + block - 1) / block;

    // Weights not transformed at build are transformed here, into this thread's scratch memory: with one block
    // of tiles, one band of output channels at a time (each band is used once, so only a band is ever held);
    // with several blocks, all of them first (each block uses them all).
    const bool streamed = u_.empty() && blocks == 1;
    // With blocks enough for every thread, each thread runs whole blocks on its own (its own V and M, no
    // waiting for the other between steps); else the threads share each step of one block at a time. A tile's
    // result does not depend on its block, so neither choice changes a bit.
    const std::size_t threads = static_cast<std::size_t>(std::max(1, thread_count()));
    const bool by_block = !streamed && threads > 1 && blocks >= 2 * threads;
    if (by_block) blocks = round_up(blocks, threads);  // as many blocks for every thread
    block = std::min(round_up((total + blocks - 1) / blocks, lanes), round_up(total, lanes));
    blocks = (total + block - 1) / block;
    const std::size_t band = streamed ? std::min(k_, weight_band_rows) : k_;
    std::vector<PackedLhs<T>> scratch;
    T* storage = nullptr;
    if (u_.empty()) {
      struct WeightsTag {};
      const std::size_t each = PackedLhs<T>::storage_size(band, c_);
      storage = thread_workspace<T, WeightsTag>(positions() * each);
      for (std::size_t p = 0; p < positions(); ++p) scratch.emplace_back(band, c_, storage + p * each);
      if (!streamed) with_tile([&](auto tile) { transform_weights<decltype(tile)::value>(weight, 0, scratch); });
    }

    // One position's matrix after another, each one cache line further than a whole number of them: the
    // transforms touch every position at once, and power-of-two distances would put them all in one cache set.
    BlockLayout layout;
    layout.v_step = c_ * block + lanes;
    layout.m_step = band * block + lanes;

    auto run_block = [&](std::size_t first) {
      struct BlockTag {};
      T* v = thread_workspace<T, BlockTag>(positions() * (layout.v_step + layout.m_step));  // the running thread's
      T* mm = v + positions() * layout.v_step;
      const std::size_t count = std::min(block, total - first);
      // Whole column groups only (the input transform zeroes the missing tiles): Eigen rounds a product's last
      // odd columns differently, and a tile must not get other bits because of where its block ends.
      const std::size_t cols = round_up(count, PackedLhs<T>::column_group());
      std::vector<TilePlace> places(count);
      for (std::size_t b = 0; b < count; ++b) places[b] = place_of(first + b, g);
      with_tile([&](auto tile) { input_transform<decltype(tile)::value>(x, g, places.data(), count, cols, layout, v); });
      for (std::size_t k0 = 0; k0 < k_; k0 += band) {
        const std::size_t rows = std::min(band, k_ - k0);
        std::vector<PackedLhs<T>> part;  // the last band of a streamed layer may be short
        if (streamed && rows < band) {
          const std::size_t each = PackedLhs<T>::storage_size(rows, c_);
          for (std::size_t p = 0; p < positions(); ++p) part.emplace_back(rows, c_, storage + p * each);
        }
        std::vector<PackedLhs<T>>& u_band = part.empty() ? scratch : part;
        if (streamed) with_tile([&](auto tile) { transform_weights<decltype(tile)::value>(weight, k0, u_band); });
        products(u_.empty() ? u_band : u_, v, mm, cols, layout, rows);
        with_tile([&](auto tile) {
          output_transform<decltype(tile)::value>(mm, bias, relu, g, places.data(), count, layout, k0, rows, y);
        });
      }
    };
    // Inside a parallel loop the steps' own loops run on the calling thread (parallel_for does not nest).
    if (by_block) parallel_for(blocks, [&](std::size_t i) { run_block(i * block); });
    else for (std::size_t i = 0; i < blocks; ++i) run_block(i * block);
  }

 private:
  /// Where a block's V[p] (C x tiles, in the GEMM's packed layout) and M[p] (rows x tiles, column-major) lie.
  struct BlockLayout {
    std::size_t v_step;  // from V[p] to V[p + 1]
    std::size_t m_step;  // from M[p] to M[p + 1]
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

  // V and M of a block: 1 MiB (twice a Zen 3 core's L2) measured best against 4 MiB on the 64- and 128-channel
  // layers (conv1_2 26.4 against 30.4 ms on one thread, 14.1 against 15.4 on two); see bench/README.md.
  static constexpr std::size_t block_budget_bytes = std::size_t(1) << 20;
  // Output channels per band of weights transformed during a forward: the GEMM's own row band (PackedLhs packs
  // 128 rows together), so the products are the same as with weights transformed at build.
  static constexpr std::size_t weight_band_rows = 128;

  static Eigen::Index index(std::size_t i) { return static_cast<Eigen::Index>(i); }
  using Lanes = Eigen::Array<T, static_cast<int>(lanes), 1>;  // one value per tile or output channel, in SIMD registers
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

  /// Calls f(std::integral_constant<size_t, m>): the transforms are compiled for each tile size.
  template <typename F>
  void with_tile(F&& f) const {
    if (m_ == 2) f(std::integral_constant<std::size_t, 2>());
    else if (m_ == 4) f(std::integral_constant<std::size_t, 4>());
    else f(std::integral_constant<std::size_t, 6>());
  }

  /// U[p] = (G g G^T)[p] for output channels [k_begin, k_begin + u[p].rows()), `lanes` of them at a time (G built
  /// in double, applied in T: its rounding is far below Winograd's own), packed for the GEMM one band of output
  /// channels at a time, so no unpacked copy of the whole layer is ever held.
  template <std::size_t M>
  void transform_weights(const Tensor<T>& weight, std::size_t k_begin, std::vector<PackedLhs<T>>& u) const {
    constexpr std::size_t A = M + 2;
    const std::size_t band = u.front().band_rows(), k_end = k_begin + u.front().rows();
    struct BandTag {};
    T* unpacked = thread_workspace<T, BandTag>(A * A * c_ * band);  // [p][c][k within the band]: column-major
    for (std::size_t first = k_begin; first < k_end; first += band) {
      const std::size_t rows = std::min(band, k_end - first), groups = (rows + lanes - 1) / lanes;
      parallel_for(c_ * groups, [&](std::size_t item) {
        const std::size_t c = item / groups, k0 = (item % groups) * lanes, n = std::min(lanes, rows - k0);
        Lanes g[9], t[A * 3], out[A * A];
        for (std::size_t i = 0; i < 9; ++i)
          for (std::size_t l = 0; l < lanes; ++l) g[i](index(l)) = l < n ? weight[((first + k0 + l) * c_ + c) * 9 + i] : T(0);
        sandwich<M, Matrix::filter, 3>(g, t, out, std::make_index_sequence<A>());
        for (std::size_t p = 0; p < A * A; ++p) {
          T* dst = unpacked + (p * c_ + c) * band + k0;
          if (n == lanes) Eigen::Map<Lanes>{dst} = out[p];
          else for (std::size_t l = 0; l < n; ++l) dst[l] = out[p](index(l));
        }
      }, rows * c_ > 256);
      parallel_for(A * A, [&](std::size_t p) { u[p].pack_band(first - k_begin, unpacked + p * c_ * band, band); });
    }
  }

  /// The transform matrices as constants of type T.
  template <std::size_t M>
  struct Constants {
    static constexpr WinogradMatrices<M> w = winograd_matrices<M>();
  };

  /// Which transform matrix: B^T (alpha x alpha) for the input, A^T (m x alpha) for the output, G (alpha x 3)
  /// for the weights.
  enum class Matrix { input, output, filter };

  template <std::size_t M, Matrix Which, std::size_t I, std::size_t K>
  static constexpr T coefficient() {
    if constexpr (Which == Matrix::input) return static_cast<T>(Constants<M>::w.BT[I][K]);
    else if constexpr (Which == Matrix::output) return static_cast<T>(Constants<M>::w.AT[I][K]);
    else return static_cast<T>(Constants<M>::w.G[I][K]);
  }

  /// acc += c x for the (I, K) entry c of the matrix: zero entries vanish and +-1 need no multiply, because c is
  /// known when the kernel is compiled.
  template <std::size_t M, Matrix Which, std::size_t I, std::size_t K>
  static void multiply_add(Lanes& acc, const Lanes& x) {
    constexpr T c = coefficient<M, Which, I, K>();
    if constexpr (c == T(1)) acc += x;
    else if constexpr (c == T(-1)) acc -= x;
    else if constexpr (c != T(0)) acc += c * x;
  }

  /// Row I of the matrix times the column x[0], x[step], x[2 step], ...
  template <std::size_t M, Matrix Which, std::size_t I, std::size_t... K>
  static Lanes row_times(const Lanes* x, std::size_t step, std::index_sequence<K...>) {
    Lanes acc = Lanes::Zero();
    (multiply_add<M, Which, I, K>(acc, x[K * step]), ...);
    return acc;
  }

  /// out = C x C^T for `lanes` matrices at once, C being R x N (rows I...): x is N x N, t scratch (R x N),
  /// out R x R.
  template <std::size_t M, Matrix Which, std::size_t N, std::size_t... I>
  static void sandwich(const Lanes* x, Lanes* t, Lanes* out, std::index_sequence<I...>) {
    constexpr std::size_t R = sizeof...(I);
    constexpr auto columns = std::make_index_sequence<N>();
    for (std::size_t j = 0; j < N; ++j) ((t[I * N + j] = row_times<M, Which, I>(x + j, N, columns)), ...);
    for (std::size_t i = 0; i < R; ++i) ((out[i * R + I] = row_times<M, Which, I>(t + i * N, 1, columns)), ...);
  }

  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr std::size_t packet_size = static_cast<std::size_t>(Eigen::internal::unpacket_traits<Packet>::size);
  /// Whether a tile's row (or an output tile's row) of n values fits one SIMD packet, so that `packet_size` tiles
  /// are moved between tile-major and lane-major order by one in-register transpose instead of value by value.
  static constexpr bool transposable(std::size_t n) { return packet_size > 1 && n <= packet_size && lanes % packet_size == 0; }

  /// body(c) for every input channel, threads taking chunks of channels whose values share V's cache lines
  /// (the GEMM's layout puts a few channels' values for a column group of tiles side by side).
  template <typename Body>
  void for_channel_chunks(std::size_t count, Body&& body) const {
    constexpr std::size_t chunk = 8;
    parallel_for((c_ + chunk - 1) / chunk, [&](std::size_t i) {
      for (std::size_t c = i * chunk; c < std::min(c_, (i + 1) * chunk); ++c) body(c);
    }, c_ * count >= 2 * lanes);
  }

  /// V[p][c][b] = (B^T d B)[p] for the block's tiles, channel by channel, `lanes` tiles at a time.
  template <std::size_t M>
  void input_transform(const Tensor<T>& x, const Geometry& g, const TilePlace* places, std::size_t count, std::size_t cols,
                       const BlockLayout& layout, T* v) const {
    constexpr std::size_t A = M + 2;
    const std::size_t plane = g.h * g.w;
    const auto h = static_cast<std::ptrdiff_t>(g.h), w = static_cast<std::ptrdiff_t>(g.w);
    auto inside = [&](const TilePlace& p) {
      return p.iy >= 0 && p.ix >= 0 && p.iy + static_cast<std::ptrdiff_t>(A) <= h && p.ix + static_cast<std::ptrdiff_t>(A) <= w;
    };
    // Tile d of tile b in channel c into patch[r * stride + s] (zeroed by the caller: the padding stays zero),
    // row by row, the part of each row inside the image at once.
    auto copy_patch = [&](std::size_t b, std::size_t c, T* patch, std::size_t stride) {
      const TilePlace& p = places[b];
      const T* src = x.data() + (p.image * c_ + c) * plane;
      const std::ptrdiff_t s0 = std::max<std::ptrdiff_t>(0, -p.ix), s1 = std::min<std::ptrdiff_t>(A, w - p.ix);
      if (s1 <= s0) return;
      for (std::size_t r = 0; r < A; ++r) {
        const std::ptrdiff_t yy = p.iy + static_cast<std::ptrdiff_t>(r);
        if (yy < 0 || yy >= h) continue;
        // A fixed count with clamped reads, not a copy of a few values (which becomes a call to memmove).
        const T* in = src + yy * w;
        for (std::ptrdiff_t s = 0; s < static_cast<std::ptrdiff_t>(A); ++s)
          patch[r * stride + static_cast<std::size_t>(s)] = (s >= s0 && s < s1) ? in[p.ix + std::clamp(s, s0, s1 - 1)] : T(0);
      }
    };
    auto store = [&](std::size_t c, std::size_t b0, const Lanes* out) {
      // Straight into the layout the GEMM reads, a column group (of tiles) at a time, up to `cols` tiles.
      constexpr std::size_t group = PackedLhs<T>::column_group();
      using Group = Eigen::Array<T, static_cast<int>(group), 1>;
      for (std::size_t j = 0; j < lanes && b0 + j < cols; j += group) {
        const std::size_t at = PackedLhs<T>::rhs_offset(c_, cols, c, b0 + j);
        for (std::size_t q = 0; q < A * A; ++q)
          Eigen::Map<Group>(v + q * layout.v_step + at) = out[q].template segment<static_cast<int>(group)>(index(j));
      }
    };

    if constexpr (transposable(A)) {
      // Each tile's rows are read as packets straight from the image when the tile lies inside it (and a packet
      // from its last row stays inside the tensor); else from a zero-padded copy. `packet_size` tiles' rows are
      // then transposed in registers: no value is moved on its own.
      std::vector<std::ptrdiff_t> offset(count);  // from the channel's plane to the tile's first value; -1: copy it
      for (std::size_t b = 0; b < count; ++b) {
        const TilePlace& p = places[b];
        const std::size_t first = inside(p) ? static_cast<std::size_t>(p.iy * w + p.ix) : 0;
        const bool direct = inside(p) && (p.image * c_ + c_ - 1) * plane + first + (A - 1) * g.w + packet_size <= x.size();
        offset[b] = direct ? static_cast<std::ptrdiff_t>(first) : -1;
      }
      for_channel_chunks(count, [&](std::size_t c) {
        namespace ei = Eigen::internal;
        Lanes d[A * A], t[A * A], out[A * A];
        alignas(64) T patches[packet_size][A * packet_size];
        const T* rows[packet_size];
        std::size_t strides[packet_size];
        for (std::size_t b0 = 0; b0 < count; b0 += lanes) {
          for (std::size_t j = 0; j < lanes; j += packet_size) {
            for (std::size_t i = 0; i < packet_size; ++i) {
              const std::size_t b = b0 + j + i;
              if (b < count && offset[b] >= 0) {
                rows[i] = x.data() + (places[b].image * c_ + c) * plane + offset[b];
                strides[i] = g.w;
                continue;
              }
              for (std::size_t q = 0; q < A * packet_size; ++q) patches[i][q] = T(0);
              if (b < count) copy_patch(b, c, patches[i], packet_size);
              rows[i] = patches[i];
              strides[i] = packet_size;
            }
            for (std::size_t r = 0; r < A; ++r) {
              ei::PacketBlock<Packet, static_cast<int>(packet_size)> block;
              for (std::size_t i = 0; i < packet_size; ++i) block.packet[i] = ei::ploadu<Packet>(rows[i] + r * strides[i]);
              ei::ptranspose(block);
              for (std::size_t s = 0; s < A; ++s) ei::pstoreu(d[r * A + s].data() + j, block.packet[s]);
            }
          }
          sandwich<M, Matrix::input, A>(d, t, out, std::make_index_sequence<A>());
          store(c, b0, out);
        }
      });
    } else {
      for_channel_chunks(count, [&](std::size_t c) {
        Lanes d[A * A], t[A * A], out[A * A];
        alignas(64) T patch[A * A];
        for (std::size_t b0 = 0; b0 < count; b0 += lanes) {
          for (std::size_t l = 0; l < lanes; ++l) {
            std::fill(patch, patch + A * A, T(0));
            if (b0 + l < count) copy_patch(b0 + l, c, patch, A);
            for (std::size_t q = 0; q < A * A; ++q) d[q](index(l)) = patch[q];
          }
          sandwich<M, Matrix::input, A>(d, t, out, std::make_index_sequence<A>());
          store(c, b0, out);
        }
      });
    }
  }

  /// M[p] (rows x cols, column-major: tile after tile) = U[p] (rows x C) V[p] (C x cols), one GEMM per position;
  /// rows is K, or a band of it when the weights are transformed band by band.
  void products(const std::vector<PackedLhs<T>>& u, const T* v, T* mm, std::size_t cols, const BlockLayout& layout,
                std::size_t rows) const {
    parallel_for(positions(), [&](std::size_t p) {
      u[p].multiply(v + p * layout.v_step, cols, mm + p * layout.m_step, rows);
    });
  }

  /// y = A^T M A + bias (then max(y, 0) with `relu`) for every tile of the block and output channels [k_begin, k_begin + rows), `lanes`
  /// channels at a time.
  template <std::size_t M>
  void output_transform(const T* mm, const T* bias, bool relu, const Geometry& g, const TilePlace* places, std::size_t count,
                        const BlockLayout& layout, std::size_t k_begin, std::size_t rows, Tensor<T>& y) const {
    constexpr std::size_t A = M + 2;
    const std::size_t plane = g.oh * g.ow;
    parallel_for(count, [&](std::size_t b) {
      Lanes src[A * A], t[A * A], out[M * M];
      const TilePlace& p = places[b];
      for (std::size_t k0 = 0; k0 < rows; k0 += lanes) {
        const std::size_t n_lanes = std::min(lanes, rows - k0);
        for (std::size_t q = 0; q < A * A; ++q) {
          const T* from = mm + q * layout.m_step + b * rows + k0;
          if (n_lanes == lanes) src[q] = Eigen::Map<const Lanes>(from);
          else for (std::size_t l = 0; l < lanes; ++l) src[q](index(l)) = l < n_lanes ? from[l] : T(0);
        }
        sandwich<M, Matrix::output, A>(src, t, out, std::make_index_sequence<M>());
        if (bias) {
          Lanes b = Lanes::Zero();
          for (std::size_t l = 0; l < n_lanes; ++l) b(index(l)) = bias[k_begin + k0 + l];
          for (std::size_t q = 0; q < M * M; ++q) out[q] += b;
        }
        if (relu)  // the ReLU layer's own expression, so the values are the same as with the layer after
          for (std::size_t q = 0; q < M * M; ++q) out[q] = out[q].unaryExpr([](T v) { return std::max(v, T(0)); });
        T* const first = y.data() + (p.image * k_ + k_begin + k0) * plane + p.oy * g.ow + p.ox;
        if constexpr (transposable(M)) {
          // Row r of `packet_size` channels' tiles, transposed in registers: a packet per channel.
          namespace ei = Eigen::internal;
          alignas(64) T row[packet_size];
          for (std::size_t r = 0; r < p.rows; ++r)
            for (std::size_t j = 0; j < n_lanes; j += packet_size) {
              ei::PacketBlock<Packet, static_cast<int>(packet_size)> block;
              for (std::size_t s = 0; s < packet_size; ++s)
                block.packet[s] = s < M ? ei::ploadu<Packet>(out[r * M + s].data() + j) : ei::pset1<Packet>(T(0));
              ei::ptranspose(block);
              for (std::size_t i = 0; i < packet_size && j + i < n_lanes; ++i) {
                ei::pstore(row, block.packet[i]);
                T* dst = first + (j + i) * plane + r * g.ow;
                if (p.cols == M) std::copy_n(row, M, dst);
                else std::copy_n(row, p.cols, dst);
              }
            }
          continue;
        }
        for (std::size_t l = 0; l < n_lanes; ++l) {
          T* dst = first + l * plane;
          for (std::size_t r = 0; r < p.rows; ++r)
            for (std::size_t s = 0; s < p.cols; ++s) dst[r * g.ow + s] = out[r * M + s](index(l));
        }
      }
    }, rows * count >= 2 * lanes);
  }

  std::size_t m_, alpha_, k_, c_;
  std::vector<PackedLhs<T>> u_;        // the transformed weights U[p], K x C for each position p (or none)
};

}  // namespace detail
}  // namespace fmviz

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
