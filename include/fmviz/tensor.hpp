// Tensor<T>: a dense, contiguous, 64-byte aligned array in row-major (NCHW) order.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "detail/tensor_memory.hpp"
#include "error.hpp"

namespace fmviz {

using Shape = std::vector<std::size_t>;

inline std::size_t shape_size(const Shape& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

inline std::string shape_to_string(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + ")";
}

/// A dense tensor that owns its elements. Layout is row-major over `shape()`,
/// so a 4-d tensor is NCHW. Copying copies the data; moving is free.
template <typename T>
class Tensor {
 public:
  using value_type = T;
  using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MatrixMap = Eigen::Map<RowMajorMatrix, Eigen::Aligned64>;
  using ConstMatrixMap = Eigen::Map<const RowMajorMatrix, Eigen::Aligned64>;
  using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;
  using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;

  Tensor() = default;

  /// Uninitialised storage of the given shape (every layer overwrites its output).
  explicit Tensor(Shape shape) : shape_(std::move(shape)), size_(shape_size(shape_)), data_(detail::aligned_array<T>(size_)) {}
  Tensor(std::initializer_list<std::size_t> shape) : Tensor(Shape(shape)) {}

  static Tensor zeros(Shape shape) {
    Tensor t(std::move(shape));
    t.fill(T(0));
    return t;
  }

  Tensor(const Tensor& other)
      : shape_(other.shape_), size_(other.size_), data_(detail::aligned_array<T>(size_, detail::BlockFit::tight)) {
    if (size_) std::memcpy(data_.get(), other.data_.get(), size_ * sizeof(T));
  }
  Tensor& operator=(const Tensor& other) {
    if (this != &other) *this = Tensor(other);
    return *this;
  }
  Tensor(Tensor&& other) noexcept
      : shape_(std::move(other.shape_)), size_(std::exchange(other.size_, 0)), data_(std::move(other.data_)) {
    other.shape_.clear();
  }
  Tensor& operator=(Tensor&& other) noexcept {
    if (this == &other) return *this;
    shape_ = std::move(other.shape_);
    other.shape_.clear();
    size_ = std::exchange(other.size_, 0);
    data_ = std::move(other.data_);
    return *this;
  }

  const Shape& shape() const noexcept { return shape_; }
  std::size_t rank() const noexcept { return shape_.size(); }
  std::size_t dim(std::size_t i) const {
    if (i >= shape_.size()) throw Error({}, "dim", "axis " + std::to_string(i) + " out of range for shape " + shape_to_string(shape_));
    return shape_[i];
  }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + size_; }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + size_; }

