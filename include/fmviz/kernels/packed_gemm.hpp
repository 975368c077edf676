// A GEMM whose left operand (a layer's weights) is packed once, when the layer is built, then used by every call.
//
// Eigen's public product packs both operands on every call. For the small right operands a convolution at
// batch 1 produces (a 512 x 512 weight block against 16 to 64 tiles), that packing costs as much as the
// arithmetic. With Eigen 3.4 we keep Eigen's own packed layout of the weights and call its GEBP kernel
// directly, and the caller writes the right operand straight into the layout the kernel reads (rhs_offset);
// with any other Eigen version the public product is used (same results, slower).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "../detail/workspace.hpp"
#include "../tensor.hpp"

// Defined to 0 by a build that wants the public-product path (the tests build it that way once, so it stays right).
#ifndef FMVIZ_EIGEN_PREPACKED_GEMM
#if EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4
#define FMVIZ_EIGEN_PREPACKED_GEMM 1
#else
#define FMVIZ_EIGEN_PREPACKED_GEMM 0
#endif
#endif

namespace fmviz {
namespace detail {

/// An immutable rows x depth matrix (e.g. K x C weights), kept in the layout Eigen's GEMM kernel reads.
template <typename T>
class PackedLhs {
 public:
  PackedLhs() = default;

  /// Room for a rows x depth matrix, filled band by band with pack_band (so a caller can produce the matrix
  /// one band of rows at a time, never holding all of it unpacked). With `storage` (storage_size(rows, depth)
  /// elements, 64-byte aligned, outliving this object) the matrix lives there instead of in memory of its own.
  PackedLhs(std::size_t rows, std::size_t depth, T* storage = nullptr)
      : rows_(rows), depth_(depth), kc_(depth_slice(depth)), mc_(std::min<std::size_t>(rows, 128)) {
    size_ = layout(rows_, depth_, kc_, mc_, &offsets_);
    if (storage) {
      data_ = storage;
    } else {
      owned_ = aligned_array<T>(size_);
      data_ = owned_.get();
    }
  }

  /// Elements a rows x depth matrix takes once packed.
  static std::size_t storage_size(std::size_t rows, std::size_t depth) {
    return layout(rows, depth, depth_slice(depth), std::min<std::size_t>(rows, 128), nullptr);
  }

  /// Columns the GEMM kernel computes together: a product's last columns beyond a multiple of this take another
  /// path in Eigen, rounded differently (callers wanting bits that do not depend on the column count pad to it).
  static constexpr std::size_t column_group() noexcept {
#if FMVIZ_EIGEN_PREPACKED_GEMM
    return static_cast<std::size_t>(Eigen::internal::gebp_traits<T, T>::nr);
#else
    return 8;
#endif
  }

  /// Rows in one band: pack_band takes bands starting at multiples of this.
  std::size_t band_rows() const noexcept { return mc_; }

  /// Stores rows [first, first + band_rows()) (fewer at the end) from `band`, column-major with column stride
  /// `stride` (the layout Eigen packs fastest from).
  void pack_band(std::size_t first, const T* band, std::size_t stride) {
    const std::size_t rows = std::min(mc_, rows_ - first);
#if FMVIZ_EIGEN_PREPACKED_GEMM
    const BandMapper lhs(band, static_cast<Index>(stride));
    const std::size_t bands = (rows_ + mc_ - 1) / mc_;
    std::size_t slice = 0;
    for (std::size_t k2 = 0; k2 < depth_; k2 += kc_, ++slice)
      PackLhs()(data_ + offsets_[slice * bands + first / mc_], lhs.getSubMapper(0, static_cast<Index>(k2)),
                static_cast<Index>(std::min(kc_, depth_ - k2)), static_cast<Index>(rows));
#else
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < depth_; ++c) data_[(first + r) * depth_ + c] = band[c * stride + r];
#endif
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t depth() const noexcept { return depth_; }
  std::size_t bytes() const noexcept { return size_ * sizeof(T); }

  /// Where entry (k, j) of a right operand (depth x cols, cols a multiple of column_group()) goes in the layout
  /// multiply() reads: Eigen's packed layout (depth slices of the kernel's depth, in each one column group after
  /// another, k by k), so the caller writes the operand once, in place, and no GEMM call packs it again.
  static std::size_t rhs_offset(std::size_t depth, std::size_t cols, std::size_t k, std::size_t j) noexcept {
#if FMVIZ_EIGEN_PREPACKED_GEMM
    constexpr std::size_t group = column_group();
    const std::size_t slice = depth_slice(depth), k2 = k / slice * slice, kc = std::min(slice, depth - k2);
    return k2 * cols + (j / group) * kc * group + (k - k2) * group + j % group;
#else
    (void)depth;
    return k * cols + j;  // row-major
#endif
  }

