// fmviz's version. Kept equal to project(fmviz VERSION ...) in CMakeLists.txt (a CTest test checks it).
#pragma once

#define FMVIZ_VERSION_MAJOR 0
#define FMVIZ_VERSION_MINOR 1
#define FMVIZ_VERSION_PATCH 0
/// MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons.
#define FMVIZ_VERSION (FMVIZ_VERSION_MAJOR * 10000 + FMVIZ_VERSION_MINOR * 100 + FMVIZ_VERSION_PATCH)
#define FMVIZ_VERSION_STRING "0.1.0"
