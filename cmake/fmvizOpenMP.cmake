# fmviz::openmp: fmviz::fmviz plus OpenMP::OpenMP_CXX, for a program that wants fmviz's loops and Eigen's
# products threaded. fmviz::fmviz itself never carries OpenMP (as with Eigen, the consumer chooses): a program
# that links fmviz::fmviz alone runs single-threaded unless it is compiled with OpenMP itself.
# Used by fmviz's own build, by the installed fmvizConfig.cmake and as a Conan build module.
#
# Input: FMVIZ_USE_OPENMP (unset: ON). When it is OFF, or when the compiler has no OpenMP, fmviz::openmp
# exists all the same and is fmviz::fmviz alone (single-threaded), so the same CMake code works everywhere.
# (fmvizNoOpenMP.cmake includes this file with OpenMP turned off.)
# Output: FMVIZ_OPENMP_FOUND, ON when fmviz::openmp links OpenMP.
if(TARGET fmviz::openmp)
  return()
endif()

if(_FMVIZ_OPENMP_FROM_BUILD)  # fmviz's own build (top level, add_subdirectory or FetchContent)
  set(_fmviz_openmp_scope GLOBAL)
else()
  set(_fmviz_openmp_scope "")
endif()
add_library(fmviz::openmp INTERFACE IMPORTED ${_fmviz_openmp_scope})
set_property(TARGET fmviz::openmp PROPERTY INTERFACE_LINK_LIBRARIES fmviz::fmviz)

set(FMVIZ_OPENMP_FOUND OFF)
if(NOT _FMVIZ_OPENMP_DISABLED AND (NOT DEFINED FMVIZ_USE_OPENMP OR FMVIZ_USE_OPENMP))
  get_property(_fmviz_openmp_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT TARGET OpenMP::OpenMP_CXX AND "CXX" IN_LIST _fmviz_openmp_languages)
    find_package(OpenMP QUIET COMPONENTS CXX)  # not REQUIRED: without OpenMP, fmviz::openmp is fmviz::fmviz
  endif()
  if(TARGET OpenMP::OpenMP_CXX)
    set_property(TARGET fmviz::openmp APPEND PROPERTY INTERFACE_LINK_LIBRARIES OpenMP::OpenMP_CXX)
    set(FMVIZ_OPENMP_FOUND ON)
  endif()
  unset(_fmviz_openmp_languages)
endif()
unset(_fmviz_openmp_scope)
