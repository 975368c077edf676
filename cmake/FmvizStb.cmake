# Finds stb for fmviz. Used by fmviz's own build and, installed next to fmvizConfig.cmake, by the
# installed package, so a consumer re-finds stb on its own machine (no absolute paths are exported).
#
# Defines:
#   fmviz::stb                 stb's include directory, plus a compiled stb library when one is linked.
#                              fmviz::fmviz links it. (fmviz_stb is an alias, in fmviz's own build.)
#   fmviz::stb_implementation  opt-in: compiles the stb_image / stb_image_write implementation once.
#                              A no-op when a compiled stb library already holds it.
#
# Where stb comes from:
#   Debian's libstb-dev  headers in <prefix>/include/stb, plus libstb.so, which holds the stb
#                        implementation: linked, so nothing else is needed.
#   vcpkg's / Conan's    header-only: a program links fmviz::stb_implementation in one target, or
#   stb                  compiles stb itself, as stb asks: STB_IMAGE_IMPLEMENTATION and
#                        STB_IMAGE_WRITE_IMPLEMENTATION defined in one source file before including fmviz.
#
# Input: FMVIZ_STB_USE_LIBRARY (link a compiled stb library when one is found; OFF treats stb as
# header-only, which is what vcpkg and Conan provide; the installed package keeps the build's choice).
if(TARGET fmviz::stb)
  return()
endif()

if(_FMVIZ_STB_FROM_CONFIG)
  set(_fmviz_stb_scope "")
else()  # fmviz's own build (top level, add_subdirectory or FetchContent)
  option(FMVIZ_STB_USE_LIBRARY "Link a compiled stb library (Debian's libstb) when found; OFF: header-only stb (vcpkg, Conan)" ON)
  set(_fmviz_stb_scope GLOBAL)
endif()

find_path(FMVIZ_STB_INCLUDE_DIR NAMES stb_image.h PATH_SUFFIXES stb
  DOC "Directory holding stb_image.h and stb_image_write.h")
if(NOT FMVIZ_STB_INCLUDE_DIR OR NOT EXISTS "${FMVIZ_STB_INCLUDE_DIR}/stb_image_write.h")
  set(_fmviz_stb_message "fmviz needs stb (stb_image.h and stb_image_write.h): install Debian's libstb-dev, or stb from vcpkg or Conan, or set FMVIZ_STB_INCLUDE_DIR")
  if(_FMVIZ_STB_FROM_CONFIG)  # from the installed fmvizConfig.cmake: let find_package report it
    set(fmviz_FOUND FALSE)
    set(fmviz_NOT_FOUND_MESSAGE "${_fmviz_stb_message}")
    return()
  endif()
  message(FATAL_ERROR "${_fmviz_stb_message}")
endif()

set(FMVIZ_STB_LINKED OFF)
if(FMVIZ_STB_USE_LIBRARY)
  find_library(FMVIZ_STB_LIBRARY NAMES stb DOC "A compiled stb library holding the stb_image/stb_image_write implementation (Debian's libstb)")
  if(FMVIZ_STB_LIBRARY)
    set(FMVIZ_STB_LINKED ON)
  endif()
endif()

add_library(fmviz::stb INTERFACE IMPORTED ${_fmviz_stb_scope})
set_target_properties(fmviz::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${FMVIZ_STB_INCLUDE_DIR}")
if(FMVIZ_STB_LINKED)
  set_target_properties(fmviz::stb PROPERTIES INTERFACE_LINK_LIBRARIES "${FMVIZ_STB_LIBRARY}")
endif()

if(NOT TARGET fmviz::stb_implementation)
  if(FMVIZ_STB_LINKED)
    add_library(fmviz::stb_implementation INTERFACE IMPORTED ${_fmviz_stb_scope})
  else()
    include("${CMAKE_CURRENT_LIST_DIR}/fmvizStbImplementation.cmake")
  endif()
endif()
if(NOT _FMVIZ_STB_FROM_CONFIG)
  add_library(fmviz_stb ALIAS fmviz::stb)  # the name fmviz's CMakeLists.txt links
endif()
unset(_fmviz_stb_scope)
