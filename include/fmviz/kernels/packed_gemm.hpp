// A GEMM whose left operand (a layer's weights) is packed once, when the layer is built, then used by every call.
//
// Eigen's public product packs both operands on every call. For the small right operands a convolution at
// batch 1 produces (a 512 x 512 weight block against 16 to 64 tiles), that packing costs as much as the
// arithmetic. With Eigen 3.4 we keep Eigen's own packed layout of the weights and call its GEBP kernel
// directly; with any other Eigen version the public product is used (same results, slower).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "../detail/workspace.hpp"
#include "../tensor.hpp"

#if EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4
#define FMVIZ_EIGEN_PREPACKED_GEMM 1
#else
#define FMVIZ_EIGEN_PREPACKED_GEMM 0
#endif

namespace fmviz {
namespace detail {

/// An immutable rows x depth matrix (e.g. K x C weights), kept in the layout Eigen's GEMM kernel reads.
template <typename T>
class PackedLhs {
 public:
  PackedLhs() = default;

  /// src: rows x depth, row-major.
  PackedLhs(const T* src, std::size_t rows, std::size_t depth) : rows_(rows), depth_(depth) {
    kc_ = std::min<std::size_t>(depth, 256);  // a depth slice of the right operand stays in L1 per micro-panel
    mc_ = std::min<std::size_t>(rows, 128);   // a packed block of the weights (128 x 256 floats) stays in L2
#if FMVIZ_EIGEN_PREPACKED_GEMM
    for (std::size_t k2 = 0; k2 < depth_; k2 += kc_)
      for (std::size_t i2 = 0; i2 < rows_; i2 += mc_) {
        offsets_.push_back(size_);
        size_ += round_up(std::min(kc_, depth_ - k2) * std::min(mc_, rows_ - i2));  // blocks stay 64-byte aligned
      }
    data_ = aligned_array<T>(size_);
    const LhsMapper lhs(src, static_cast<Index>(depth_));
    std::size_t block = 0;
    for (std::size_t k2 = 0; k2 < depth_; k2 += kc_)
      for (std::size_t i2 = 0; i2 < rows_; i2 += mc_)
        PackLhs()(data_.get() + offsets_[block++], lhs.getSubMapper(static_cast<Index>(i2), static_cast<Index>(k2)),
                  static_cast<Index>(std::min(kc_, depth_ - k2)), static_cast<Index>(std::min(mc_, rows_ - i2)));
#else
    size_ = rows_ * depth_;
    data_ = aligned_array<T>(size_);
    std::copy(src, src + size_, data_.get());
#endif
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t depth() const noexcept { return depth_; }
  std::size_t bytes() const noexcept { return size_ * sizeof(T); }

  /// res (rows x cols, column-major, column stride res_stride) = this * rhs, where rhs is depth x cols,
  /// row-major with row stride rhs_stride. Reentrant: the right operand is packed into the calling thread's scratch.
  void multiply(const T* rhs, std::size_t cols, std::size_t rhs_stride, T* res, std::size_t res_stride) const {
#if FMVIZ_EIGEN_PREPACKED_GEMM
    struct RhsPanelTag {};
    for (std::size_t j = 0; j < cols; ++j) std::fill(res + j * res_stride, res + j * res_stride + rows_, T(0));
    T* block_b = thread_workspace<T, RhsPanelTag>(kc_ * cols);
    const RhsMapper rhs_map(rhs, static_cast<Index>(rhs_stride));
    const ResMapper res_map(res, static_cast<Index>(res_stride));
    std::size_t block = 0;
    for (std::size_t k2 = 0; k2 < depth_; k2 += kc_) {
      const auto kc = static_cast<Index>(std::min(kc_, depth_ - k2));
      PackRhs()(block_b, rhs_map.getSubMapper(static_cast<Index>(k2), 0), kc, static_cast<Index>(cols));
      for (std::size_t i2 = 0; i2 < rows_; i2 += mc_)
        Kernel()(res_map.getSubMapper(static_cast<Index>(i2), 0), data_.get() + offsets_[block++], block_b,
                 static_cast<Index>(std::min(mc_, rows_ - i2)), kc, static_cast<Index>(cols), T(1));
    }
#else
    using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using ColMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
    const Eigen::Map<const RowMajor> lhs(data_.get(), static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(depth_));
    const Eigen::Map<const RowMajor, 0, Eigen::OuterStride<>> r(rhs, static_cast<Eigen::Index>(depth_), static_cast<Eigen::Index>(cols),
                                                                Eigen::OuterStride<>(static_cast<Eigen::Index>(rhs_stride)));
    Eigen::Map<ColMajor, 0, Eigen::OuterStride<>> out(res, static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(cols),
                                                      Eigen::OuterStride<>(static_cast<Eigen::Index>(res_stride)));
    out.noalias() = lhs * r;
#endif
  }

 private:
  static std::size_t round_up(std::size_t n) { return (n + 15) / 16 * 16; }

#if FMVIZ_EIGEN_PREPACKED_GEMM
  using Index = Eigen::Index;
  using Traits = Eigen::internal::gebp_traits<T, T>;
  using LhsMapper = Eigen::internal::const_blas_data_mapper<T, Index, Eigen::RowMajor>;
  using RhsMapper = Eigen::internal::const_blas_data_mapper<T, Index, Eigen::RowMajor>;
  using ResMapper = Eigen::internal::blas_data_mapper<T, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  using PackLhs = Eigen::internal::gemm_pack_lhs<T, Index, LhsMapper, Traits::mr, Traits::LhsProgress,
                                                 typename Traits::LhsPacket4Packing, Eigen::RowMajor>;
  using PackRhs = Eigen::internal::gemm_pack_rhs<T, Index, RhsMapper, Traits::nr, Eigen::RowMajor>;
  using Kernel = Eigen::internal::gebp_kernel<T, T, Index, ResMapper, Traits::mr, Traits::nr, false, false>;
  std::vector<std::size_t> offsets_;  // where each (depth slice, row block) starts
#endif
  std::size_t rows_ = 0, depth_ = 0, kc_ = 0, mc_ = 0, size_ = 0;
  std::unique_ptr<T[], AlignedFree> data_;
};

}  // namespace detail
}  // namespace fmviz
