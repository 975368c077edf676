# Install rules and package files for fmviz (included by the top-level CMakeLists.txt when
# FMVIZ_INSTALL is ON):
#   include/fmviz/...                      the headers
#   share/cmake/fmviz/                     fmvizConfig.cmake, fmvizConfigVersion.cmake, fmvizTargets.cmake
#                                          (namespace fmviz::) and the helpers they use (stb, decoders,
#                                          fmviz::openmp)
#   share/pkgconfig/fmviz.pc               for pkg-config (no OpenMP flags)
#   share/pkgconfig/fmviz-openmp.pc        fmviz.pc plus the OpenMP flags (fmviz.pc alone without OpenMP)
#   bin/fmviz                              the CLI, when it is built (FMVIZ_BUILD_CLI)
# and a build-tree package: find_package(fmviz) with fmviz_DIR (or CMAKE_PREFIX_PATH) set to the build folder.
# The CMake package is relocatable and architecture-independent (header-only).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FMVIZ_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/fmviz" CACHE STRING "Where to install fmviz's CMake package, relative to the prefix")
set(FMVIZ_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig" CACHE STRING "Where to install fmviz.pc, relative to the prefix")

# fmviz::fmviz carries no OpenMP. The installed config re-creates fmviz::openmp (fmvizOpenMP.cmake), finding
# OpenMP on the consumer's machine when fmviz was configured with FMVIZ_USE_OPENMP.
if(FMVIZ_USE_OPENMP)
  set(FMVIZ_CONFIG_USES_OPENMP ON)
else()
  set(FMVIZ_CONFIG_USES_OPENMP OFF)
endif()

install(TARGETS fmviz EXPORT fmvizTargets)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/fmviz" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(EXPORT fmvizTargets NAMESPACE fmviz:: DESTINATION "${FMVIZ_INSTALL_CMAKEDIR}")

set(_fmviz_package_files
  "${PROJECT_SOURCE_DIR}/cmake/FmvizStb.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/FmvizDecoders.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/fmvizStbImplementation.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/fmviz_stb_implementation.cpp"
  "${PROJECT_SOURCE_DIR}/cmake/fmvizOpenMP.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/fmvizNoOpenMP.cmake")
configure_file("${PROJECT_SOURCE_DIR}/cmake/fmvizConfig.cmake.in" "${PROJECT_BINARY_DIR}/fmvizConfig.cmake" @ONLY)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/fmvizConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES
  "${PROJECT_BINARY_DIR}/fmvizConfig.cmake"
  "${PROJECT_BINARY_DIR}/fmvizConfigVersion.cmake"
  ${_fmviz_package_files}
  DESTINATION "${FMVIZ_INSTALL_CMAKEDIR}")

# Build-tree package: the same config, with the targets pointing into the source tree.
export(EXPORT fmvizTargets NAMESPACE fmviz:: FILE "${PROJECT_BINARY_DIR}/fmvizTargets.cmake")
foreach(_fmviz_file IN LISTS _fmviz_package_files)
  get_filename_component(_fmviz_name "${_fmviz_file}" NAME)
  configure_file("${_fmviz_file}" "${PROJECT_BINARY_DIR}/${_fmviz_name}" COPYONLY)
endforeach()

# pkg-config. Debian's libstb-dev has stb.pc (headers and the compiled libstb); with header-only stb
# the consumer provides the stb implementation and include path itself.
set(FMVIZ_PC_REQUIRES "eigen3 >= 3.3, nlohmann_json >= 3.2")
if(FMVIZ_STB_LINKED)
  string(APPEND FMVIZ_PC_REQUIRES ", stb")
endif()
if(FMVIZ_HAVE_LIBJPEG)
  string(APPEND FMVIZ_PC_REQUIRES ", libjpeg")
endif()
if(FMVIZ_HAVE_LIBPNG)
  string(APPEND FMVIZ_PC_REQUIRES ", libpng")
endif()
set(FMVIZ_PC_CFLAGS "")
if(FMVIZ_HAVE_LIBJPEG)
  string(APPEND FMVIZ_PC_CFLAGS " -DFMVIZ_HAVE_LIBJPEG")
endif()
if(FMVIZ_HAVE_LIBPNG)
  string(APPEND FMVIZ_PC_CFLAGS " -DFMVIZ_HAVE_LIBPNG")
endif()
file(RELATIVE_PATH FMVIZ_PC_PREFIX_FROM_PCDIR "/${FMVIZ_INSTALL_PKGCONFIGDIR}" "/")
string(REGEX REPLACE "/$" "" FMVIZ_PC_PREFIX_FROM_PCDIR "${FMVIZ_PC_PREFIX_FROM_PCDIR}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/fmviz.pc.in" "${PROJECT_BINARY_DIR}/fmviz.pc" @ONLY)
# fmviz.pc has no -fopenmp (a consumer adds it, or uses fmviz-openmp.pc); fmviz-openmp.pc is fmviz.pc plus the
# OpenMP flags of the compiler fmviz was configured with (none without OpenMP: then it is fmviz.pc alone).
set(FMVIZ_PC_OPENMP_FLAGS "")
if(FMVIZ_USE_OPENMP AND OpenMP_CXX_FOUND)
  set(FMVIZ_PC_OPENMP_FLAGS "${OpenMP_CXX_FLAGS}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/fmviz-openmp.pc.in" "${PROJECT_BINARY_DIR}/fmviz-openmp.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/fmviz.pc" "${PROJECT_BINARY_DIR}/fmviz-openmp.pc" DESTINATION "${FMVIZ_INSTALL_PKGCONFIGDIR}")

# The command-line tool (tools/cli), when it is part of this build.
if(TARGET fmviz_cli)
  install(TARGETS fmviz_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif()
