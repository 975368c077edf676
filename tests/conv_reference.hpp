// Test helpers for convolutions: seeded random tensors, a direct convolution written independently of the
// library (accumulating in double), a relative difference, and a scoped thread count.
#pragma once

#include <fmviz/detail/parallel.hpp>
#include <fmviz/tensor.hpp>

#include "catch.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>

namespace fmviz_test {

template <typename T = float>
fmviz::Tensor<T> random_tensor(fmviz::Shape shape, std::uint32_t seed, T lo = T(-1), T hi = T(1)) {
  fmviz::Tensor<T> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<T> dist(lo, hi);
  for (T& v : t) v = dist(rng);
  return t;
}

/// Direct convolution: every output pixel sums its window, in double.
template <typename T>
fmviz::Tensor<T> naive_conv(const fmviz::Tensor<T>& x, const fmviz::Tensor<T>& w, const fmviz::Tensor<T>& b, std::size_t sh,
                            std::size_t sw, std::size_t ph, std::size_t pw) {
  const long N = static_cast<long>(x.dim(0)), C = static_cast<long>(x.dim(1)), H = static_cast<long>(x.dim(2)),
             W = static_cast<long>(x.dim(3));
  const long O = static_cast<long>(w.dim(0)), KH = static_cast<long>(w.dim(2)), KW = static_cast<long>(w.dim(3));
  const long OH = (H + 2 * static_cast<long>(ph) - KH) / static_cast<long>(sh) + 1;
  const long OW = (W + 2 * static_cast<long>(pw) - KW) / static_cast<long>(sw) + 1;
  fmviz::Tensor<T> y({static_cast<std::size_t>(N), static_cast<std::size_t>(O), static_cast<std::size_t>(OH),
                      static_cast<std::size_t>(OW)});
  for (long n = 0; n < N; ++n)
    for (long o = 0; o < O; ++o)
      for (long oy = 0; oy < OH; ++oy)
        for (long ox = 0; ox < OW; ++ox) {
          double acc = b[static_cast<std::size_t>(o)];
          for (long c = 0; c < C; ++c)
            for (long ky = 0; ky < KH; ++ky)
              for (long kx = 0; kx < KW; ++kx) {
                const long iy = oy * static_cast<long>(sh) + ky - static_cast<long>(ph);
                const long ix = ox * static_cast<long>(sw) + kx - static_cast<long>(pw);
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += double(x[static_cast<std::size_t>(((n * C + c) * H + iy) * W + ix)]) *
                       double(w[static_cast<std::size_t>(((o * C + c) * KH + ky) * KW + kx)]);
              }
          y[static_cast<std::size_t>(((n * O + o) * OH + oy) * OW + ox)] = static_cast<T>(acc);
        }
  return y;
}

/// Largest |a - b| relative to max(1, |b|); shapes must match.
template <typename T>
double max_rel_diff(const fmviz::Tensor<T>& a, const fmviz::Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - double(b[i])) / std::max(1.0, std::abs(double(b[i]))));
  return worst;
}

/// max |a - b| / max |b|: the per-layer accuracy figure the parity tests and the benchmarks quote.
template <typename T>
double max_err_over_max_ref(const fmviz::Tensor<T>& a, const fmviz::Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  double err = 0, ref = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::abs(double(a[i]) - double(b[i])));
    ref = std::max(ref, std::abs(double(b[i])));
  }
  return ref > 0 ? err / ref : err;
}

/// Sets the fmviz thread count for one scope and restores the previous one.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(fmviz::thread_count()) { fmviz::set_thread_count(n); }
  ~ThreadCount() { fmviz::set_thread_count(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

}  // namespace fmviz_test
