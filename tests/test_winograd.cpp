// Winograd F(m x m, 3 x 3) convolution: the transform matrices, the kernel against the GEMM path and a direct
// convolution on sizes that are not multiples of the tile (edge tiles, padding 0/1/2, batches), thread-count
// independence, and how Conv2d chooses its algorithm.
#include <fmviz/kernels/winograd_matrices.hpp>
#include <fmviz/layers/conv2d.hpp>

#include "conv_reference.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

using fmviz::ConvAlgorithm;
using fmviz::Shape;
using fmviz::Tensor;
using fmviz_test::contains;
using fmviz_test::error_of;
using fmviz_test::max_err_over_max_ref;
using fmviz_test::naive_conv;
using fmviz_test::random_tensor;
using fmviz_test::ThreadCount;

namespace {

/// y = A^T [(G g) * (B^T d)] against the direct correlation, all in double.
template <std::size_t M>
double correlation_error() {
  constexpr auto w = fmviz::detail::winograd_matrices<M>();
  constexpr std::size_t A = M + 2;
  const double g[3] = {0.3, -1.7, 2.2};
  double d[A], gg[A], dd[A], worst = 0;
  for (std::size_t i = 0; i < A; ++i) d[i] = std::sin(1.0 + 0.7 * double(i));
  for (std::size_t i = 0; i < A; ++i) {
    gg[i] = w.G[i][0] * g[0] + w.G[i][1] * g[1] + w.G[i][2] * g[2];
    dd[i] = 0;
    for (std::size_t j = 0; j < A; ++j) dd[i] += w.BT[i][j] * d[j];
  }
  for (std::size_t k = 0; k < M; ++k) {
    double y = 0;
    for (std::size_t i = 0; i < A; ++i) y += w.AT[k][i] * gg[i] * dd[i];
    worst = std::max(worst, std::abs(y - (g[0] * d[k] + g[1] * d[k + 1] + g[2] * d[k + 2])));
  }
  return worst;
}

}  // namespace

TEST_CASE("Winograd matrices compute a 1-d correlation exactly (in double)", "[winograd]") {
  CHECK(correlation_error<2>() < 1e-12);
  CHECK(correlation_error<4>() < 1e-12);
  CHECK(correlation_error<6>() < 1e-12);
  // F(4,3) interpolates at 0, +-sqrt2 and +-sqrt2/2; each row of G has largest entry 1.
  constexpr auto w = fmviz::detail::winograd_matrices<4>();
  CHECK(w.points[1] == Approx(std::sqrt(2.0)));
  CHECK(w.points[3] == Approx(std::sqrt(2.0) / 2));
  for (const auto& row : w.G) CHECK(std::max({std::abs(row[0]), std::abs(row[1]), std::abs(row[2])}) == Approx(1.0));
}

TEST_CASE("Winograd matches the GEMM path and a direct convolution on edge tiles", "[winograd][conv]") {
  struct Case {
    Shape input;
    std::size_t out_channels, pad;
  };
  // Sizes below, at and past one tile, not multiples of any tile; channel counts that are not multiples of a vector.
  const std::vector<Case> cases = {
      {{1, 5, 1, 1}, 7, 1},  {{1, 5, 3, 3}, 7, 0},   {{2, 3, 2, 2}, 4, 1},   {{3, 6, 5, 7}, 9, 1},
      {{3, 6, 5, 7}, 9, 0},  {{1, 17, 13, 13}, 19, 1}, {{2, 4, 9, 14}, 33, 2}, {{1, 20, 30, 23}, 18, 1},
  };
  std::uint32_t seed = 500;
  for (std::size_t m : {2u, 4u, 6u})
    for (const Case& c : cases) {
      CAPTURE(m, fmviz::shape_to_string(c.input), c.out_channels, c.pad);
      const auto x = random_tensor(c.input, seed++);
      const auto w = random_tensor({c.out_channels, c.input[1], 3, 3}, seed++);
      const auto b = random_tensor({c.out_channels}, seed++);
      const fmviz::Conv2d<float> wino(w, b, 1, 1, c.pad, c.pad, ConvAlgorithm::winograd, m);
      const fmviz::Conv2d<float> gemm(w, b, 1, 1, c.pad, c.pad, ConvAlgorithm::gemm);
      REQUIRE(wino.algorithm() == ConvAlgorithm::winograd);
      REQUIRE(wino.winograd_tile() == m);
      REQUIRE(gemm.algorithm() == ConvAlgorithm::gemm);
      const auto y = wino.forward(x);
      const auto ref = naive_conv(x, w, b, 1, 1, c.pad, c.pad);
      // F(6,3)'s larger points cost about one more digit in fp32.
      const double tolerance = m == 6 ? 3e-5 : 5e-6;
      CHECK(max_err_over_max_ref(y, gemm.forward(x)) < tolerance);
      CHECK(max_err_over_max_ref(y, ref) < tolerance);
    }
}

