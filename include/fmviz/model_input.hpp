// The network's input: how VGG expects its pixels (Preset, the ImageNet and Caffe means) and the image file to
// normalised 1x3xHxW tensor in one call (load_image). Knowledge about the model, not about images.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

#include "decode.hpp"
#include "error.hpp"
#include "resize.hpp"
#include "rgb_image.hpp"
#include "tensor.hpp"

namespace fmviz {

/// How pixels are turned into network input: the convention the weights were trained with.
enum class Preset {
  torchvision,  ///< RGB, (v - mean) / std with ImageNet's mean and std (imagenet_mean, imagenet_std)
  caffe,        ///< BGR, 0-255 scale minus the mean pixel (caffe_bgr_mean): the original VGG release
};

/// ImageNet's per-channel mean and standard deviation, R G B, of values in [0, 1]: torchvision's Normalize.
inline constexpr double imagenet_mean[3] = {0.485, 0.456, 0.406};
inline constexpr double imagenet_std[3] = {0.229, 0.224, 0.225};
/// The original VGG release's mean pixel, B G R, on the 0-255 scale: what Caffe subtracts.
inline constexpr double caffe_bgr_mean[3] = {103.939, 116.779, 123.68};

/// "torchvision" or "caffe", as parse_preset() reads it.
inline const char* to_string(Preset preset) noexcept { return preset == Preset::torchvision ? "torchvision" : "caffe"; }

/// Words for people: what the preset does to the pixels.
inline const char* describe(Preset preset) noexcept {
  return preset == Preset::torchvision ? "RGB in [0, 1], ImageNet mean and std (torchvision)"
                                       : "BGR in [0, 255], minus the mean pixel (the original VGG release, Caffe)";
}

/// "torchvision" or "caffe"; anything else throws fmviz::Error on field "preset".
inline Preset parse_preset(const std::string& text) {
  if (text == "torchvision") return Preset::torchvision;
  if (text == "caffe") return Preset::caffe;
  throw Error({}, "preset", "expects torchvision or caffe, got '" + text + "'");
}

/// What load_image and preprocess do to an image.
struct ImageOptions {
  std::size_t size = 224;                 ///< resize to size x size; 0 keeps the image's own size
  Preset preset = Preset::torchvision;
  std::size_t max_pixels = 100'000'000;   ///< refuse larger images (width * height) before decoding them
};

/// The image as a 1x3xHxW tensor, normalised for the network as `preset` says.
template <typename T>
Tensor<T> to_tensor(const RgbImage& img, Preset preset) {
  static_assert(std::is_floating_point_v<T>, "to_tensor makes floating-point tensors");
  detail::check_image(img, "to_tensor");
  const std::size_t plane = img.width * img.height;
  Tensor<T> t({1, 3, img.height, img.width});
  if (preset == Preset::torchvision) {
    for (std::size_t c = 0; c < 3; ++c) {
      T* dst = t.data() + c * plane;
      const T m = static_cast<T>(imagenet_mean[c]), s = static_cast<T>(imagenet_std[c]);
      for (std::size_t i = 0; i < plane; ++i) dst[i] = (static_cast<T>(img.pixels[3 * i + c]) - m) / s;
    }
  } else {
    for (std::size_t c = 0; c < 3; ++c) {  // output channel c is B, G, R: input channel 2 - c
      T* dst = t.data() + c * plane;
      const T m = static_cast<T>(caffe_bgr_mean[c]);
      for (std::size_t i = 0; i < plane; ++i) dst[i] = static_cast<T>(img.pixels[3 * i + (2 - c)]) * T(255) - m;
    }
  }
  return t;
}

/// Resizes (unless options.size is 0 or the image is already that size) and normalises.
template <typename T>
Tensor<T> preprocess(const RgbImage& img, const ImageOptions& options = {}) {
  if (options.size != 0 && (img.width != options.size || img.height != options.size))
    return to_tensor<T>(resize_bilinear(img, options.size, options.size), options.preset);
  return to_tensor<T>(img, options.preset);
}

/// read_image then preprocess: the network input for an image file.
template <typename T>
Tensor<T> load_image(const std::string& path, const ImageOptions& options = {}) {
  return preprocess<T>(read_image(path, options.max_pixels), options);
}

}  // namespace fmviz
