// One network shared by several threads: concurrent forwards (each with its own workspace) give, bit for bit,
// what a lone forward gives. CI also runs this file under ThreadSanitizer, built without OpenMP.
#include <fmviz/network.hpp>

#include "conv_reference.hpp"
#include "test_support.hpp"

#include <cstddef>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using fmviz::LayerKind;
using fmviz::Tensor;
using fmviz_test::random_tensor;

namespace {

/// A small VGG-like stack: GEMM and Winograd convs of several shapes, ReLU and pooling between them.
fmviz::Network<float> shared_network() {
  std::vector<fmviz::Layer<float>> layers;
  std::uint32_t seed = 900;
  auto conv = [&](std::size_t out, std::size_t in) {
    auto weight = random_tensor({out, in, 3, 3}, seed++, -0.2f, 0.2f);
    auto bias = random_tensor({out}, seed++);
    return fmviz::Conv2d<float>(std::move(weight), std::move(bias), 1, 1);
  };
  layers.emplace_back("conv1", conv(16, 3));   // GEMM (3 input channels)
  layers.emplace_back("relu1", fmviz::ReLU{});
  layers.emplace_back("conv2", conv(24, 16));  // Winograd
  layers.emplace_back("relu2", fmviz::ReLU{});
  layers.emplace_back("pool2", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("conv3", conv(40, 24));  // Winograd, different workspace sizes
  layers.emplace_back("relu3", fmviz::ReLU{});
  return fmviz::Network<float>(std::move(layers));
}

}  // namespace

TEST_CASE("Concurrent forwards on one shared network match a lone forward bit for bit", "[concurrency]") {
  const fmviz::Network<float> net = shared_network();
  constexpr std::size_t threads = 4;
  std::vector<Tensor<float>> inputs, expected, results(threads);
  for (std::size_t t = 0; t < threads; ++t) {
    // Different sizes per thread, so their workspaces differ and grow at different times; the larger ones have
    // layer outputs over 1 MiB, which each thread recycles from forward to forward.
    inputs.push_back(random_tensor({1 + t % 2, 3, 30 + 37 * t, 41 + 23 * t}, static_cast<std::uint32_t>(70 + t)));
    expected.push_back(net.forward(inputs.back()));
  }
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int repeat = 0; repeat < 3; ++repeat) results[t] = net.forward(inputs[t]);
    });
  for (auto& th : pool) th.join();
  for (std::size_t t = 0; t < threads; ++t) {
    CAPTURE(t);
    REQUIRE(results[t].shape() == expected[t].shape());
    CHECK(std::equal(results[t].begin(), results[t].end(), expected[t].begin()));
  }
}

TEST_CASE("Concurrent backwards on one shared network, its transposed layers built by the first, match a lone one", "[concurrency]") {
  constexpr std::size_t threads = 4;
  std::vector<Tensor<float>> inputs, seeds, expected, results(threads);
  {
    const fmviz::Network<float> lone = shared_network();
    for (std::size_t t = 0; t < threads; ++t) {
      inputs.push_back(random_tensor({1, 3, 20 + 9 * t, 26 + 5 * t}, static_cast<std::uint32_t>(80 + t)));
      const auto trace = lone.trace(inputs.back());
      seeds.push_back(random_tensor(trace.outputs.back().shape(), static_cast<std::uint32_t>(90 + t)));
      expected.push_back(lone.backward(trace, "relu3", seeds.back()));
    }
  }
  // A fresh network: no backward has built its transposed conv layers yet, so the threads race to build them.
  // Even threads go back to the image, odd ones to relu2 on a trace that kept only relu2 on; then once more with
  // guided backpropagation.
  const fmviz::Network<float> net = shared_network();
  std::vector<Tensor<float>> guided(threads);
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const std::string to = t % 2 ? "relu2" : "";
      const auto trace = net.trace(inputs[t], "", to);
      results[t] = net.backward(trace, "relu3", seeds[t], to);
      guided[t] = net.backward(trace, "relu3", seeds[t], to, fmviz::GradientRule::guided);
    });
  for (auto& th : pool) th.join();
  for (std::size_t t = 0; t < threads; t += 2) {
    CAPTURE(t);
    REQUIRE(results[t].shape() == inputs[t].shape());
    CHECK(std::equal(results[t].begin(), results[t].end(), expected[t].begin()));
    CHECK_FALSE(std::equal(guided[t].begin(), guided[t].end(), expected[t].begin()));
  }
  CHECK(results[1].shape() == net.output_shape(inputs[1].shape(), "relu2"));
}
