// Unit tests for the layers: Conv2d (against a naive direct convolution and hand-worked cases,
// including the tiled im2col path), ReLU, MaxPool2d (PyTorch's size rules), AdaptiveAvgPool2d,
// Linear, Flatten and Dropout.
#include <fmviz/layers/adaptive_avgpool2d.hpp>
#include <fmviz/layers/conv2d.hpp>
#include <fmviz/layers/linear.hpp>
#include <fmviz/layers/maxpool2d.hpp>
#include <fmviz/layers/relu.hpp>

#include "conv_reference.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

using fmviz::Shape;
using fmviz::Tensor;
using fmviz_test::contains;
using fmviz_test::error_of;
using fmviz_test::max_rel_diff;
using fmviz_test::naive_conv;
using fmviz_test::random_tensor;
using fmviz_test::ThreadCount;

namespace {

Tensor<float> from_values(Shape shape, const std::vector<float>& values) {
  Tensor<float> t(std::move(shape));
  REQUIRE(values.size() == t.size());
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

/// PyTorch's MaxPool2d output size (dilation 1), written from its documentation and pooling_output_shape.
std::size_t torch_pool_out(std::size_t in, std::size_t k, std::size_t s, std::size_t p, bool ceil_mode) {
  const long num = static_cast<long>(in) + 2 * static_cast<long>(p) - static_cast<long>(k);
  long out = (ceil_mode ? (num + static_cast<long>(s) - 1) / static_cast<long>(s) : num / static_cast<long>(s)) + 1;
  if (ceil_mode && (out - 1) * static_cast<long>(s) >= static_cast<long>(in) + static_cast<long>(p)) --out;
  return static_cast<std::size_t>(out);
}

/// Max pooling as PyTorch defines it: the input padded with -inf, windows of k x k every s.
Tensor<float> naive_maxpool(const Tensor<float>& x, std::size_t k, std::size_t s, std::size_t p, bool ceil_mode) {
  const std::size_t oh = torch_pool_out(x.dim(2), k, s, p, ceil_mode), ow = torch_pool_out(x.dim(3), k, s, p, ceil_mode);
  Tensor<float> y({x.dim(0), x.dim(1), oh, ow});
  const long H = static_cast<long>(x.dim(2)), W = static_cast<long>(x.dim(3));
  for (std::size_t n = 0; n < x.dim(0); ++n)
    for (std::size_t c = 0; c < x.dim(1); ++c)
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) {
          float m = -std::numeric_limits<float>::infinity();
          for (long dy = 0; dy < static_cast<long>(k); ++dy)
            for (long dx = 0; dx < static_cast<long>(k); ++dx) {
              const long iy = static_cast<long>(oy * s) - static_cast<long>(p) + dy;
              const long ix = static_cast<long>(ox * s) - static_cast<long>(p) + dx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                m = std::max(m, x(n, c, static_cast<std::size_t>(iy), static_cast<std::size_t>(ix)));
            }
          y(n, c, oy, ox) = m;
        }
  return y;
}

/// Adaptive average pooling as PyTorch defines it: bin i covers [floor(i*in/out), ceil((i+1)*in/out)).
Tensor<float> naive_adaptive_avg(const Tensor<float>& x, std::size_t oh, std::size_t ow) {
  Tensor<float> y({x.dim(0), x.dim(1), oh, ow});
  const std::size_t H = x.dim(2), W = x.dim(3);
  for (std::size_t n = 0; n < x.dim(0); ++n)
    for (std::size_t c = 0; c < x.dim(1); ++c)
      for (std::size_t i = 0; i < oh; ++i)
        for (std::size_t j = 0; j < ow; ++j) {
          const std::size_t y0 = static_cast<std::size_t>(std::floor(double(i) * H / oh));
          const std::size_t y1 = static_cast<std::size_t>(std::ceil(double(i + 1) * H / oh));
          const std::size_t x0 = static_cast<std::size_t>(std::floor(double(j) * W / ow));
          const std::size_t x1 = static_cast<std::size_t>(std::ceil(double(j + 1) * W / ow));
          double sum = 0;
          for (std::size_t a = y0; a < y1; ++a)
            for (std::size_t b = x0; b < x1; ++b) sum += x(n, c, a, b);
          y(n, c, i, j) = static_cast<float>(sum / double((y1 - y0) * (x1 - x0)));
        }
  return y;
}

}  // namespace

// ---- Conv2d ---------------------------------------------------------------------------------------

