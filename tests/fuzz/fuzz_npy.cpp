// read_npy on arbitrary files, into float and double tensors.
#include <fmviz/npy.hpp>

#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fmviz_fuzz::scratch_file(data, size, ".npy");
  try {
    (void)fmviz::read_npy<float>(path);
  } catch (const fmviz::Error&) {
  }
  try {
    (void)fmviz::read_npy<double>(path);
  } catch (const fmviz::Error&) {
  }
  return 0;
}