TEST_CASE("Winograd in double precision agrees with a direct convolution to 1e-12", "[winograd][conv]") {
  const auto x = random_tensor<double>({2, 7, 11, 10}, 41);
  const auto w = random_tensor<double>({5, 7, 3, 3}, 42);
  const auto b = random_tensor<double>({5}, 43);
  for (std::size_t m : {2u, 4u, 6u}) {
    CAPTURE(m);
    const fmviz::Conv2d<double> conv(w, b, 1, 1, 1, 1, ConvAlgorithm::winograd, m);
    CHECK(max_err_over_max_ref(conv.forward(x), naive_conv(x, w, b, 1, 1, 1, 1)) < 1e-12);
  }
}

TEST_CASE("Winograd results do not depend on the thread count or on the other images of a batch", "[winograd][conv]") {
  // Enough tiles for several blocks (the block budget is a few MB) and channels for several vectors.
  const auto x = random_tensor({3, 40, 57, 61}, 7);
  const auto w = random_tensor({48, 40, 3, 3}, 8, -0.1f, 0.1f);
  const auto b = random_tensor({48}, 9);
  const fmviz::Conv2d<float> conv(w, b, 1, 1, 1, 1);
  REQUIRE(conv.algorithm() == ConvAlgorithm::winograd);
  Tensor<float> one_thread, two_threads;
  {
    ThreadCount t(1);
    one_thread = conv.forward(x);
  }
  {
    ThreadCount t(2);
    two_threads = conv.forward(x);
  }
  REQUIRE(one_thread.shape() == two_threads.shape());
  CHECK(std::equal(one_thread.begin(), one_thread.end(), two_threads.begin()));
  CHECK(max_err_over_max_ref(one_thread, naive_conv(x, w, b, 1, 1, 1, 1)) < 3e-5);  // F(6,3): 40 and 48 channels
  // Image 1 alone gives the same numbers as image 1 inside the batch of 3: nothing leaks across images.
  Tensor<float> single({1, 40, 57, 61});
  std::copy(x.channel(1, 0), x.channel(1, 0) + single.size(), single.begin());
  const auto alone = conv.forward(single);
  CHECK(std::equal(alone.begin(), alone.end(), one_thread.channel(1, 0)));
}

TEST_CASE("Winograd gives an image the same bits alone and in a batch whose blocks end elsewhere", "[winograd][conv]") {
  // VGG16's conv2_1 shape: alone, an image's last tile block ends in a few odd tiles; in a batch of two, those
  // tiles sit inside a block. Eigen's GEMM rounds a product's last odd columns differently, so the kernel must
  // not hand it any.
  const auto x = random_tensor({2, 64, 112, 112}, 17);
  const auto w = random_tensor({128, 64, 3, 3}, 18, -0.05f, 0.05f);
  const auto b = random_tensor({128}, 19);
  const fmviz::Conv2d<float> once(w, b, 1, 1, 1, 1, ConvAlgorithm::winograd, 6, fmviz::WinogradWeights::at_build);
  const fmviz::Conv2d<float> each(w, b, 1, 1, 1, 1, ConvAlgorithm::winograd, 6, fmviz::WinogradWeights::per_forward);
  for (const auto* batched : {&once, &each})
    for (const auto* single : {&once, &each}) {
      const auto both = batched->forward(x);
      for (std::size_t n = 0; n < 2; ++n) {
        CAPTURE(n, batched == &once, single == &once);
        const auto alone = single->forward(fmviz::batch_item(x, n));
        CHECK(std::equal(alone.begin(), alone.end(), both.channel(n, 0)));
      }
    }
  // Here each thread runs whole tile blocks on its own; on one thread every block runs in turn.
  const auto shared = once.forward(x);
  ThreadCount t(1);
  const auto serial = once.forward(x);
  CHECK(std::equal(serial.begin(), serial.end(), shared.begin()));
}

