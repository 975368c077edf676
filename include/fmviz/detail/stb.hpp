// stb_image / stb_image_write declarations, and their implementation only when asked for.
//
// The stb implementation must exist exactly once in a program. Where a compiled stb library is
// linked (Debian's libstb, which the fmviz CMake package links when it finds it), nothing more is
// needed. Otherwise define FMVIZ_STB_IMPLEMENTATION in exactly one source file before including
// any fmviz header. A program that already compiles stb itself (its own STB_IMAGE_IMPLEMENTATION)
// must not define it.
#pragma once

#if defined(FMVIZ_STB_IMPLEMENTATION) && !defined(FMVIZ_DETAIL_STB_IMPLEMENTED)
#define FMVIZ_DETAIL_STB_IMPLEMENTED
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wpedantic"
#endif

#if __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#else
#include <stb_image.h>
#include <stb_image_write.h>
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#if defined(FMVIZ_DETAIL_STB_IMPLEMENTED)
#undef STB_IMAGE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#endif
