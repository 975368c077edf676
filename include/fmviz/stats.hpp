// Statistics of activations: value ranges (min and max of the finite values, or percentiles), one range over
// several layers, channel means; and how an activation's (1,C,H,W) or (C,H,W) shape is read.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "error.hpp"
#include "tensor.hpp"

namespace fmviz {

/// A range of values, lo to hi: what a picture maps to its colour map's two ends.
struct ValueRange {
  float lo = 0.0f, hi = 0.0f;
};

namespace detail {

inline void check_clip(double clip_percent) {
  if (!(clip_percent >= 0.0 && clip_percent < 50.0))
    throw Error({}, "clip_percent", "must be at least 0 and below 50, got " + std::to_string(clip_percent));
}

/// Percentile q (0..100) of the values, interpolated linearly between order statistics (numpy's default).
inline float percentile(std::vector<float>& v, double q) {
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  const double f = pos - static_cast<double>(i);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  const double a = v[i];
  if (f == 0.0 || i + 1 >= v.size()) return static_cast<float>(a);
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(i) + 1, v.end());
  return static_cast<float>(a + f * (b - a));
}

template <typename T>
struct Span {
  const T* data;
  std::size_t size;
};

/// Lowers lo and raises hi to the smallest and largest finite values of p[0, n). Sixteen independent
/// lanes without branches, so that the loop vectorises (|v| <= max is false for NaN and infinities).
template <typename T>
void finite_min_max(const T* p, std::size_t n, T& lo, T& hi) noexcept {
  constexpr std::size_t lanes = 16;
  const T largest = std::numeric_limits<T>::max();
  T l[lanes], h[lanes];
  for (std::size_t j = 0; j < lanes; ++j) {
    l[j] = lo;
    h[j] = hi;
  }
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes)
    for (std::size_t j = 0; j < lanes; ++j) {
      const T v = p[i + j];
      const bool finite = std::fabs(v) <= largest;
      l[j] = finite && v < l[j] ? v : l[j];
      h[j] = finite && v > h[j] ? v : h[j];
    }
  for (; i < n; ++i) {
    const T v = p[i];
    const bool finite = std::fabs(v) <= largest;
    l[0] = finite && v < l[0] ? v : l[0];
    h[0] = finite && v > h[0] ? v : h[0];
  }
  for (std::size_t j = 0; j < lanes; ++j) {
    lo = l[j] < lo ? l[j] : lo;
    hi = h[j] > hi ? h[j] : hi;
  }
}

/// Min and max of the finite values (NaN and infinities are ignored; none at all gives {0, 0}); with
/// clip_percent p > 0, the p-th and (100-p)-th percentiles instead.
template <typename T>
ValueRange range_of(const std::vector<Span<T>>& spans, double clip_percent) {
  check_clip(clip_percent);
  if (clip_percent == 0.0) {
    T lo = std::numeric_limits<T>::infinity(), hi = -lo;
    for (const Span<T>& s : spans) finite_min_max(s.data, s.size, lo, hi);
    if (lo > hi) return {};
    // Lanes may have met +0 and -0 in another order: the sequential answer is the first zero seen.
    if (lo == 0 || hi == 0)
      for (const Span<T>& s : spans) {
        const T* zero = std::find(s.data, s.data + s.size, T(0));
        if (zero != s.data + s.size) {
          if (lo == 0) lo = *zero;
          if (hi == 0) hi = *zero;
          break;
        }
      }
    return {static_cast<float>(lo), static_cast<float>(hi)};
  }
  std::vector<float> values;
  std::size_t total = 0;
  for (const Span<T>& s : spans) total += s.size;
  values.reserve(total);
  for (const Span<T>& s : spans)
    for (std::size_t i = 0; i < s.size; ++i)
      if (std::isfinite(s.data[i])) values.push_back(static_cast<float>(s.data[i]));
  if (values.empty()) return {};
  const float lo = percentile(values, clip_percent);
  const float hi = percentile(values, 100.0 - clip_percent);
  return {lo, hi};
}

/// The range centred on zero that holds `r`: [-m, m] with m = max(|lo|, |hi|).
inline ValueRange symmetric(ValueRange r) noexcept {
  const float m = std::max(std::fabs(r.lo), std::fabs(r.hi));
  return {-m, m};
}

struct Dims {
  std::size_t c, h, w;
};

template <typename T>
Dims activation_dims(const Tensor<T>& t, const char* what) {
  const Shape& s = t.shape();
  if (!((s.size() == 4 && s[0] == 1) || s.size() == 3) || t.size() == 0)
    throw Error({}, what, "expected a non-empty (1,C,H,W) or (C,H,W) activation, got shape " + shape_to_string(s));
  const std::size_t o = s.size() - 3;
  return {s[o], s[o + 1], s[o + 2]};
}

}  // namespace detail

/// The value range of all of `t`: min and max of its finite values, or with clip_percent p > 0 (below 50) the p-th
/// and (100-p)-th percentiles, so that a few extreme values do not flatten the rest.
template <typename T>
ValueRange value_range(const Tensor<T>& t, double clip_percent = 0.0) {
  return detail::range_of<T>({{t.data(), t.size()}}, clip_percent);
}

/// One value range over all the given activations (null pointers are skipped), as value_range: what a grid takes
/// as GridOptions::network_range to draw every layer on one scale. recorder.hpp has the overload for a recorder.
template <typename T>
ValueRange network_range(const std::vector<const Tensor<T>*>& activations, double clip_percent = 0.0) {
  std::vector<detail::Span<T>> spans;
  for (const Tensor<T>* t : activations)
    if (t) spans.push_back({t->data(), t->size()});
  return detail::range_of(spans, clip_percent);
}

/// The mean of each channel of a (1,C,H,W) or (C,H,W) activation.
template <typename T>
std::vector<double> channel_means(const Tensor<T>& activation) {
  const detail::Dims d = detail::activation_dims(activation, "activation");
  const std::size_t plane = d.h * d.w;
  std::vector<double> means(d.c);
  for (std::size_t c = 0; c < d.c; ++c) {
    const T* p = activation.data() + c * plane;
    double sum = 0.0;
    for (std::size_t i = 0; i < plane; ++i) sum += static_cast<double>(p[i]);
    means[c] = sum / static_cast<double>(plane);
  }
  return means;
}

}  // namespace fmviz
