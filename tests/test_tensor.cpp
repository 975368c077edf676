// Unit tests for fmviz::Tensor: shape, storage, alignment, copies, moves, views and checked access.
#include <fmviz/tensor.hpp>

#include "test_support.hpp"

#include <cstdint>
#include <utility>

using fmviz::Shape;
using fmviz::Tensor;
using fmviz_test::contains;
using fmviz_test::error_of;

namespace {

bool aligned64(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

Tensor<float> iota_tensor(Shape shape) {
  Tensor<float> t(std::move(shape));
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i);
  return t;
}

}  // namespace

TEST_CASE("Tensor: shape, rank, dim and size", "[tensor]") {
  Tensor<float> t({2, 3, 4, 5});
  CHECK(t.shape() == Shape{2, 3, 4, 5});
  CHECK(t.rank() == 4);
  CHECK(t.size() == 120);
  CHECK_FALSE(t.empty());
  CHECK(t.dim(0) == 2);
  CHECK(t.dim(3) == 5);
  CHECK(t.end() - t.begin() == 120);
  CHECK_THROWS_AS(t.dim(4), fmviz::Error);
  CHECK_THROWS_WITH(t.dim(4), contains("axis 4 out of range") && contains("(2,3,4,5)"));

  Tensor<float> none;
  CHECK(none.empty());
  CHECK(none.size() == 0);
  CHECK(none.rank() == 0);
  CHECK(none.data() == nullptr);

  Tensor<float> zero_sized({3, 0, 2});
  CHECK(zero_sized.empty());
  CHECK(zero_sized.shape() == Shape{3, 0, 2});

  CHECK(fmviz::shape_size({7, 1, 3}) == 21);
  CHECK(fmviz::shape_to_string({1, 64, 224, 224}) == "(1,64,224,224)");
  CHECK(fmviz::shape_to_string({}) == "()");
}

TEST_CASE("Tensor: data() is 64-byte aligned for every size and type", "[tensor]") {
  for (std::size_t n : {1u, 3u, 17u, 63u, 64u, 65u, 1000u, 4097u}) {
    Tensor<float> f({n});
    Tensor<double> d({n, 3});
    CHECK(aligned64(f.data()));
    CHECK(aligned64(d.data()));
    Tensor<float> copy = f;
    CHECK(aligned64(copy.data()));
    Tensor<float> z = Tensor<float>::zeros({n, 2});
    CHECK(aligned64(z.data()));
  }
}

TEST_CASE("Tensor: zeros and fill", "[tensor]") {
  auto z = Tensor<float>::zeros({2, 3, 5, 7});
  CHECK(z.shape() == Shape{2, 3, 5, 7});
  std::size_t nonzero = 0;
  for (float v : z) nonzero += v != 0.f;
  CHECK(nonzero == 0);
  z.fill(2.5f);
  for (float v : z) REQUIRE(v == 2.5f);
}

TEST_CASE("Tensor: NCHW element order and checked access", "[tensor]") {
  auto t = iota_tensor({2, 3, 4, 5});
  CHECK(t(0, 0, 0, 0) == 0.f);
  CHECK(t(0, 0, 0, 4) == 4.f);
  CHECK(t(0, 0, 1, 0) == 5.f);
  CHECK(t(0, 1, 0, 0) == 20.f);
  CHECK(t(1, 0, 0, 0) == 60.f);
  CHECK(t(1, 2, 3, 4) == 119.f);
  const auto& ct = t;
  CHECK(ct.at(1, 2, 3, 4) == 119.f);
  CHECK(ct.at(1, 1, 2, 3) == 60.f + 20.f + 10.f + 3.f);

  CHECK_THROWS_AS(ct.at(2, 0, 0, 0), fmviz::Error);
  CHECK_THROWS_AS(ct.at(0, 3, 0, 0), fmviz::Error);
  CHECK_THROWS_AS(ct.at(0, 0, 4, 0), fmviz::Error);
  CHECK_THROWS_AS(ct.at(0, 0, 0, 5), fmviz::Error);
  CHECK_THROWS_WITH(ct.at(0, 0, 0, 5), contains("index (0,0,0,5) out of range for shape (2,3,4,5)"));
  const Tensor<float> flat({120});
  CHECK_THROWS_AS(flat.at(0, 0, 0, 0), fmviz::Error);  // not 4-d

  CHECK(t.channel(1, 2) == t.data() + 100);
  const auto m = ct.channel_matrix(1, 2);
  CHECK(m.rows() == 4);
  CHECK(m.cols() == 5);
  CHECK(m(3, 4) == 119.f);
  CHECK(m(1, 0) == 105.f);
}