  /// Flat element access; checked by assert in debug builds.
  T& operator[](std::size_t i) noexcept { assert(i < size_); return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { assert(i < size_); return data_[i]; }

  /// NCHW element access; checked by assert in debug builds.
  T& operator()(std::size_t n, std::size_t c, std::size_t h, std::size_t w) noexcept { return data_[offset(n, c, h, w)]; }
  const T& operator()(std::size_t n, std::size_t c, std::size_t h, std::size_t w) const noexcept { return data_[offset(n, c, h, w)]; }

  /// Always-checked NCHW access that throws fmviz::Error.
  const T& at(std::size_t n, std::size_t c, std::size_t h, std::size_t w) const {
    if (rank() != 4 || n >= shape_[0] || c >= shape_[1] || h >= shape_[2] || w >= shape_[3])
      throw Error({}, "at", "index (" + std::to_string(n) + "," + std::to_string(c) + "," + std::to_string(h) + "," +
                                std::to_string(w) + ") out of range for shape " + shape_to_string(shape_));
    return data_[offset(n, c, h, w)];
  }

  void fill(T value) noexcept { std::fill(begin(), end(), value); }

  /// Same elements, new shape of equal size.
  Tensor reshaped(Shape shape) && {
    if (shape_size(shape) != size_)
      throw Error({}, "reshape", "cannot view " + shape_to_string(shape_) + " as " + shape_to_string(shape));
    shape_ = std::move(shape);
    return std::move(*this);
  }

  /// The whole tensor as a column vector (no copy).
  VectorMap vector() noexcept { return VectorMap(data(), static_cast<Eigen::Index>(size_)); }
  ConstVectorMap vector() const noexcept { return ConstVectorMap(data(), static_cast<Eigen::Index>(size_)); }

  /// The tensor as a rows x cols row-major matrix (no copy); rows*cols must equal size().
  MatrixMap matrix(std::size_t rows, std::size_t cols) {
    check_matrix(rows, cols);
    return MatrixMap(data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  }
  ConstMatrixMap matrix(std::size_t rows, std::size_t cols) const {
    check_matrix(rows, cols);
    return ConstMatrixMap(data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  }

  /// Pointer to the H*W plane of image n, channel c of a 4-d tensor.
  const T* channel(std::size_t n, std::size_t c) const noexcept { return data() + offset(n, c, 0, 0); }
  T* channel(std::size_t n, std::size_t c) noexcept { return data() + offset(n, c, 0, 0); }

  /// Channel (n, c) of a 4-d tensor as an H x W row-major matrix (no copy).
  Eigen::Map<const RowMajorMatrix> channel_matrix(std::size_t n, std::size_t c) const {
    return Eigen::Map<const RowMajorMatrix>(channel(n, c), static_cast<Eigen::Index>(shape_[2]), static_cast<Eigen::Index>(shape_[3]));
  }

 private:
  std::size_t offset(std::size_t n, std::size_t c, std::size_t h, std::size_t w) const noexcept {
    assert(rank() == 4 && n < shape_[0] && c < shape_[1] && h < shape_[2] && w < shape_[3]);
    return ((n * shape_[1] + c) * shape_[2] + h) * shape_[3] + w;
  }
  void check_matrix(std::size_t rows, std::size_t cols) const {
    if (rows * cols != size_)
      throw Error({}, "matrix", std::to_string(rows) + "x" + std::to_string(cols) + " view of a tensor of shape " + shape_to_string(shape_));
  }

  Shape shape_;
  std::size_t size_ = 0;
  std::unique_ptr<T[], detail::AlignedFree> data_;
};

/// Item n of a batch (N, ...) as a batch of one (1, ...): a copy.
template <typename T>
Tensor<T> batch_item(const Tensor<T>& batch, std::size_t n) {
  if (batch.rank() == 0 || n >= batch.dim(0))
    throw Error({}, "batch_item", "no item " + std::to_string(n) + " in a batch of shape " + shape_to_string(batch.shape()));
  Shape shape = batch.shape();
  shape[0] = 1;
  Tensor<T> item(shape);
  if (item.size()) std::memcpy(item.data(), batch.data() + n * item.size(), item.size() * sizeof(T));
  return item;
}

/// The tensors (1, ...) of equal shape stacked into one batch (N, ...): a copy.
template <typename T>
Tensor<T> stack_batch(const std::vector<Tensor<T>>& items) {
  if (items.empty()) throw Error({}, "stack_batch", "no tensors to stack");
  Shape shape = items.front().shape();
  if (shape.empty() || shape[0] != 1) throw Error({}, "stack_batch", "expects (1, ...) tensors, got " + shape_to_string(shape));
  for (const Tensor<T>& t : items)
    if (t.shape() != items.front().shape())
      throw Error({}, "stack_batch", "shapes differ: " + shape_to_string(items.front().shape()) + " and " + shape_to_string(t.shape()));
  shape[0] = items.size();
  Tensor<T> batch(shape);
  const std::size_t each = items.front().size();
  for (std::size_t n = 0; n < items.size(); ++n)
    if (each) std::memcpy(batch.data() + n * each, items[n].data(), each * sizeof(T));
  return batch;
}

}  // namespace fmviz
