// Image decoding and preprocessing: decode_image on arbitrary bytes (every format fmviz reads: libjpeg, libpng,
// stb_image), then the resize and normalisation a forward would see. Errors must be fmviz::Error; anything else
// (a crash, a sanitizer report, another exception, a hang) is a finding.
#include <fmviz/image.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    // A small pixel limit keeps each run fast (a quarter megapixel); the limit itself is part of what is tested.
    const fmviz::RgbImage img = fmviz::decode_image(data, size, "fuzz", std::size_t(1) << 18);
    fmviz::ImageOptions options;
    options.size = 32;
    (void)fmviz::to_tensor<float>(fmviz::resize_bilinear(img, options.size, options.size), options.preset);
  } catch (const fmviz::Error&) {
  }
  return 0;
}
