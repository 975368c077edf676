// AdaptiveAvgPool2d: PyTorch's adaptive average pooling to a fixed output size.
#pragma once

#include <cstddef>

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
        const std::size_t y0 = oy * ih / out_h, y1 = ((oy + 1) * ih + out_h - 1) / out_h;
        for (std::size_t ox = 0; ox < out_w; ++ox) {
          const std::size_t x0 = ox * iw / out_w, x1 = ((ox + 1) * iw + out_w - 1) / out_w;
          T sum = 0;
          for (std::size_t yy = y0; yy < y1; ++yy)
            for (std::size_t xx = x0; xx < x1; ++xx) sum += in[yy * iw + xx];
          out[oy * out_w + ox] = sum / static_cast<T>((y1 - y0) * (x1 - x0));
        }
      }
    }, x.size() > 4096);
    return y;
  }
};

}  // namespace fmviz
