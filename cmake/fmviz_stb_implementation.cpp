// The stb_image / stb_image_write implementation, compiled once (the fmviz::stb_implementation target).
#define FMVIZ_STB_IMPLEMENTATION
#include <fmviz/detail/stb.hpp>