TEST_CASE("Conv2d chooses Winograd for wide 3x3 stride-1 layers only", "[winograd][conv]") {
  auto conv = [](std::size_t out, std::size_t in, std::size_t k, std::size_t stride, ConvAlgorithm a) {
    return fmviz::Conv2d<float>(Tensor<float>::zeros({out, in, k, k}), Tensor<float>::zeros({out}), stride, stride, 1, 1, a);
  };
  CHECK(conv(64, 64, 3, 1, ConvAlgorithm::automatic).algorithm() == ConvAlgorithm::winograd);
  CHECK(conv(64, 64, 3, 1, ConvAlgorithm::automatic).winograd_tile() == 6);  // up to 128 channels
  CHECK(conv(128, 64, 3, 1, ConvAlgorithm::automatic).algorithm_name() == "winograd F(6x6,3x3)");
  CHECK(conv(256, 128, 3, 1, ConvAlgorithm::automatic).winograd_tile() == 4);
  CHECK(conv(512, 512, 3, 1, ConvAlgorithm::automatic).algorithm_name() == "winograd F(4x4,3x3)");
  CHECK(conv(64, 3, 3, 1, ConvAlgorithm::automatic).algorithm() == ConvAlgorithm::gemm);  // conv1_1
  CHECK(conv(64, 3, 3, 1, ConvAlgorithm::winograd).algorithm() == ConvAlgorithm::winograd);
  CHECK(conv(64, 64, 3, 1, ConvAlgorithm::gemm).algorithm() == ConvAlgorithm::gemm);
  CHECK(conv(64, 64, 3, 1, ConvAlgorithm::gemm).algorithm_name() == "im2col+gemm");
  // Winograd is for 3x3 stride 1: anything else takes the GEMM path even when Winograd is asked for.
  CHECK(conv(64, 64, 3, 2, ConvAlgorithm::winograd).algorithm() == ConvAlgorithm::gemm);
  CHECK(conv(64, 64, 5, 1, ConvAlgorithm::winograd).algorithm() == ConvAlgorithm::gemm);
  CHECK(conv(64, 64, 1, 1, ConvAlgorithm::automatic).algorithm() == ConvAlgorithm::gemm);

  const auto e = error_of([] {
    fmviz::Conv2d<float>(Tensor<float>::zeros({4, 4, 3, 3}), Tensor<float>::zeros({4}), 1, 1, 1, 1, ConvAlgorithm::winograd, 3);
  });
  REQUIRE(e);
  CHECK(e->field() == "Conv2d.winograd_tile");
  CHECK_THAT(std::string(e->what()), contains("2, 4 or 6"));
}

TEST_CASE("An exception inside a parallel loop reaches the caller as an fmviz::Error", "[parallel]") {
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    ThreadCount t(threads);
    const auto e = error_of([] {
      fmviz::detail::parallel_for(64, [](std::size_t i) {
        if (i == 37) throw fmviz::Error({}, "item 37", "failed on purpose");
      });
    });
    REQUIRE(e);
    CHECK_THAT(std::string(e->what()), contains("failed on purpose"));
  }
  ThreadCount t(2);
  if (fmviz::thread_count() < 2) {
    WARN("skipped: built without OpenMP, so loops run on the caller's thread and std::bad_alloc passes through unchanged");
    return;
  }
  const auto oom = error_of([] {
    fmviz::detail::parallel_for(8, [](std::size_t i) {
      if (i == 5) throw std::bad_alloc();
    });
  });
  REQUIRE(oom);
  CHECK_THAT(std::string(oom->what()), contains("out of memory"));
}

namespace {

/// Checks that weights transformed at each forward give, bit for bit, what weights transformed once give (twice
/// over: the scratch memory is reused, not stale); returns the per-forward result.
Tensor<float> check_per_forward_matches_at_build(const Tensor<float>& x, const Tensor<float>& w, const Tensor<float>& b,
                                                 std::size_t m) {
  const fmviz::Conv2d<float> once(w, b, 1, 1, 1, 1, ConvAlgorithm::winograd, m, fmviz::WinogradWeights::at_build);
  const fmviz::Conv2d<float> each(w, b, 1, 1, 1, 1, ConvAlgorithm::winograd, m, fmviz::WinogradWeights::per_forward);
  const auto a = once.forward(x);
  const auto c = each.forward(x);
  CHECK(std::equal(a.begin(), a.end(), c.begin()));
  const auto again = each.forward(x);
  CHECK(std::equal(a.begin(), a.end(), again.begin()));
  return c;
}

}  // namespace

TEST_CASE("Winograd weights transformed at each forward give the same results as weights transformed once", "[winograd][conv]") {
  const auto x = random_tensor({2, 24, 19, 22}, 61);
  const auto w = random_tensor({40, 24, 3, 3}, 62, -0.2f, 0.2f);
  const auto b = random_tensor({40}, 63);
  for (std::size_t m : {2u, 4u, 6u}) {
    CAPTURE(m);
    check_per_forward_matches_at_build(x, w, b, m);
  }
}

TEST_CASE("Winograd weights transformed at each forward: band by band, and across several tile blocks", "[winograd][conv]") {
  // 300 output channels: transformed in bands of 128 (the last one short) when the tiles make one block.
  const auto x = random_tensor({2, 160, 9, 10}, 71);
  const auto w = random_tensor({300, 160, 3, 3}, 72, -0.1f, 0.1f);
  const auto b = random_tensor({300}, 73);
  const fmviz::Conv2d<float> gemm(w, b, 1, 1, 1, 1, ConvAlgorithm::gemm);
  const auto reference = gemm.forward(x);
  for (std::size_t m : {2u, 4u, 6u}) {
    CAPTURE(m);
    const auto c = check_per_forward_matches_at_build(x, w, b, m);
    CHECK(max_err_over_max_ref(c, reference) < 1e-4);  // the bound; F(6,3) on random data reaches 1.4e-5
  }
  // A large map with few channels makes several tile blocks: then all the weights are transformed first.
  check_per_forward_matches_at_build(random_tensor({1, 16, 150, 140}, 74), random_tensor({24, 16, 3, 3}, 75, -0.2f, 0.2f),
                                     random_tensor({24}, 76), 2);
}
