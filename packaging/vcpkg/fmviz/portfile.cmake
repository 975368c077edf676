# Overlay port building fmviz from this source tree:
#   vcpkg install fmviz --overlay-ports=<fmviz>/packaging/vcpkg
# For a registry, replace SOURCE_PATH with vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH REPO ... REF "v${VERSION}" SHA512 ...).
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

set(VCPKG_BUILD_TYPE release)  # header-only

# vcpkg's stb is header-only: the package offers fmviz::stb_implementation (see usage). fmviz::fmviz carries no
# OpenMP; with FMVIZ_USE_OPENMP the package offers fmviz::openmp, which finds OpenMP in the consumer's build.
vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DFMVIZ_INSTALL=ON
    -DFMVIZ_BUILD_TESTS=OFF
    -DFMVIZ_BUILD_EXAMPLES=OFF
    -DFMVIZ_BUILD_BENCH=OFF
    -DFMVIZ_BUILD_CLI=OFF
    -DFMVIZ_STB_USE_LIBRARY=OFF
    -DFMVIZ_USE_OPENMP=ON
    -DFMVIZ_USE_LIBJPEG=ON
    -DFMVIZ_USE_LIBPNG=ON
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME fmviz CONFIG_PATH share/cmake/fmviz)
vcpkg_fixup_pkgconfig()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
