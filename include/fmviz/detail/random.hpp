// Random numbers that are the same on every platform: std::mt19937_64's output is fixed by the standard, but
// the std distributions are not, so the draws below are made from its raw bits.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>

namespace fmviz::detail {

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  /// Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = 0;
    while (u == 0) u = uniform();  // log(0) is not a number
    const double radius = std::sqrt(-2.0 * std::log(u)), angle = 6.283185307179586 * uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  /// Uniform in {0, ..., n - 1} (n > 0), without modulo bias.
  std::size_t below(std::size_t n) {
    const std::uint64_t range = static_cast<std::uint64_t>(n), limit = UINT64_MAX - UINT64_MAX % range;
    std::uint64_t v = engine_();
    while (v >= limit) v = engine_();
    return static_cast<std::size_t>(v % range);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace fmviz::detail
