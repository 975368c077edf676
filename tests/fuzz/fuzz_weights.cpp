// The weight loader through load_vgg16: the first byte picks the format (raw float32 or safetensors) and how far
// the network is built, the rest is the file.
#include <fmviz/vgg.hpp>

#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool safetensors = data[0] & 1;
  // Raw files must match whole conv layers: stopping early lets small inputs reach the end of the parser.
  static const char* const last_layers[] = {"conv1_1", "conv1_2", "", "pool1"};
  fmviz::LoadOptions options;
  options.last_layer = last_layers[(data[0] >> 1) & 3];
  options.winograd_weights = fmviz::WinogradWeights::per_forward;  // a fuzz run need not transform weights
  const std::string path = fmviz_fuzz::scratch_file(data + 1, size - 1, safetensors ? ".safetensors" : ".bin");
  try {
    (void)fmviz::load_vgg16<float>(path, options);
  } catch (const fmviz::Error&) {
  }
  return 0;
}
