// The decision: top_k's order and softmax probabilities, and the ImageNet class names.
#include <fmviz/classify.hpp>

#include "test_support.hpp"

#include <cmath>

using fmviz_test::error_of;

TEST_CASE("top_k: highest logits first, softmax probabilities, ties by index", "[classify]") {
  fmviz::Tensor<float> logits({2, 5});
  const float values[] = {1, 3, 2, 3, -1, /* second image */ 0, 0, 0, 0, 10};
  std::copy(std::begin(values), std::end(values), logits.begin());
  const auto best = fmviz::top_k(logits, 3);
  REQUIRE(best.size() == 3);
  CHECK(best[0].index == 1);  // 3 and 3: the lower index first
  CHECK(best[1].index == 3);
  CHECK(best[2].index == 2);
  const double sum = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0) + std::exp(-1.0);
  CHECK(best[0].probability == Approx(std::exp(3.0) / sum).epsilon(1e-12));
  CHECK(best[2].probability == Approx(std::exp(2.0) / sum).epsilon(1e-12));
  CHECK(best[0].logit == 3.0f);
  const auto second = fmviz::top_k(logits, 1, 1);
  CHECK(second[0].index == 4);
  CHECK(second[0].probability == Approx(std::exp(10.0) / (4 + std::exp(10.0))).epsilon(1e-12));
  // Huge logits do not overflow: probabilities are computed from the maximum down.
  fmviz::Tensor<float> big({3});
  big[0] = 1e30f;
  big[1] = 1e30f;
  big[2] = 0;
  CHECK(fmviz::top_k(big, 2)[1].probability == Approx(0.5));
}

TEST_CASE("top_k: bad requests name what is wrong", "[classify]") {
  fmviz::Tensor<float> logits({1, 4});
  CHECK(error_of([&] { fmviz::top_k(logits, 0); })->field() == "top_k");
  CHECK(error_of([&] { fmviz::top_k(logits, 5); })->field() == "top_k");
  CHECK(error_of([&] { fmviz::top_k(logits, 1, 1); })->field() == "logits");
  CHECK(error_of([&] { fmviz::top_k(fmviz::Tensor<float>({1, 2, 2}), 1); })->field() == "logits");
}

TEST_CASE("ImageNet class names in torchvision's order", "[classify]") {
  CHECK(fmviz::imagenet_class_name(0) == "tench");
  CHECK(fmviz::imagenet_class_name(403) == "aircraft carrier");
  CHECK(fmviz::imagenet_class_name(999) == "toilet tissue");
  CHECK(fmviz::imagenet_class_name(1000) == "class 1000");
}
