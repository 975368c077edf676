// Lucid's standard transforms, drawn at random at every step and composed into one AffineWarp: pad 12 (grey),
// jitter 8, scale by one of 1 + (i - 5) / 50 (i = 0..10), rotate by one of -10..10 degrees (0 five times more likely,
// as in Lucid's list), jitter 4. An image that excites the channel through all of them at once cannot rely on exact
// pixel positions: this is what keeps the result free of high-frequency adversarial noise.
#pragma once

#include <cmath>
#include <cstddef>

#include "affine_warp.hpp"
#include "../../detail/random.hpp"

namespace fmviz {
namespace detail {

struct TransformDraw {
  std::size_t jitter1_x = 0, jitter1_y = 0;  ///< first crop's offsets, 0..8
  double scale = 1.0;
  double degrees = 0.0;
  std::size_t jitter2_x = 0, jitter2_y = 0;  ///< last crop's offsets, 0..4
};

struct TransformRecipe {
  std::size_t pad = 12, jitter1 = 8, jitter2 = 4;
  /// Output side for a `size` x `size` image: the chain's at scale 1, size + 2 pad - jitter1 - jitter2 (size + 12).
  std::size_t output_size(std::size_t size) const noexcept { return size + 2 * pad - jitter1 - jitter2; }
};

/// One draw, in Lucid's order: jitter, scale, rotation, jitter.
inline TransformDraw draw_transform(Random& random, const TransformRecipe& recipe = {}) {
  TransformDraw d;
  d.jitter1_x = random.below(recipe.jitter1 + 1);
  d.jitter1_y = random.below(recipe.jitter1 + 1);
  d.scale = 1.0 + (static_cast<double>(random.below(11)) - 5.0) / 50.0;
  const std::size_t a = random.below(26);  // Lucid: list(range(-10, 11)) + 5 * [0]
  d.degrees = a < 21 ? static_cast<double>(a) - 10.0 : 0.0;
  d.jitter2_x = random.below(recipe.jitter2 + 1);
  d.jitter2_y = random.below(recipe.jitter2 + 1);
  return d;
}

/// The warp that does the whole chain on a `size` x `size` image. Lucid resizes the image for the scale and lets the
/// output grow and shrink with it; here the scale and the rotation are about the centre of the jittered frame and the
/// output keeps recipe.output_size(size), so that every step's batch has the same shape (the crop then cuts up to 10%
/// more or less of the padded border).
inline AffineWarp transform_warp(const TransformDraw& d, std::size_t size, const TransformRecipe& recipe = {}) {
  AffineWarp w;
  w.in_h = w.in_w = size;
  w.out_h = w.out_w = recipe.output_size(size);
  const double frame = static_cast<double>(size + 2 * recipe.pad - recipe.jitter1);
  const double c = (frame - 1.0) / 2.0;
  const double t = d.degrees * 3.14159265358979323846 / 180.0;
  const double cs = std::cos(t) / d.scale, sn = std::sin(t) / d.scale;
  // Output q -> rotated frame r = q + jitter2 -> before rotation and scale u = c + A (r - c), A = R(-t) / s ->
  // padded image u + jitter1 -> source u + jitter1 - pad.
  const double pad = static_cast<double>(recipe.pad);
  const double rx = static_cast<double>(d.jitter2_x) - c, ry = static_cast<double>(d.jitter2_y) - c;
  w.m[0] = cs, w.m[1] = sn, w.m[2] = cs * rx + sn * ry + c + static_cast<double>(d.jitter1_x) - pad;
  w.m[3] = -sn, w.m[4] = cs, w.m[5] = -sn * rx + cs * ry + c + static_cast<double>(d.jitter1_y) - pad;
  return w;
}

}  // namespace detail
}  // namespace fmviz