TEST_CASE("Conv2d: hand-worked 2x2 kernel on a 3x3 input, no padding", "[layers][conv]") {
  // x = 1 2 3      w = 1 2      b = 0.5
  //     4 5 6          3 4
  //     7 8 9
  // y(0,0) = 1*1 + 2*2 + 4*3 + 5*4 = 37     y(0,1) = 2*1 + 3*2 + 5*3 + 6*4 = 47
  // y(1,0) = 4*1 + 5*2 + 7*3 + 8*4 = 67     y(1,1) = 5*1 + 6*2 + 8*3 + 9*4 = 77     (+ 0.5 each)
  auto x = from_values({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto w = from_values({1, 1, 2, 2}, {1, 2, 3, 4});
  auto b = from_values({1}, {0.5f});
  fmviz::Conv2d<float> conv(w, b);
  auto y = conv.forward(x);
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y[0] == 37.5f);
  CHECK(y[1] == 47.5f);
  CHECK(y[2] == 67.5f);
  CHECK(y[3] == 77.5f);
}

TEST_CASE("Conv2d: hand-worked 3x3 ones kernel, padding 1, stride 2", "[layers][conv]") {
  // x = 1..9 in a 3x3; padded to 5x5 with zeros; windows start at padded (0,0), (0,2), (2,0), (2,2):
  // y(0,0) = 1+2+4+5 = 12   y(0,1) = 2+3+5+6 = 16   y(1,0) = 4+5+7+8 = 24   y(1,1) = 5+6+8+9 = 28; bias -1.
  auto x = from_values({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor<float> w({1, 1, 3, 3});
  w.fill(1.f);
  auto b = from_values({1}, {-1.f});
  fmviz::Conv2d<float> conv(w, b, 2, 1);
  auto y = conv.forward(x);
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y[0] == 11.f);
  CHECK(y[1] == 15.f);
  CHECK(y[2] == 23.f);
  CHECK(y[3] == 27.f);
}

TEST_CASE("Conv2d: hand-worked 2x3 kernel, two in and two out channels", "[layers][conv]") {
  // x channel 0 = 1 2 3    channel 1 = 1 1 1     (a 2x3 input, so one output pixel)
  //               4 5 6                1 1 1
  // out 0: w[0][0] = all ones, w[0][1] = all twos, bias 1: 21 + 2*6 + 1 = 34
  // out 1: w[1][0] = 1 0 0 / 0 0 -1, w[1][1] = zeros, bias -1: 1 - 6 - 1 = -6
  auto x = from_values({1, 2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 1, 1, 1, 1, 1});
  auto w = from_values({2, 2, 2, 3}, {1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2,  //
                                      1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0});
  auto b = from_values({2}, {1.f, -1.f});
  fmviz::Conv2d<float> conv(w, b);
  CHECK(conv.in_channels() == 2);
  CHECK(conv.out_channels() == 2);
  CHECK(conv.options().kernel_h == 2);
  CHECK(conv.options().kernel_w == 3);
  auto y = conv.forward(x);
  REQUIRE(y.shape() == Shape{1, 2, 1, 1});
  CHECK(y[0] == 34.f);
  CHECK(y[1] == -6.f);
}

TEST_CASE("Conv2d: output shape follows floor((in + 2p - k) / s) + 1", "[layers][conv]") {
  auto make = [](std::size_t kh, std::size_t kw, std::size_t sh, std::size_t sw, std::size_t ph, std::size_t pw) {
    return fmviz::Conv2d<float>(Tensor<float>::zeros({4, 3, kh, kw}), Tensor<float>::zeros({4}), sh, sw, ph, pw);
  };
  CHECK(make(3, 3, 1, 1, 1, 1).output_shape({2, 3, 224, 224}) == Shape{2, 4, 224, 224});
  CHECK(make(3, 3, 1, 1, 0, 0).output_shape({1, 3, 5, 7}) == Shape{1, 4, 3, 5});
  CHECK(make(2, 3, 2, 2, 0, 0).output_shape({1, 3, 5, 7}) == Shape{1, 4, 2, 3});
  CHECK(make(2, 3, 3, 3, 2, 2).output_shape({1, 3, 5, 7}) == Shape{1, 4, 3, 3});
  CHECK(make(3, 2, 2, 3, 1, 0).output_shape({1, 3, 5, 7}) == Shape{1, 4, 3, 2});
  CHECK(make(5, 5, 1, 1, 0, 0).output_shape({1, 3, 5, 5}) == Shape{1, 4, 1, 1});
}

TEST_CASE("Conv2d: matches a direct convolution over padding, stride and kernel shapes", "[layers][conv]") {
  struct Case {
    std::size_t kh, kw, sh, sw, ph, pw;
  };
  std::vector<Case> cases;
  for (std::size_t p : {0u, 1u, 2u})
    for (std::size_t s : {1u, 2u, 3u})
      for (auto k : std::vector<std::pair<std::size_t, std::size_t>>{{3, 3}, {2, 3}, {3, 2}, {1, 1}, {5, 3}})
        cases.push_back({k.first, k.second, s, s, p, p});
  cases.push_back({3, 3, 1, 2, 0, 1});  // different strides and paddings per axis
  cases.push_back({2, 3, 3, 1, 2, 0});

  std::uint32_t seed = 1;
  for (const Case& c : cases) {
    CAPTURE(c.kh, c.kw, c.sh, c.sw, c.ph, c.pw);
    auto x = random_tensor({2, 3, 5, 7}, seed++);
    auto w = random_tensor({4, 3, c.kh, c.kw}, seed++);
    auto b = random_tensor({4}, seed++);
    fmviz::Conv2d<float> conv(w, b, c.sh, c.sw, c.ph, c.pw);
    auto y = conv.forward(x);
    auto ref = naive_conv(x, w, b, c.sh, c.sw, c.ph, c.pw);
    REQUIRE(y.shape() == ref.shape());
    CHECK(max_rel_diff(y, ref) < 1e-5);
  }
}

TEST_CASE("Conv2d: batch items are independent", "[layers][conv]") {
  auto x = random_tensor({2, 3, 6, 5}, 11);
  auto w = random_tensor({5, 3, 3, 3}, 12);
  auto b = random_tensor({5}, 13);
  fmviz::Conv2d<float> conv(w, b, 1, 1);
  auto both = conv.forward(x);
  for (std::size_t n = 0; n < 2; ++n) {
    Tensor<float> one({1, 3, 6, 5});
    std::copy(x.channel(n, 0), x.channel(n, 0) + one.size(), one.begin());
    auto y = conv.forward(one);
    for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == both.channel(n, 0)[i]);
  }
}

TEST_CASE("Conv2d: tiled im2col path matches the direct convolution", "[layers][conv][tiles]") {
  struct Case {
    const char* what;
    Shape input;
    std::size_t out_channels, kernel, stride, pad;
    int threads;
  };
  const std::vector<Case> cases = {
      // k = 64*3*3 = 576: the 8 MiB budget holds 3640 columns, so 173x181 = 31313 pixels need 9 tiles.
      {"budget tiles, 1 thread", {1, 64, 173, 181}, 4, 3, 1, 1, 1},
      {"budget tiles, 2 threads", {1, 64, 173, 181}, 4, 3, 1, 1, 2},
      // Fewer pixels than the budget: at least 256 per tile, up to 8 tiles. Stride 2: 86x91 = 7826 pixels, 8 tiles.
      {"floor tiles, stride 2", {1, 64, 171, 181}, 3, 3, 2, 1, 1},
      // small k: 31x29 = 899 pixels make 3 tiles; batch 2.
      {"floor tiles, batch 2", {2, 3, 31, 29}, 5, 3, 1, 1, 2},
      // stride 3 and padding 2 on an odd input: 27x21 = 567 pixels, 2 tiles.
      {"floor tiles, stride 3", {1, 2, 77, 61}, 3, 3, 3, 2, 2},
  };
  std::uint32_t seed = 100;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    ThreadCount threads(c.threads);
    auto x = random_tensor(c.input, seed++);
    auto w = random_tensor({c.out_channels, c.input[1], c.kernel, c.kernel}, seed++, -0.1f, 0.1f);
    auto b = random_tensor({c.out_channels}, seed++);
    fmviz::Conv2d<float> conv(w, b, c.stride, c.pad, fmviz::ConvAlgorithm::gemm);
    REQUIRE(conv.algorithm() == fmviz::ConvAlgorithm::gemm);
    const Shape out = conv.output_shape(c.input);
    const std::size_t pixels = out[2] * out[3];
    const std::size_t tile_cols = fmviz::detail::im2col_tile_columns(pixels, c.input[1] * c.kernel * c.kernel, sizeof(float));
    const std::size_t tiles = (pixels + tile_cols - 1) / tile_cols;
    CAPTURE(pixels, tiles, tile_cols, fmviz::thread_count());
    REQUIRE(tiles >= 2);                  // several tiles,
    CHECK(pixels % tile_cols != 0);       // the last one shorter than the others,
    CHECK(tile_cols % out[3] != 0);       // and tiles that start mid-row
    auto y = conv.forward(x);
    auto ref = naive_conv(x, w, b, c.stride, c.stride, c.pad, c.pad);
    CHECK(max_rel_diff(y, ref) < 1e-4);
  }
}

