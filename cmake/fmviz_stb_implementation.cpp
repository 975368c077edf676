// The stb_image / stb_image_write implementation, compiled once (the fmviz::stb_implementation target).
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <fmviz/detail/stb.hpp>
