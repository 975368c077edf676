#include <fmviz/vgg.hpp>

#include "catch.hpp"

TEST_CASE("Conv2d smoke") {
  fmviz::Tensor<float> w({1, 1, 3, 3});
  w.fill(1.f);
  fmviz::Tensor<float> b({1});
  b[0] = 0.5f;
  fmviz::Conv2d<float> conv(w, b, 1, 1);
  fmviz::Tensor<float> x({1, 1, 4, 5});
  x.fill(1.f);
  auto y = conv.forward(x);
  REQUIRE(y.shape() == fmviz::Shape{1, 1, 4, 5});
  CHECK(y(0, 0, 0, 0) == Approx(4.5f));
  CHECK(y(0, 0, 1, 1) == Approx(9.5f));
}
