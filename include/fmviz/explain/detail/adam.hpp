// Adam (Kingma and Ba, 2015) as PyTorch writes it, the optimiser Lucid and Lucent use: per-parameter steps scaled by
// running estimates of the gradient's mean and variance, so the steps' size does not depend on the gradient's scale,
// which differs by orders of magnitude between layers and between the Fourier image's frequencies.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fmviz {
namespace detail {

template <typename T>
class Adam {
 public:
  Adam() = default;
  Adam(std::size_t parameters, double learning_rate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
      : m_(parameters, T(0)), v_(parameters, T(0)), lr_(learning_rate), beta1_(beta1), beta2_(beta2), eps_(epsilon) {}

  /// One step down the gradient (a loss is minimised; pass the negated gradient to climb).
  void step(T* params, const T* grad) {
    ++t_;
    const double c1 = 1.0 - std::pow(beta1_, static_cast<double>(t_));
    const double c2 = 1.0 - std::pow(beta2_, static_cast<double>(t_));
    const T b1 = static_cast<T>(beta1_), b2 = static_cast<T>(beta2_);
    const T lr = static_cast<T>(lr_ / c1), root_c2 = static_cast<T>(std::sqrt(c2)), eps = static_cast<T>(eps_);
    for (std::size_t i = 0; i < m_.size(); ++i) {
      const T g = grad[i];
      m_[i] = b1 * m_[i] + (T(1) - b1) * g;
      v_[i] = b2 * v_[i] + (T(1) - b2) * g * g;
      params[i] -= lr * m_[i] / (std::sqrt(v_[i]) / root_c2 + eps);
    }
  }

  std::uint64_t steps() const noexcept { return t_; }

 private:
  std::vector<T> m_, v_;
  double lr_ = 0.05, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8;
  std::uint64_t t_ = 0;
};

}  // namespace detail
}  // namespace fmviz