TEST_CASE("Conv2d: double precision", "[layers][conv]") {
  Tensor<double> w({1, 1, 1, 1});
  w[0] = 0.1;
  Tensor<double> b({1});
  b[0] = 1e-12;
  fmviz::Conv2d<double> conv(w, b);
  Tensor<double> x({1, 1, 1, 2});
  x[0] = 3.0;
  x[1] = -1.0;
  auto y = conv.forward(x);
  CHECK(y[0] == Approx(0.3 + 1e-12).epsilon(1e-15));
  CHECK(y[1] == Approx(-0.1 + 1e-12).epsilon(1e-15));
}

TEST_CASE("Conv2d: bad weights, bias, stride and inputs throw naming the layer", "[layers][conv][errors]") {
  auto e = error_of([] { fmviz::Conv2d<float>(Tensor<float>::zeros({4, 3, 3}), Tensor<float>::zeros({4})); });
  REQUIRE(e);
  CHECK(e->field() == "Conv2d.weight");
  CHECK_THAT(e->what(), contains("(4,3,3)"));

  e = error_of([] { fmviz::Conv2d<float>(Tensor<float>::zeros({4, 3, 3, 3}), Tensor<float>::zeros({5})); });
  REQUIRE(e);
  CHECK(e->field() == "Conv2d.bias");
  CHECK_THAT(e->what(), contains("expected shape (4), got (5)"));

  e = error_of([] { fmviz::Conv2d<float>(Tensor<float>::zeros({4, 3, 3, 3}), Tensor<float>::zeros({4}), 0, 1); });
  REQUIRE(e);
  CHECK(e->field() == "Conv2d.stride");

  fmviz::Conv2d<float> conv(Tensor<float>::zeros({4, 3, 3, 3}), Tensor<float>::zeros({4}));
  e = error_of([&] { conv.forward(Tensor<float>::zeros({1, 2, 8, 8})); });
  REQUIRE(e);
  CHECK(e->field() == "Conv2d.input");
  CHECK_THAT(e->what(), contains("expected (N,3,H,W), got (1,2,8,8)"));

  e = error_of([&] { conv.forward(Tensor<float>::zeros({3, 8, 8})); });
  REQUIRE(e);
  CHECK(e->field() == "Conv2d.input");

  e = error_of([&] { conv.forward(Tensor<float>::zeros({1, 3, 2, 8})); });
  REQUIRE(e);
  CHECK(e->field() == "Conv2d.input");
  CHECK_THAT(e->what(), contains("smaller than the 3x3 kernel"));

  fmviz::Conv2d<float> padded(Tensor<float>::zeros({4, 3, 3, 3}), Tensor<float>::zeros({4}), 1, 1);
  CHECK(padded.output_shape({1, 3, 1, 1}) == Shape{1, 4, 1, 1});  // 1 + 2*1 >= 3: allowed
}

