# Finds stb for fmviz and defines the INTERFACE target fmviz_stb.
#
# fmviz includes <stb/stb_image.h> (Debian's libstb-dev) or <stb_image.h> (vcpkg, Conan). The stb
# implementation must be compiled exactly once in a program: where a compiled stb library exists
# (Debian ships libstb.so), fmviz_stb links it; otherwise a consumer opts in by defining
# FMVIZ_STB_IMPLEMENTATION in exactly one source file before including <fmviz/vgg.hpp>.
find_path(FMVIZ_STB_INCLUDE_DIR NAMES stb_image.h stb_image_write.h PATH_SUFFIXES stb)
find_library(FMVIZ_STB_LIBRARY NAMES stb)
if(NOT FMVIZ_STB_INCLUDE_DIR)
  message(FATAL_ERROR "fmviz needs stb (stb_image.h, stb_image_write.h): install libstb-dev, or stb from vcpkg or Conan")
endif()
add_library(fmviz_stb INTERFACE)
get_filename_component(_fmviz_stb_parent "${FMVIZ_STB_INCLUDE_DIR}" DIRECTORY)
target_include_directories(fmviz_stb SYSTEM INTERFACE "${FMVIZ_STB_INCLUDE_DIR}")
if(FMVIZ_STB_LIBRARY)
  target_link_libraries(fmviz_stb INTERFACE "${FMVIZ_STB_LIBRARY}")
endif()