  /// res (rows x cols, column-major, column stride res_stride) = this * rhs, where rhs (depth x cols) was written
  /// at rhs_offset(depth(), cols, k, j). Reentrant.
  void multiply(const T* rhs, std::size_t cols, T* res, std::size_t res_stride) const {
#if FMVIZ_EIGEN_PREPACKED_GEMM
    if (res_stride == rows_) std::fill(res, res + rows_ * cols, T(0));  // the kernel adds to what res holds
    else for (std::size_t j = 0; j < cols; ++j) std::fill(res + j * res_stride, res + j * res_stride + rows_, T(0));
    const ResMapper res_map(res, static_cast<Index>(res_stride));
    std::size_t block = 0;
    for (std::size_t k2 = 0; k2 < depth_; k2 += kc_) {
      const auto kc = static_cast<Index>(std::min(kc_, depth_ - k2));
      for (std::size_t i2 = 0; i2 < rows_; i2 += mc_)
        Kernel()(res_map.getSubMapper(static_cast<Index>(i2), 0), data_ + offsets_[block++], rhs + k2 * cols,
                 static_cast<Index>(std::min(mc_, rows_ - i2)), kc, static_cast<Index>(cols), T(1));
    }
#else
    using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using ColMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
    const Eigen::Map<const RowMajor> lhs(data_, static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(depth_));
    const Eigen::Map<const RowMajor> r(rhs, static_cast<Eigen::Index>(depth_), static_cast<Eigen::Index>(cols));
    Eigen::Map<ColMajor, 0, Eigen::OuterStride<>> out(res, static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(cols),
                                                      Eigen::OuterStride<>(static_cast<Eigen::Index>(res_stride)));
    out.noalias() = lhs * r;
#endif
  }

 private:
  /// The depth the kernel takes at once (kc): a slice of the right operand stays in L1 per micro-panel.
  static constexpr std::size_t depth_slice(std::size_t depth) noexcept { return std::min<std::size_t>(depth, 256); }
  static std::size_t round_up(std::size_t n) { return (n + 15) / 16 * 16; }

  /// kc: a depth slice of the right operand stays in L1 per micro-panel; mc: a packed block of the weights
  /// (128 x 256 floats) stays in L2. Returns the packed size; `offsets` gets where each (slice, band) block starts.
  static std::size_t layout(std::size_t rows, std::size_t depth, std::size_t kc, std::size_t mc, std::vector<std::size_t>* offsets) {
#if FMVIZ_EIGEN_PREPACKED_GEMM
    std::size_t size = 0;
    for (std::size_t k2 = 0; k2 < depth; k2 += kc)
      for (std::size_t i2 = 0; i2 < rows; i2 += mc) {
        if (offsets) offsets->push_back(size);
        size += round_up(std::min(kc, depth - k2) * std::min(mc, rows - i2));  // blocks stay 64-byte aligned
      }
    return size;
#else
    (void)kc, (void)mc, (void)offsets;
    return rows * depth;
#endif
  }

#if FMVIZ_EIGEN_PREPACKED_GEMM
  using Index = Eigen::Index;
  using Traits = Eigen::internal::gebp_traits<T, T>;
  using BandMapper = Eigen::internal::const_blas_data_mapper<T, Index, Eigen::ColMajor>;
  using ResMapper = Eigen::internal::blas_data_mapper<T, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  using PackLhs = Eigen::internal::gemm_pack_lhs<T, Index, BandMapper, Traits::mr, Traits::LhsProgress,
                                                 typename Traits::LhsPacket4Packing, Eigen::ColMajor>;
  using Kernel = Eigen::internal::gebp_kernel<T, T, Index, ResMapper, Traits::mr, Traits::nr, false, false>;
#endif
  std::vector<std::size_t> offsets_;  // where each (depth slice, row band) block starts
  std::size_t rows_ = 0, depth_ = 0, kc_ = 0, mc_ = 0, size_ = 0;
  std::unique_ptr<T[], AlignedFree> owned_;  // empty when the matrix lives in borrowed storage
  T* data_ = nullptr;
};

}  // namespace detail
}  // namespace fmviz