// ---- ReLU ---------------------------------------------------------------------------------------

TEST_CASE("ReLU: clamps negatives to zero and keeps the shape", "[layers][relu]") {
  auto x = from_values({1, 2, 1, 3}, {-2.f, -0.f, 0.f, 3.f, -1e-30f, 1e-30f});
  auto y = fmviz::ReLU{}.forward(x);
  CHECK(y.shape() == Shape{1, 2, 1, 3});
  CHECK(y[0] == 0.f);
  CHECK(y[1] == 0.f);
  CHECK(y[2] == 0.f);
  CHECK(y[3] == 3.f);
  CHECK(y[4] == 0.f);
  CHECK(y[5] == 1e-30f);
  CHECK(x[0] == -2.f);  // a copy passed in: the caller's tensor is untouched
  CHECK(fmviz::ReLU{}.output_shape({2, 5}) == Shape{2, 5});
}

TEST_CASE("ReLU: a large tensor, in chunks on one and two threads, keeps positives, zeros negatives and keeps NaN",
          "[layers][relu]") {
  for (int threads : {1, 2}) {
    ThreadCount t(threads);
    auto x = random_tensor({1, 7, 131, 97}, 17);  // 88949 values: two chunks, the second partial
    x[5] = std::numeric_limits<float>::quiet_NaN();
    x[x.size() - 1] = -std::numeric_limits<float>::infinity();
    auto y = fmviz::ReLU{}.forward(x);
    REQUIRE(y.size() == x.size());
    CHECK(std::isnan(y[5]));
    for (std::size_t i = 0; i < y.size(); ++i)
      if (i != 5) REQUIRE(y[i] == (x[i] > 0.f ? x[i] : 0.f));
  }
}

// ---- MaxPool2d ------------------------------------------------------------------------------------

