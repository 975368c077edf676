import os

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, rm, rmdir

required_conan_version = ">=2.0"


class FmvizConan(ConanFile):
    """Conan 2 recipe for fmviz, a header-only C++17 library. `conan create .` from the repository root."""

    name = "fmviz"
    version = "0.1.0"
    description = "See what a convolutional network sees: VGG16 feature maps in C++"
    license = "MIT"
    topics = ("vgg16", "cnn", "feature-maps", "visualization", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    # fmviz::fmviz never carries OpenMP (as with Eigen, the consumer chooses); with_openmp says whether the
    # fmviz::openmp target links OpenMP (found in the consumer's CMake) or is fmviz::fmviz alone.
    options = {"with_openmp": [True, False]}
    default_options = {"with_openmp": True}
    exports_sources = "CMakeLists.txt", "cmake/*", "include/*", "LICENSE*"
    no_copy_source = True

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        self.requires("eigen/3.4.0")
        self.requires("nlohmann_json/3.11.3")
        self.requires("stb/cci.20230920")
        # JPEG and PNG through the libraries PIL uses (hardened, fuzzed upstream); stb_image for the rest.
        self.requires("libjpeg-turbo/3.0.4")
        self.requires("libpng/1.6.44")

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 17)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["FMVIZ_INSTALL"] = True
        tc.cache_variables["FMVIZ_BUILD_TESTS"] = False
        tc.cache_variables["FMVIZ_BUILD_EXAMPLES"] = False
        tc.cache_variables["FMVIZ_BUILD_BENCH"] = False
        tc.cache_variables["FMVIZ_BUILD_CLI"] = False
        tc.cache_variables["FMVIZ_STB_USE_LIBRARY"] = False  # Conan's stb is header-only
        tc.cache_variables["FMVIZ_USE_LIBJPEG"] = True
        tc.cache_variables["FMVIZ_USE_LIBPNG"] = True
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        pass  # header-only: nothing to build

    def package(self):
        # The layout `cmake --install` produces; CMakeDeps generates the CMake config and targets
        # instead of fmviz's own, and Conan consumers do not use the .pc file.
        cmake = CMake(self)
        cmake.configure()
        cmake.install()
        cmake_dir = os.path.join(self.package_folder, "share", "cmake", "fmviz")
        rm(self, "fmvizConfig*.cmake", cmake_dir)
        rm(self, "fmvizTargets*.cmake", cmake_dir)
        rmdir(self, os.path.join(self.package_folder, "share", "pkgconfig"))
        copy(self, "LICENSE*", self.source_folder, os.path.join(self.package_folder, "licenses"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "fmviz")
        self.cpp_info.set_property("cmake_target_name", "fmviz::fmviz")
        self.cpp_info.set_property("pkg_config_name", "fmviz")
        self.cpp_info.defines = ["FMVIZ_HAVE_LIBJPEG", "FMVIZ_HAVE_LIBPNG"]  # the headers decode JPEG and PNG with them
        # fmviz::stb_implementation (compiles the header-only stb's implementation once) and fmviz::openmp
        # (fmviz::fmviz plus OpenMP::OpenMP_CXX, for threads), as in fmviz's own CMake package. No OpenMP flag is
        # added to fmviz::fmviz: a consumer who wants threads links fmviz::openmp (or compiles with -fopenmp).
        cmake_dir = os.path.join("share", "cmake", "fmviz")
        openmp_module = "fmvizOpenMP.cmake" if self.options.with_openmp else "fmvizNoOpenMP.cmake"
        self.cpp_info.set_property("cmake_build_modules", [os.path.join(cmake_dir, "fmvizStbImplementation.cmake"),
                                                           os.path.join(cmake_dir, openmp_module)])
