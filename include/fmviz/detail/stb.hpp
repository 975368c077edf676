// stb_image / stb_image_write declarations. fmviz never compiles the stb implementation itself.
//
// The stb implementation must exist exactly once in a program:
//  - Debian's libstb-dev ships it compiled (libstb.so), and the fmviz CMake package and fmviz.pc link
//    it: nothing more to do.
//  - vcpkg's and Conan's stb are header-only: link the CMake target fmviz::stb_implementation into one
//    target of the program, or compile stb the usual stb way: in exactly one source file, define
//    STB_IMAGE_IMPLEMENTATION and STB_IMAGE_WRITE_IMPLEMENTATION before including any fmviz header.
//  - A program that already compiles stb itself keeps doing so.
//
// The headers are found as <stb_image.h> (vcpkg, Conan, or Debian with -I<prefix>/include/stb, which
// the CMake package and `pkg-config --cflags stb` add), else as <stb/stb_image.h> (Debian, no flags).
#pragma once

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wshadow"
#endif

#if __has_include(<stb_image.h>)
#include <stb_image.h>
#include <stb_image_write.h>
#elif __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#else
#error "fmviz needs stb: install Debian's libstb-dev (<stb/stb_image.h>) or stb from vcpkg or Conan (<stb_image.h>)"
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