TEST_CASE("MaxPool2d: output sizes follow PyTorch's floor and ceil rules", "[layers][pool]") {
  // input 5, kernel 2, stride 2: floor((5-2)/2)+1 = 2; ceil((5-2)/2)+1 = 3 (the last window covers column 4 alone).
  CHECK(fmviz::MaxPool2d(2, 2).output_size(5) == 2);
  CHECK(fmviz::MaxPool2d(2, 2, 0, true).output_size(5) == 3);
  CHECK(fmviz::MaxPool2d(2, 2).output_size(224) == 112);
  CHECK(fmviz::MaxPool2d(2, 2, 0, true).output_size(224) == 112);
  // input 6, k3 s2 p1: padded 8; floor(5/2)+1 = 3, ceil(5/2)+1 = 4, and the 4th window starts at padded 6 =
  // input 5, inside the input, so it stays.
  CHECK(fmviz::MaxPool2d(3, 2, 1).output_size(6) == 3);
  CHECK(fmviz::MaxPool2d(3, 2, 1, true).output_size(6) == 4);
  // input 5, k2 s2 p1: padded 7, ceil(5/2)+1 = 4, but the 4th window would start at padded 6 = the right padding:
  // "the last window must start inside the input or left padding", so 3.
  CHECK(fmviz::MaxPool2d(2, 2, 1, true).output_size(5) == 3);
  CHECK(fmviz::MaxPool2d(2, 2, 1).output_size(5) == 3);
  // input 5, k1 s3: ceil(4/3)+1 = 3, but window 3 would start at 6 >= 5: dropped, 2.
  CHECK(fmviz::MaxPool2d(1, 3, 0, true).output_size(5) == 2);
  CHECK(fmviz::MaxPool2d(3, 3, 0, true).output_size(7) == 3);
  CHECK(fmviz::MaxPool2d(3, 3, 0, false).output_size(7) == 2);
  for (std::size_t in = 1; in <= 12; ++in)
    for (std::size_t k = 1; k <= 4; ++k)
      for (std::size_t s = 1; s <= 4; ++s)
        for (std::size_t p = 0; 2 * p <= k; ++p)
          for (bool ceil_mode : {false, true}) {
            if (in + 2 * p < k) continue;
            CAPTURE(in, k, s, p, ceil_mode);
            CHECK(fmviz::MaxPool2d(k, s, p, ceil_mode).output_size(in) == torch_pool_out(in, k, s, p, ceil_mode));
          }
  CHECK(fmviz::MaxPool2d(2, 2).output_shape({2, 3, 5, 7}) == Shape{2, 3, 2, 3});
  CHECK(fmviz::MaxPool2d(2, 2, 0, true).output_shape({2, 3, 5, 7}) == Shape{2, 3, 3, 4});
}

TEST_CASE("MaxPool2d: hand-worked 2x2 stride 2, floor and ceil", "[layers][pool]") {
  // x = 1  2  3  4  5       floor: max(1,2,6,7)=7  max(3,4,8,9)=9
  //     6  7  8  9 10       ceil adds a third column (5,10 -> 10) and a third row (21..25 in pairs,
  //    11 12 13 14 15       then 25 alone), with the row 2-3 window max(11,12,16,17) = 17 etc.
  //    16 17 18 19 20
  //    21 22 23 24 25
  std::vector<float> v(25);
  for (std::size_t i = 0; i < 25; ++i) v[i] = static_cast<float>(i + 1);
  auto x = from_values({1, 1, 5, 5}, v);
  auto y = fmviz::MaxPool2d(2, 2).forward(x);
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y[0] == 7.f);
  CHECK(y[1] == 9.f);
  CHECK(y[2] == 17.f);
  CHECK(y[3] == 19.f);
  auto c = fmviz::MaxPool2d(2, 2, 0, true).forward(x);
  REQUIRE(c.shape() == Shape{1, 1, 3, 3});
  const float expected[] = {7, 9, 10, 17, 19, 20, 22, 24, 25};
  for (std::size_t i = 0; i < 9; ++i) CHECK(c[i] == expected[i]);
}

TEST_CASE("MaxPool2d: padding never wins the max, even over all-negative inputs", "[layers][pool]") {
  // x = -1..-9 in a 3x3, k3 s2 p1: padded windows at (0,0),(0,2),(2,0),(2,2) each hold 4 real values;
  // a zero padding would make every output 0, the right answer is the largest real value of each window.
  auto x = from_values({1, 1, 3, 3}, {-1, -2, -3, -4, -5, -6, -7, -8, -9});
  auto y = fmviz::MaxPool2d(3, 2, 1).forward(x);
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y[0] == -1.f);  // max(-1,-2,-4,-5)
  CHECK(y[1] == -2.f);  // max(-2,-3,-5,-6)
  CHECK(y[2] == -4.f);  // max(-4,-5,-7,-8)
  CHECK(y[3] == -5.f);  // max(-5,-6,-8,-9)

  auto neg = random_tensor({2, 3, 6, 7}, 7, -100.f, -1.f);
  for (bool ceil_mode : {false, true}) {
    auto z = fmviz::MaxPool2d(2, 2, 1, ceil_mode).forward(neg);
    for (float m : z) {
      REQUIRE(m < 0.f);
      REQUIRE(std::isfinite(m));
    }
  }
}

