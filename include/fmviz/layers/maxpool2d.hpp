// MaxPool2d with PyTorch's output-size rules (padding, ceil_mode).
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>

#include "../detail/parallel.hpp"
#include "../error.hpp"
#include "../tensor.hpp"

namespace fmviz {

struct MaxPool2d {
  std::size_t kernel = 2;
  std::size_t stride = 2;
  std::size_t padding = 0;
  bool ceil_mode = false;

  MaxPool2d() = default;
  MaxPool2d(std::size_t kernel_, std::size_t stride_, std::size_t padding_ = 0, bool ceil_mode_ = false)
      : kernel(kernel_), stride(stride_), padding(padding_), ceil_mode(ceil_mode_) {
    if (kernel == 0 || stride == 0) throw Error({}, "MaxPool2d", "kernel and stride must be at least 1");
    if (2 * padding > kernel)
      throw Error({}, "MaxPool2d.padding", "must be at most half the kernel (" + std::to_string(padding) + " > " + std::to_string(kernel) + "/2)");
  }

  /// PyTorch: floor or ceil of (in + 2p - k)/s, plus one; in ceil mode the last window must start inside the input or left padding.
  std::size_t output_size(std::size_t in) const {
    const std::size_t padded = in + 2 * padding;
    if (padded < kernel)
      throw Error({}, "MaxPool2d.input", "size " + std::to_string(in) + " is smaller than the kernel " + std::to_string(kernel));
    const std::size_t span = padded - kernel;
    std::size_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + padding) --out;
    return out;
  }

  /// The input rows (or columns) [first, second) of output row (or column) o: the window clipped to the input,
  /// so padding never wins a max.
  std::pair<std::size_t, std::size_t> window(std::size_t o, std::size_t in) const {
    return {std::max(o * stride, padding) - padding, std::min(o * stride + kernel - padding, in)};
  }

  Shape output_shape(const Shape& in) const {
    if (in.size() != 4) throw Error({}, "MaxPool2d.input", "expected (N,C,H,W), got " + shape_to_string(in));
    return {in[0], in[1], output_size(in[2]), output_size(in[3])};
  }

  template <typename T>
  Tensor<T> forward(const Tensor<T>& x) const {
    const Shape out_shape = output_shape(x.shape());
    Tensor<T> y(out_shape);
    const std::size_t ih = x.shape()[2], iw = x.shape()[3], oh = out_shape[2], ow = out_shape[3];
    const std::size_t planes = out_shape[0] * out_shape[1];
    // VGG's pools: 2x2 windows, stride 2, all inside the input. The common case takes a loop the compiler
    // vectorises (the max of two rows, then of neighbouring pairs); it picks the same values as the general one.
    const bool halves = kernel == 2 && stride == 2 && padding == 0 && 2 * oh <= ih && 2 * ow <= iw;
    detail::parallel_for(planes, [&](std::size_t p) {
      const T* in = x.data() + p * ih * iw;
      T* out = y.data() + p * oh * ow;
      if (halves) {
        for (std::size_t oy = 0; oy < oh; ++oy) {
          const T* top = in + 2 * oy * iw;
          const T* bottom = top + iw;
          T* row = out + oy * ow;
          for (std::size_t ox = 0; ox < ow; ++ox) {
            const T m = std::max(std::max(-std::numeric_limits<T>::infinity(), top[2 * ox]), top[2 * ox + 1]);
            row[ox] = std::max(std::max(m, bottom[2 * ox]), bottom[2 * ox + 1]);  // the general loop's order (NaN too)
          }
        }
        return;
      }
      for (std::size_t oy = 0; oy < oh; ++oy) {
        const auto [y0, y1] = window(oy, ih);
        for (std::size_t ox = 0; ox < ow; ++ox) {
          const auto [x0, x1] = window(ox, iw);
          T m = -std::numeric_limits<T>::infinity();
          for (std::size_t yy = y0; yy < y1; ++yy)
            for (std::size_t xx = x0; xx < x1; ++xx) m = std::max(m, in[yy * iw + xx]);
          out[oy * ow + ox] = m;
        }
      }
    }, x.size() > 4096);
    return y;
  }

  /// The input's gradient from the output's: each output's gradient goes to the position its max came from,
  /// the first in row-major order among equal values (PyTorch's choice, and the forward's); overlapping
  /// windows add up.
  template <typename T>
  Tensor<T> backward(const Tensor<T>& input, const Tensor<T>& /*output*/, const Tensor<T>& grad) const {
    const Shape out_shape = output_shape(input.shape());
    if (grad.shape() != out_shape)
      throw Error({}, "MaxPool2d.grad", "expected shape " + shape_to_string(out_shape) + ", got " + shape_to_string(grad.shape()));
    Tensor<T> gi = Tensor<T>::zeros(input.shape());
    const std::size_t ih = input.shape()[2], iw = input.shape()[3], oh = out_shape[2], ow = out_shape[3];
    detail::parallel_for(out_shape[0] * out_shape[1], [&](std::size_t p) {  // planes are independent
      const T* in = input.data() + p * ih * iw;
      const T* g = grad.data() + p * oh * ow;
      T* out = gi.data() + p * ih * iw;
      for (std::size_t oy = 0; oy < oh; ++oy) {
        const auto [y0, y1] = window(oy, ih);
        for (std::size_t ox = 0; ox < ow; ++ox) {
          const auto [x0, x1] = window(ox, iw);
          T m = -std::numeric_limits<T>::infinity();
          std::size_t at = y0 * iw + x0;
          for (std::size_t yy = y0; yy < y1; ++yy)
            for (std::size_t xx = x0; xx < x1; ++xx)
              if (m < in[yy * iw + xx]) {  // strictly greater: a tie keeps the first
                m = in[yy * iw + xx];
                at = yy * iw + xx;
              }
          out[at] += g[oy * ow + ox];
        }
      }
    }, input.size() > 4096);
    return gi;
  }
};

}  // namespace fmviz
