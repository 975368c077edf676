# fmviz::openmp without OpenMP: fmviz::fmviz alone (single-threaded). The Conan recipe's build module when
# fmviz/*:with_openmp=False; fmviz's CMake package gets the same from fmvizOpenMP.cmake with FMVIZ_USE_OPENMP=OFF.
set(_FMVIZ_OPENMP_DISABLED ON)
include("${CMAKE_CURRENT_LIST_DIR}/fmvizOpenMP.cmake")
unset(_FMVIZ_OPENMP_DISABLED)