TEST_CASE("MaxPool2d: matches PyTorch's definition on random inputs", "[layers][pool]") {
  std::uint32_t seed = 200;
  for (std::size_t k = 1; k <= 4; ++k)
    for (std::size_t s = 1; s <= 3; ++s)
      for (std::size_t p = 0; 2 * p <= k; ++p)
        for (bool ceil_mode : {false, true}) {
          CAPTURE(k, s, p, ceil_mode);
          auto x = random_tensor({2, 3, 7, 6}, seed++);
          fmviz::MaxPool2d pool(k, s, p, ceil_mode);
          auto y = pool.forward(x);
          auto ref = naive_maxpool(x, k, s, p, ceil_mode);
          REQUIRE(y.shape() == ref.shape());
          for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == ref[i]);
        }
  // VGG's 2x2 stride-2 pools take their own loop: the same values, NaN included, on one and two threads.
  for (int threads : {1, 2}) {
    ThreadCount t(threads);
    auto x = random_tensor({2, 5, 30, 31}, 400);
    x[7] = std::numeric_limits<float>::quiet_NaN();
    x[200] = -std::numeric_limits<float>::infinity();
    auto y = fmviz::MaxPool2d(2, 2).forward(x);
    auto ref = naive_maxpool(x, 2, 2, 0, false);
    REQUIRE(y.shape() == ref.shape());
    for (std::size_t i = 0; i < y.size(); ++i) REQUIRE((y[i] == ref[i] || (std::isnan(y[i]) && std::isnan(ref[i]))));
  }
  // Large enough to run in parallel (more than 4096 elements).
  auto big = random_tensor({2, 16, 33, 35}, 300);
  auto y = fmviz::MaxPool2d(3, 2, 1, true).forward(big);
  auto ref = naive_maxpool(big, 3, 2, 1, true);
  REQUIRE(y.shape() == ref.shape());
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == ref[i]);
}

TEST_CASE("MaxPool2d: invalid arguments and inputs throw", "[layers][pool][errors]") {
  CHECK_THROWS_AS(fmviz::MaxPool2d(0, 2), fmviz::Error);
  CHECK_THROWS_AS(fmviz::MaxPool2d(2, 0), fmviz::Error);
  auto e = error_of([] { fmviz::MaxPool2d(3, 1, 2); });  // PyTorch: pad should be at most half of kernel size
  REQUIRE(e);
  CHECK(e->field() == "MaxPool2d.padding");
  CHECK_THROWS_AS(fmviz::MaxPool2d(1, 1, 1), fmviz::Error);
  CHECK_NOTHROW(fmviz::MaxPool2d(2, 2, 1));
  CHECK_NOTHROW(fmviz::MaxPool2d(4, 2, 2));

  e = error_of([] { fmviz::MaxPool2d(3, 2).output_shape({1, 1, 2, 5}); });
  REQUIRE(e);
  CHECK(e->field() == "MaxPool2d.input");
  CHECK_THAT(e->what(), contains("size 2 is smaller than the kernel 3"));
  e = error_of([] { fmviz::MaxPool2d(2, 2).forward(Tensor<float>::zeros({4, 4})); });
  REQUIRE(e);
  CHECK(e->field() == "MaxPool2d.input");
  CHECK_NOTHROW(fmviz::MaxPool2d(3, 2, 1).output_shape({1, 1, 1, 1}));  // 1 + 2 >= 3
}

// ---- AdaptiveAvgPool2d ------------------------------------------------------------------------------

