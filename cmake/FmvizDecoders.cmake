# Finds the image decoders fmviz prefers to stb_image: libjpeg(-turbo) for JPEG, libpng for PNG. Used by
# fmviz's own build and, installed next to fmvizConfig.cmake, by the installed package (which re-finds them
# on the consumer's machine: no absolute paths are exported).
#
# Defines fmviz::decoders: an interface target linking the decoders found and defining FMVIZ_HAVE_LIBJPEG /
# FMVIZ_HAVE_LIBPNG, which the headers test. fmviz::fmviz links it. A decoder that is not found leaves its
# format to stb_image (a fallback: not hardened against crafted files, and JPEG pixels that differ from PIL's).
#
# Input: FMVIZ_USE_LIBJPEG, FMVIZ_USE_LIBPNG (ON: use the library when found). From the installed config,
# the build's findings: a decoder the build used is required again.
if(TARGET fmviz::decoders)
  return()
endif()

if(_FMVIZ_DECODERS_FROM_CONFIG)
  set(_fmviz_decoders_scope "")
else()
  option(FMVIZ_USE_LIBJPEG "Decode JPEG with libjpeg(-turbo) when found (as PIL does); else stb_image" ON)
  option(FMVIZ_USE_LIBPNG "Decode PNG with libpng when found; else stb_image" ON)
  set(_fmviz_decoders_scope GLOBAL)
endif()

add_library(fmviz::decoders INTERFACE IMPORTED ${_fmviz_decoders_scope})
set(FMVIZ_HAVE_LIBJPEG OFF)
set(FMVIZ_HAVE_LIBPNG OFF)
if(FMVIZ_USE_LIBJPEG)
  find_package(JPEG)
  if(JPEG_FOUND)
    set(FMVIZ_HAVE_LIBJPEG ON)
    set_property(TARGET fmviz::decoders APPEND PROPERTY INTERFACE_LINK_LIBRARIES JPEG::JPEG)
    set_property(TARGET fmviz::decoders APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS FMVIZ_HAVE_LIBJPEG)
  endif()
endif()
if(FMVIZ_USE_LIBPNG)
  find_package(PNG)
  if(PNG_FOUND)
    set(FMVIZ_HAVE_LIBPNG ON)
    set_property(TARGET fmviz::decoders APPEND PROPERTY INTERFACE_LINK_LIBRARIES PNG::PNG)
    set_property(TARGET fmviz::decoders APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS FMVIZ_HAVE_LIBPNG)
  endif()
endif()
if(_FMVIZ_DECODERS_FROM_CONFIG)
  foreach(_fmviz_lib IN ITEMS LIBJPEG LIBPNG)
    if(FMVIZ_USE_${_fmviz_lib} AND NOT FMVIZ_HAVE_${_fmviz_lib})  # the installed fmviz was built with it
      string(TOLOWER "${_fmviz_lib}" _fmviz_name)
      set(fmviz_FOUND FALSE)
      set(fmviz_NOT_FOUND_MESSAGE "fmviz was built with ${_fmviz_name}, which is not found here: install it, or build fmviz with -DFMVIZ_USE_${_fmviz_lib}=OFF")
    endif()
  endforeach()
else()
  if(NOT FMVIZ_HAVE_LIBJPEG OR NOT FMVIZ_HAVE_LIBPNG)
    message(STATUS "fmviz: libjpeg ${FMVIZ_HAVE_LIBJPEG}, libpng ${FMVIZ_HAVE_LIBPNG} (OFF: that format goes through stb_image)")
  endif()
  add_library(fmviz_decoders ALIAS fmviz::decoders)
endif()
unset(_fmviz_decoders_scope)
