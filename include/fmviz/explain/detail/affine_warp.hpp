// AffineWarp: one bilinear resampling of an image plane through an affine map, and its exact adjoint. Lucid's random
// transforms (pad, jitter, scale, rotate, jitter) are all affine, so their chain is one map: one pass forward instead
// of five, one interpolation instead of three (each of which would blur the image a little more), and one adjoint.
// Outside the source the plane is a constant (the padding's grey), which gets no gradient.
#pragma once

#include <cmath>
#include <cstddef>

namespace fmviz {
namespace detail {

struct AffineWarp {
  /// Output pixel (x, y) samples the source at (m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]); pixel centres are
  /// at whole coordinates.
  double m[6] = {1, 0, 0, 0, 1, 0};
  std::size_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;

  /// out (out_h x out_w) from in (in_h x in_w); samples whose neighbours fall outside the source take `fill` there.
  template <typename T>
  void apply(const T* in, T* out, T fill) const {
    visit<T>([&](std::size_t o, const std::ptrdiff_t* idx, const T* w) {
      T v = 0;
      for (int k = 0; k < 4; ++k) v += w[k] * (idx[k] >= 0 ? in[idx[k]] : fill);
      out[o] = v;
    });
  }

  /// The adjoint of apply's linear part: grad_in (in_h x in_w, overwritten) from grad_out, each output's gradient
  /// scattered to the source pixels it was read from, by the same weights.
  template <typename T>
  void adjoint(const T* grad_out, T* grad_in) const {
    for (std::size_t i = 0; i < in_h * in_w; ++i) grad_in[i] = T(0);
    visit<T>([&](std::size_t o, const std::ptrdiff_t* idx, const T* w) {
      const T g = grad_out[o];
      for (int k = 0; k < 4; ++k)
        if (idx[k] >= 0) grad_in[idx[k]] += w[k] * g;
    });
  }

 private:
  /// f(output index, the 4 source indices (-1: outside), their weights), in output order: apply and adjoint see the
  /// very same samples.
  template <typename T, typename F>
  void visit(F&& f) const {
    const auto iw = static_cast<std::ptrdiff_t>(in_w), ih = static_cast<std::ptrdiff_t>(in_h);
    for (std::size_t y = 0; y < out_h; ++y)
      for (std::size_t x = 0; x < out_w; ++x) {
        const double dx = static_cast<double>(x), dy = static_cast<double>(y);
        const double sx = m[0] * dx + m[1] * dy + m[2], sy = m[3] * dx + m[4] * dy + m[5];
        std::ptrdiff_t idx[4] = {-1, -1, -1, -1};
        T w[4] = {0, 0, 0, 0};
        if (sx > -1.0 && sy > -1.0 && sx < static_cast<double>(in_w) && sy < static_cast<double>(in_h)) {
          const double fx = std::floor(sx), fy = std::floor(sy);
          const double ax = sx - fx, ay = sy - fy;
          const auto x0 = static_cast<std::ptrdiff_t>(fx), y0 = static_cast<std::ptrdiff_t>(fy);
          const double wd[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
          const std::ptrdiff_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
          for (int k = 0; k < 4; ++k) {
            w[k] = static_cast<T>(wd[k]);
            if (xs[k] >= 0 && xs[k] < iw && ys[k] >= 0 && ys[k] < ih) idx[k] = ys[k] * iw + xs[k];
          }
        } else {
          w[0] = T(1);  // wholly outside: the fill value
        }
        f(y * out_w + x, idx, w);
      }
  }
};

}  // namespace detail
}  // namespace fmviz