TEST_CASE("AdaptiveAvgPool2d: 5x5 to 3x3 with overlapping bins", "[layers][avgpool]") {
  // x(r, c) = 5r + c. Bins per axis: [0,2), [1,4), [3,5) (floor(i*5/3) to ceil((i+1)*5/3)).
  // y(0,0) = mean(0,1,5,6) = 3; y(0,1) = mean(1,2,3,6,7,8) = 4.5; y(1,1) = mean of rows/cols 1..3 = 12;
  // y(2,2) = mean(18,19,23,24) = 21; y(2,0) = mean(15,16,20,21) = 18.
  std::vector<float> v(25);
  for (std::size_t i = 0; i < 25; ++i) v[i] = static_cast<float>(i);
  auto y = fmviz::AdaptiveAvgPool2d(3, 3).forward(from_values({1, 1, 5, 5}, v));
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});
  CHECK(y(0, 0, 0, 0) == Approx(3.0));
  CHECK(y(0, 0, 0, 1) == Approx(4.5));
  CHECK(y(0, 0, 1, 1) == Approx(12.0));
  CHECK(y(0, 0, 2, 2) == Approx(21.0));
  CHECK(y(0, 0, 2, 0) == Approx(18.0));
}

TEST_CASE("AdaptiveAvgPool2d: 1x1 replicates, 14x14 averages 2x2, 7x7 is the identity", "[layers][avgpool]") {
  auto one = from_values({2, 2, 1, 1}, {1.5f, -2.f, 3.f, 4.f});
  auto y = fmviz::AdaptiveAvgPool2d(7, 7).forward(one);
  REQUIRE(y.shape() == Shape{2, 2, 7, 7});
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t i = 0; i < 49; ++i) REQUIRE(y.channel(n, c)[i] == one[n * 2 + c]);

  auto x = random_tensor({1, 3, 14, 14}, 400);
  auto z = fmviz::AdaptiveAvgPool2d().forward(x);
  REQUIRE(z.shape() == Shape{1, 3, 7, 7});
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < 7; ++i)
      for (std::size_t j = 0; j < 7; ++j) {
        const float m = (x(0, c, 2 * i, 2 * j) + x(0, c, 2 * i, 2 * j + 1) + x(0, c, 2 * i + 1, 2 * j) +
                         x(0, c, 2 * i + 1, 2 * j + 1)) / 4;
        REQUIRE(z(0, c, i, j) == Approx(m).margin(1e-6));
      }

  auto same = random_tensor({1, 4, 7, 7}, 401);
  auto id = fmviz::AdaptiveAvgPool2d(7, 7).forward(same);
  for (std::size_t i = 0; i < same.size(); ++i) REQUIRE(id[i] == same[i]);
}

TEST_CASE("AdaptiveAvgPool2d: matches PyTorch's bin rule on odd sizes", "[layers][avgpool]") {
  struct Case {
    std::size_t ih, iw, oh, ow;
  };
  std::uint32_t seed = 500;
  for (const Case& c : {Case{10, 13, 4, 5}, Case{3, 3, 5, 7}, Case{7, 5, 7, 2}, Case{9, 9, 1, 1}, Case{40, 33, 7, 7}}) {
    CAPTURE(c.ih, c.iw, c.oh, c.ow);
    auto x = random_tensor({2, 3, c.ih, c.iw}, seed++);
    auto y = fmviz::AdaptiveAvgPool2d(c.oh, c.ow).forward(x);
    auto ref = naive_adaptive_avg(x, c.oh, c.ow);
    REQUIRE(y.shape() == ref.shape());
    CHECK(max_rel_diff(y, ref) < 1e-5);
  }
}

TEST_CASE("AdaptiveAvgPool2d: invalid sizes and inputs throw", "[layers][avgpool][errors]") {
  CHECK_THROWS_AS(fmviz::AdaptiveAvgPool2d(0, 7), fmviz::Error);
  CHECK_THROWS_AS(fmviz::AdaptiveAvgPool2d(7, 0), fmviz::Error);
  auto e = error_of([] { fmviz::AdaptiveAvgPool2d().output_shape({1, 3, 0, 4}); });
  REQUIRE(e);
  CHECK(e->field() == "AdaptiveAvgPool2d.input");
  CHECK_THROWS_AS(fmviz::AdaptiveAvgPool2d().output_shape({3, 4, 4}), fmviz::Error);
}

// ---- Linear, Flatten, Dropout ---------------------------------------------------------------------

TEST_CASE("Linear: hand-worked y = x W^T + b", "[layers][linear]") {
  // W = 1 2 3   b = 0.5 -1    x row 0 = 1 1 1  -> 6 + 0.5 = 6.5, 15 - 1 = 14
  //     4 5 6                 x row 1 = 1 0 -1 -> -2 + 0.5 = -1.5, -2 - 1 = -3
  fmviz::Linear<float> fc(from_values({2, 3}, {1, 2, 3, 4, 5, 6}), from_values({2}, {0.5f, -1.f}));
  CHECK(fc.in_features() == 3);
  CHECK(fc.out_features() == 2);
  auto y = fc.forward(from_values({2, 3}, {1, 1, 1, 1, 0, -1}));
  REQUIRE(y.shape() == Shape{2, 2});
  CHECK(y[0] == 6.5f);
  CHECK(y[1] == 14.f);
  CHECK(y[2] == -1.5f);
  CHECK(y[3] == -3.f);
}

