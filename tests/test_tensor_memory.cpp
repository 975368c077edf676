// Recycled tensor memory: what the recycler keeps and hands back, and that forwards reusing blocks (which hold
// the previous forward's data) give the same results as forwards on fresh memory.
#include <fmviz/network.hpp>

#include "conv_reference.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

using fmviz::LayerKind;
using fmviz::Tensor;
using fmviz::detail::BlockRecycler;
using fmviz_test::random_tensor;

namespace {

void* block(std::size_t bytes) { return ::operator new(bytes, std::align_val_t(fmviz::detail::tensor_alignment)); }

constexpr std::size_t MiB = std::size_t(1) << 20;

fmviz::Network<float> small_vgg() {
  std::vector<fmviz::Layer<float>> layers;
  std::uint32_t seed = 300;
  auto conv = [&](std::size_t out, std::size_t in) {
    auto weight = random_tensor({out, in, 3, 3}, seed++, -0.2f, 0.2f);
    auto bias = random_tensor({out}, seed++);
    return fmviz::Conv2d<float>(std::move(weight), std::move(bias), 1, 1);
  };
  layers.emplace_back("conv1_1", conv(16, 3));
  layers.emplace_back("relu1_1", fmviz::ReLU{});
  layers.emplace_back("conv1_2", conv(16, 16));
  layers.emplace_back("relu1_2", fmviz::ReLU{});
  layers.emplace_back("pool1", fmviz::MaxPool2d(2, 2));
  layers.emplace_back("conv2_1", conv(32, 16));
  layers.emplace_back("relu2_1", fmviz::ReLU{});
  layers.emplace_back("pool2", fmviz::MaxPool2d(2, 2));
  return fmviz::Network<float>(std::move(layers));
}

}  // namespace

TEST_CASE("The block recycler reuses a block for requests of a quarter of its size up to its size", "[tensor][memory]") {
  BlockRecycler recycler;
  std::size_t capacity = 0;
  REQUIRE(recycler.take(MiB, capacity) == nullptr);
  void* four = block(4 * MiB);
  void* two = block(2 * MiB);
  REQUIRE(recycler.keep(four, 4 * MiB));
  REQUIRE(recycler.keep(two, 2 * MiB));
  CHECK(recycler.kept_bytes() == 6 * MiB);
  CHECK(recycler.take(5 * MiB, capacity) == nullptr);          // larger than every block
  CHECK(recycler.take(MiB / 2 - 1, capacity) == nullptr);      // both blocks over 4x the request
  CHECK(recycler.take(3 * MiB, capacity) == four);             // the only one large enough
  CHECK(capacity == 4 * MiB);
  REQUIRE(recycler.keep(four, 4 * MiB));
  CHECK(recycler.take(MiB + 1, capacity) == two);              // the smallest block that fits
  CHECK(capacity == 2 * MiB);
  BlockRecycler::release(two);
  std::vector<void*> blocks;
  while (recycler.keep(blocks.emplace_back(block(MiB)), MiB)) {}  // full: the caller frees the last one
  BlockRecycler::release(blocks.back());
  CHECK(blocks.size() > 2);
  recycler.release_all();  // and `four`
  CHECK(recycler.kept_bytes() == 0);
}

TEST_CASE("Forwards on recycled memory match forwards on fresh memory, and the memory kept is bounded", "[tensor][memory]") {
  const fmviz::Network<float> net = small_vgg();
  const Tensor<float> x = random_tensor({2, 3, 96, 100}, 11);  // conv1 outputs of 1.2 MiB: recycled
  fmviz::release_recycled_memory();
  std::size_t largest = 0;
  std::vector<Tensor<float>> first;
  const Tensor<float> fresh = net.forward(x, [&](const fmviz::LayerInfo&, const Tensor<float>& out) {
    largest = std::max(largest, out.size() * sizeof(float));
    first.push_back(out);
  });
  CHECK(fmviz::recycled_memory_bytes() >= largest);  // the largest outputs were kept for the next forward
  std::size_t i = 0;
  bool same = true;
  const Tensor<float> again = net.forward(x, [&](const fmviz::LayerInfo&, const Tensor<float>& out) {
    same = same && out.shape() == first[i].shape() && std::equal(out.begin(), out.end(), first[i].begin());
    ++i;
  });
  CHECK(same);
  CHECK(i == first.size());
  CHECK(std::equal(again.begin(), again.end(), fresh.begin()));
  const std::size_t kept = fmviz::recycled_memory_bytes();
  CHECK(kept >= largest);
  CHECK(kept <= 3 * largest);  // about twice the largest output, not one block per layer
  (void)net.forward(x);
  CHECK(fmviz::recycled_memory_bytes() == kept);  // the same blocks went round again

  // A different input size gets what fits from the blocks kept, and the same results as on fresh memory.
  const Tensor<float> y = random_tensor({1, 3, 120, 90}, 12);
  const Tensor<float> on_recycled = net.forward(y);
  fmviz::release_recycled_memory();
  CHECK(fmviz::recycled_memory_bytes() == 0);
  const Tensor<float> on_fresh = net.forward(y);
  CHECK(std::equal(on_recycled.begin(), on_recycled.end(), on_fresh.begin()));
  fmviz::release_recycled_memory();
}

TEST_CASE("A copy made during a forward takes only a recycled block of its own size", "[tensor][memory]") {
  BlockRecycler recycler;
  void* four = block(4 * MiB);
  REQUIRE(recycler.keep(four, 4 * MiB));
  std::size_t capacity = 0;
  CHECK(recycler.take(3 * MiB, capacity, 1) == nullptr);  // what a copy asks for: no larger block
  CHECK(recycler.take(4 * MiB, capacity, 1) == four);
  BlockRecycler::release(four);

  const fmviz::Network<float> net = small_vgg();
  fmviz::release_recycled_memory();
  std::vector<Tensor<float>> kept;
  (void)net.forward(random_tensor({2, 3, 96, 100}, 13), [&](const fmviz::LayerInfo&, const Tensor<float>& out) { kept.push_back(out); });
  CHECK(kept.size() == net.layers().size());
  CHECK(kept.front().size() == 2u * 16 * 96 * 100);
  fmviz::release_recycled_memory();
}

TEST_CASE("Tensors freed outside a forward are not kept", "[tensor][memory]") {
  fmviz::release_recycled_memory();
  { const Tensor<float> big({4, MiB / sizeof(float)}); }
  CHECK(fmviz::recycled_memory_bytes() == 0);
}
