// AdaptiveAvgPool2d: PyTorch's adaptive average pooling to a fixed output size.
#pragma once

#include <cstddef>
#include <utility>

#include "../detail/parallel.hpp"
#include "../error.hpp"
#include "../tensor.hpp"

namespace fmviz {

struct AdaptiveAvgPool2d {
  std::size_t out_h = 7, out_w = 7;

  AdaptiveAvgPool2d() = default;
  AdaptiveAvgPool2d(std::size_t h, std::size_t w) : out_h(h), out_w(w) {
    if (h == 0 || w == 0) throw Error({}, "AdaptiveAvgPool2d", "output size must be at least 1x1");
  }

  /// PyTorch's window of output o of `out` over `in`: [floor(o in / out), ceil((o + 1) in / out)).
  static std::pair<std::size_t, std::size_t> window(std::size_t o, std::size_t in, std::size_t out) {
    return {o * in / out, ((o + 1) * in + out - 1) / out};
  }

  Shape output_shape(const Shape& in) const {
    if (in.size() != 4 || in[2] == 0 || in[3] == 0)
      throw Error({}, "AdaptiveAvgPool2d.input", "expected non-empty (N,C,H,W), got " + shape_to_string(in));
    return {in[0], in[1], out_h, out_w};
  }

  template <typename T>
  Tensor<T> forward(const Tensor<T>& x) const {
    const Shape out_shape = output_shape(x.shape());
    Tensor<T> y(out_shape);
    const std::size_t ih = x.shape()[2], iw = x.shape()[3];
    detail::parallel_for(out_shape[0] * out_shape[1], [&](std::size_t p) {
      const T* in = x.data() + p * ih * iw;
      T* out = y.data() + p * out_h * out_w;
      for (std::size_t oy = 0; oy < out_h; ++oy) {
        const auto [y0, y1] = window(oy, ih, out_h);
        for (std::size_t ox = 0; ox < out_w; ++ox) {
          const auto [x0, x1] = window(ox, iw, out_w);
          T sum = 0;
          for (std::size_t yy = y0; yy < y1; ++yy)
            for (std::size_t xx = x0; xx < x1; ++xx) sum += in[yy * iw + xx];
          out[oy * out_w + ox] = sum / static_cast<T>((y1 - y0) * (x1 - x0));
        }
      }
    }, x.size() > 4096);
    return y;
  }

  /// The input's gradient from the output's: each output's gradient shared equally over its window.
  template <typename T>
  Tensor<T> backward(const Tensor<T>& input, const Tensor<T>& /*output*/, const Tensor<T>& grad) const {
    const Shape out_shape = output_shape(input.shape());
    if (grad.shape() != out_shape)
      throw Error({}, "AdaptiveAvgPool2d.grad", "expected shape " + shape_to_string(out_shape) + ", got " + shape_to_string(grad.shape()));
    Tensor<T> gi = Tensor<T>::zeros(input.shape());
    const std::size_t ih = input.shape()[2], iw = input.shape()[3];
    detail::parallel_for(out_shape[0] * out_shape[1], [&](std::size_t p) {
      const T* g = grad.data() + p * out_h * out_w;
      T* out = gi.data() + p * ih * iw;
      for (std::size_t oy = 0; oy < out_h; ++oy) {
        const auto [y0, y1] = window(oy, ih, out_h);
        for (std::size_t ox = 0; ox < out_w; ++ox) {
          const auto [x0, x1] = window(ox, iw, out_w);
          const T share = g[oy * out_w + ox] / static_cast<T>((y1 - y0) * (x1 - x0));
          for (std::size_t yy = y0; yy < y1; ++yy)
            for (std::size_t xx = x0; xx < x1; ++xx) out[yy * iw + xx] += share;
        }
      }
    }, input.size() > 4096);
    return gi;
  }
};

}  // namespace fmviz