TEST_CASE("Linear: matches a direct product on random inputs", "[layers][linear]") {
  auto w = random_tensor({37, 50}, 600);
  auto b = random_tensor({37}, 601);
  auto x = random_tensor({3, 50}, 602);
  fmviz::Linear<float> fc(w, b);
  auto y = fc.forward(x);
  REQUIRE(y.shape() == Shape{3, 37});
  for (std::size_t n = 0; n < 3; ++n)
    for (std::size_t o = 0; o < 37; ++o) {
      double acc = b[o];
      for (std::size_t i = 0; i < 50; ++i) acc += double(x[n * 50 + i]) * double(w[o * 50 + i]);
      REQUIRE(y[n * 37 + o] == Approx(acc).margin(1e-5));
    }
}

TEST_CASE("Linear: bands of output features on threads; the same bits for any thread count", "[layers][linear]") {
  // 600 features make three bands, the last one short; a batch of 5 is a real GEMM, which Eigen would otherwise
  // spread over threads of its own.
  auto w = random_tensor({600, 300}, 610);
  auto b = random_tensor({600}, 611);
  auto x = random_tensor({5, 300}, 612);
  fmviz::Linear<float> fc(w, b);
  Tensor<float> one, two;
  {
    ThreadCount t(1);
    one = fc.forward(x);
  }
  {
    ThreadCount t(2);
    two = fc.forward(x);
#if defined(_OPENMP)
    CHECK(fmviz::thread_count() == 2);  // Eigen's threads were turned off for the products only
#endif
  }
  REQUIRE(one.shape() == Shape{5, 600});
  CHECK(std::equal(one.begin(), one.end(), two.begin()));
  double worst = 0;
  for (std::size_t n = 0; n < 5; ++n)
    for (std::size_t o = 0; o < 600; ++o) {
      double acc = b[o];
      for (std::size_t i = 0; i < 300; ++i) acc += double(x[n * 300 + i]) * double(w[o * 300 + i]);
      worst = std::max(worst, std::abs(acc - double(one[n * 600 + o])));
    }
  CHECK(worst < 1e-4);
}

TEST_CASE("Linear: bad weights, bias and inputs throw naming the layer", "[layers][linear][errors]") {
  auto e = error_of([] { fmviz::Linear<float>(Tensor<float>::zeros({2, 3, 1}), Tensor<float>::zeros({2})); });
  REQUIRE(e);
  CHECK(e->field() == "Linear.weight");
  e = error_of([] { fmviz::Linear<float>(Tensor<float>::zeros({2, 3}), Tensor<float>::zeros({3})); });
  REQUIRE(e);
  CHECK(e->field() == "Linear.bias");
  fmviz::Linear<float> fc(Tensor<float>::zeros({2, 3}), Tensor<float>::zeros({2}));
  e = error_of([&] { fc.forward(Tensor<float>::zeros({1, 4})); });
  REQUIRE(e);
  CHECK(e->field() == "Linear.input");
  CHECK_THAT(e->what(), contains("expected (N,3), got (1,4)"));
  CHECK_THROWS_AS(fc.forward(Tensor<float>::zeros({1, 3, 1, 1})), fmviz::Error);
}

TEST_CASE("Flatten: (N,C,H,W) to (N,C*H*W) in torch.flatten order", "[layers][flatten]") {
  Tensor<float> x({2, 3, 4, 5});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const float* p = x.data();
  auto y = fmviz::Flatten{}.forward(std::move(x));
  REQUIRE(y.shape() == Shape{2, 60});
  CHECK(y.data() == p);  // a view, no copy
  CHECK(y[60] == 60.f);
  CHECK(y[119] == 119.f);
  CHECK(fmviz::Flatten{}.output_shape({1, 512, 7, 7}) == Shape{1, 25088});
  CHECK(fmviz::Flatten{}.output_shape({4}) == Shape{4, 1});
  auto e = error_of([] { fmviz::Flatten{}.output_shape({}); });
  REQUIRE(e);
  CHECK(e->field() == "Flatten.input");
}

TEST_CASE("Dropout: the identity at inference", "[layers][dropout]") {
  auto x = random_tensor({2, 10}, 700);
  auto copy = x;
  auto y = fmviz::Dropout{}.forward(std::move(copy));
  REQUIRE(y.shape() == x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(y[i] == x[i]);
  CHECK(fmviz::Dropout{}.output_shape({3, 7}) == Shape{3, 7});
}
