// PNG output through stb_image_write, always atomic: a temporary name, then a rename.
#pragma once

#include <climits>
#include <ostream>
#include <string>
#include <vector>

#include "detail/atomic_file.hpp"
#include "detail/stb.hpp"
#include "error.hpp"
#include "image8.hpp"

namespace fmviz {

/// The PNG encoding of `img`.
inline std::vector<unsigned char> encode_png(const Image8& img) {
  if (img.width == 0 || img.height == 0 || img.width > INT_MAX / 4 || img.height > INT_MAX / 4 ||
      img.pixels.size() != img.width * img.height * img.channels)
    throw Error({}, "png", "cannot encode a " + std::to_string(img.width) + "x" + std::to_string(img.height) + "x" +
                               std::to_string(img.channels) + " image");
  std::vector<unsigned char> bytes;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(context);
    const auto* p = static_cast<const unsigned char*>(data);
    out->insert(out->end(), p, p + size);
  };
  const int w = static_cast<int>(img.width), h = static_cast<int>(img.height), c = static_cast<int>(img.channels);
  if (!stbi_write_png_to_func(append, &bytes, w, h, c, img.pixels.data(), w * c))
    throw Error({}, "png", "encoding failed");
  return bytes;
}

/// Writes `img` as a PNG file; a failure leaves no file behind.
inline void write_png(const std::string& path, const Image8& img) {
  std::vector<unsigned char> bytes;
  try {
    bytes = encode_png(img);
  } catch (const Error& e) {
    throw Error(path, "png", e.what());
  }
  detail::write_file_atomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  });
}

}  // namespace fmviz