TEST_CASE("Tensor: copies are deep", "[tensor]") {
  auto a = iota_tensor({2, 3});
  Tensor<float> b = a;
  CHECK(b.shape() == a.shape());
  CHECK(b.data() != a.data());
  b[0] = 42.f;
  CHECK(a[0] == 0.f);
  CHECK(b[5] == 5.f);

  Tensor<float> c({1});
  c = a;
  CHECK(c.shape() == Shape{2, 3});
  CHECK(c.data() != a.data());
  c[5] = -1.f;
  CHECK(a[5] == 5.f);

  const Tensor<float>& same = c;
  c = same;  // self-assignment keeps the data
  CHECK(c.shape() == Shape{2, 3});
  CHECK(c[5] == -1.f);
}

TEST_CASE("Tensor: an empty or moved-from tensor can be copied", "[tensor]") {
  // Run in a child process: the copy dereferences a null buffer when the copy constructor takes the
  // size from the shape (an empty shape means one element) instead of from the source.
  CHECK(fmviz_test::runs_cleanly([] {
    const Tensor<float> empty;
    const Tensor<float> copy = empty;
    if (!copy.empty() || copy.data() != nullptr) throw std::runtime_error("copy of an empty tensor is not empty");
  }));
  CHECK(fmviz_test::runs_cleanly([] {
    Tensor<float> a({3});
    Tensor<float> b = std::move(a);
    Tensor<float> c({2});
    c = a;  // NOLINT(bugprone-use-after-move): copying the moved-from (empty) state
    if (!c.empty() || !c.shape().empty()) throw std::runtime_error("copy of a moved-from tensor is not empty");
  }));
  CHECK(fmviz_test::runs_cleanly([] {
    const Tensor<float> zero_sized({4, 0});
    const Tensor<float> copy = zero_sized;
    if (copy.shape() != Shape{4, 0} || !copy.empty()) throw std::runtime_error("bad copy of a zero-sized tensor");
  }));
}

TEST_CASE("Tensor: moves transfer the buffer and leave the source empty", "[tensor]") {
  auto a = iota_tensor({4, 5});
  const float* p = a.data();
  Tensor<float> b = std::move(a);
  CHECK(b.data() == p);
  CHECK(b.shape() == Shape{4, 5});
  CHECK(b.size() == 20);
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  CHECK(a.size() == 0);
  CHECK(a.shape().empty());
  CHECK(a.data() == nullptr);

  Tensor<float> c({2});
  c = std::move(b);
  CHECK(c.data() == p);
  CHECK(c.shape() == Shape{4, 5});
  CHECK(c[19] == 19.f);
  CHECK(b.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(b.shape().empty());
  CHECK(b.data() == nullptr);
}

TEST_CASE("Tensor: reshaped keeps the elements and refuses a different size", "[tensor]") {
  auto a = iota_tensor({2, 3, 4});
  const float* p = a.data();
  auto b = std::move(a).reshaped({6, 4});
  CHECK(b.shape() == Shape{6, 4});
  CHECK(b.data() == p);
  CHECK(b[23] == 23.f);

  auto err = error_of([&] { auto c = std::move(b).reshaped({5, 5}); });
  REQUIRE(err);
  CHECK(err->field() == "reshape");
  CHECK_THAT(err->what(), contains("cannot view (6,4) as (5,5)"));
}

TEST_CASE("Tensor: matrix() and vector() alias the data", "[tensor]") {
  auto t = iota_tensor({2, 3, 2, 2});
  auto m = t.matrix(6, 4);
  CHECK(m.rows() == 6);
  CHECK(m.cols() == 4);
  CHECK(m.data() == t.data());
  CHECK(m(1, 0) == 4.f);  // row-major
  CHECK(m(5, 3) == 23.f);
  m(2, 1) = -7.f;
  CHECK(t[9] == -7.f);

  auto v = t.vector();
  CHECK(v.size() == 24);
  CHECK(v.data() == t.data());
  v(23) = 100.f;
  CHECK(t(1, 2, 1, 1) == 100.f);
  v.setConstant(1.f);
  for (float x : t) REQUIRE(x == 1.f);

  const auto& ct = t;
  CHECK(ct.matrix(4, 6).data() == t.data());
  CHECK(ct.vector().sum() == Approx(24.0));

  CHECK_THROWS_AS(t.matrix(5, 5), fmviz::Error);
  CHECK_THROWS_WITH(t.matrix(5, 5), contains("5x5 view of a tensor of shape (2,3,2,2)"));
}
