"""Checks that fmviz's version and dependencies agree everywhere (CMakeLists.txt, version.hpp, the vcpkg
port, the Conan recipe) and that the port and recipe describe the layout `cmake --install` produced.
Neither vcpkg nor Conan is needed: conanfile.py is imported with a stub `conan` module."""
import argparse
import glob
import json
import os
import re
import sys
import types

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def version_tuple(text):
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


# What each CMake dependency is called in vcpkg and in Conan (OpenMP comes with the compiler).
DEPENDENCY_NAMES = {"Eigen3": ("eigen3", "eigen"), "nlohmann_json": ("nlohmann-json", "nlohmann_json"), "stb": ("stb", "stb"),
                    "JPEG": ("libjpeg-turbo", "libjpeg-turbo"), "PNG": ("libpng", "libpng")}


def cmake_facts(source):
    top = read(os.path.join(source, "CMakeLists.txt"))
    version = re.search(r"project\(\s*fmviz\s+VERSION\s+(\d+\.\d+\.\d+)", top).group(1)
    deps = {}
    for name, ver in re.findall(r"find_package\(\s*(\w+)\s+([\d.]+)?", top):
        if name != "OpenMP":
            deps[name] = ver or None
    if os.path.exists(os.path.join(source, "cmake", "FmvizStb.cmake")) and "include(FmvizStb)" in top:
        deps["stb"] = None
    decoders = os.path.join(source, "cmake", "FmvizDecoders.cmake")
    if os.path.exists(decoders) and "include(FmvizDecoders)" in top:
        for name in re.findall(r"find_package\(\s*(\w+)", read(decoders)):
            deps[name] = None
    # Every cache option fmviz declares, in CMakeLists.txt files and cmake/*.cmake.
    options = set()
    for path in glob.glob(os.path.join(source, "CMakeLists.txt")) + glob.glob(os.path.join(source, "cmake", "*.cmake")):
        options |= set(re.findall(r"option\(\s*(\w+)", read(path)))
        options |= set(re.findall(r"set\(\s*(\w+)\s+[^)]*CACHE", read(path)))
    return version, deps, options


def load_conanfile(path, with_openmp=True):
    """Imports conanfile.py against a stub `conan` package that records what the recipe asks for."""
    calls = {"cppstd": None, "cleared": False}

    class Anything:
        def __init__(self, *args, **kwargs):
            self.cache_variables = {}

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    class ConanFile:
        def __init__(self):
            self._requires = []

        def requires(self, ref, **kwargs):
            self._requires.append(ref)

    def check_min_cppstd(conanfile, cppstd, *args, **kwargs):
        calls["cppstd"] = str(cppstd)

    modules = {
        "conan": {"ConanFile": ConanFile},
        "conan.tools": {},
        "conan.tools.build": {"check_min_cppstd": check_min_cppstd, "can_run": lambda *a, **k: True},
        "conan.tools.cmake": {"CMake": Anything, "CMakeDeps": Anything, "CMakeToolchain": Anything, "cmake_layout": lambda *a, **k: None},
        "conan.tools.files": {n: (lambda *a, **k: None) for n in ("copy", "rm", "rmdir", "load", "get")},
        "conan.errors": {"ConanInvalidConfiguration": Exception},
    }
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module
    namespace = {"__file__": path, "__name__": "conanfile"}
    exec(compile(read(path), path, "exec"), namespace)
    recipes = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, ConanFile) and v is not ConanFile]
    recipe = recipes[0]()

    class Info:
        def clear(self):
            calls["cleared"] = True

    class CppInfo:
        def __init__(self):
            self.properties = {}
            self.cxxflags, self.sharedlinkflags, self.exelinkflags, self.bindirs, self.libdirs = [], [], [], None, None

        def set_property(self, name, value):
            self.properties[name] = value

    recipe.info = Info()
    recipe.cpp_info = CppInfo()
    recipe.options = types.SimpleNamespace(with_openmp=with_openmp)
    recipe.settings = types.SimpleNamespace(compiler="gcc")
    toolchains = []
    namespace["CMakeToolchain"] = lambda *a, **k: toolchains.append(Anything()) or toolchains[-1]
    recipe.requirements()
    recipe.package_id()
    recipe.validate()
    recipe.generate()
    recipe.package_info()
    return recipe, calls, toolchains[0].cache_variables if toolchains else {}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True)
    parser.add_argument("--prefix", required=True, help="fmviz installed with the default options")
    parser.add_argument("--headeronly-prefix", required=True, help="fmviz installed without OpenMP, header-only stb")
    args = parser.parse_args()
    source, prefix = args.source, args.prefix
    version, deps, options = cmake_facts(source)
    check(set(deps) == set(DEPENDENCY_NAMES), f"CMakeLists.txt finds {sorted(deps)}; this test knows {sorted(DEPENDENCY_NAMES)}: update it")

    # version.hpp
    header = read(os.path.join(source, "include", "fmviz", "version.hpp"))
    parts = [re.search(rf"#define FMVIZ_VERSION_{p}\s+(\d+)", header).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    check(".".join(parts) == version, f"version.hpp says {'.'.join(parts)}, CMakeLists.txt {version}")
    check(f'#define FMVIZ_VERSION_STRING "{version}"' in header, f"FMVIZ_VERSION_STRING is not \"{version}\"")

    # vcpkg port
    port_dir = os.path.join(source, "packaging", "vcpkg", "fmviz")
    manifest = json.loads(read(os.path.join(port_dir, "vcpkg.json")))
    check(manifest["name"] == "fmviz", "vcpkg.json: name is not fmviz")
    check(manifest.get("version") == version, f"vcpkg.json version {manifest.get('version')} != {version}")
    port_deps = {d if isinstance(d, str) else d["name"] for d in manifest["dependencies"] if isinstance(d, str) or not d.get("host")}
    host_deps = {d["name"] for d in manifest["dependencies"] if isinstance(d, dict) and d.get("host")}
    check(port_deps == {DEPENDENCY_NAMES[d][0] for d in deps}, f"vcpkg.json dependencies {sorted(port_deps)} != CMake's {sorted(deps)}")
    check(host_deps == {"vcpkg-cmake", "vcpkg-cmake-config"}, f"vcpkg.json host dependencies: {sorted(host_deps)}")
    portfile = read(os.path.join(port_dir, "portfile.cmake"))
    for call in ("vcpkg_cmake_configure", "vcpkg_cmake_install", "vcpkg_cmake_config_fixup", "vcpkg_install_copyright"):
        check(call + "(" in portfile, f"portfile.cmake does not call {call}")
    config_path = re.search(r"CONFIG_PATH\s+(\S+)\)", portfile).group(1)
    check(os.path.isfile(os.path.join(prefix, config_path, "fmvizConfig.cmake")), f"portfile CONFIG_PATH {config_path} holds no fmvizConfig.cmake after cmake --install")
    check(os.path.isfile(os.path.join(prefix, "share", "pkgconfig", "fmviz.pc")), "no share/pkgconfig/fmviz.pc (vcpkg_fixup_pkgconfig looks there)")
    for option in re.findall(r"-D(\w+)=", portfile):
        check(option in options, f"portfile.cmake sets {option}, which fmviz does not declare")
    usage = read(os.path.join(port_dir, "usage"))
    targets = read(os.path.join(prefix, config_path, "fmvizTargets.cmake"))
    stb_module = "".join(read(os.path.join(source, "cmake", name)) for name in ("fmvizStbImplementation.cmake", "FmvizStb.cmake", "fmvizOpenMP.cmake"))
    for target in set(re.findall(r"fmviz::\w+", usage)):
        check(target in targets or f"add_library({target}" in stb_module, f"usage names {target}, which the package does not define")
    check("find_package(fmviz CONFIG REQUIRED)" in usage, "usage lacks find_package(fmviz CONFIG REQUIRED)")

    # Conan recipe
    recipe, calls, cache_variables = load_conanfile(os.path.join(source, "conanfile.py"))
    check(recipe.name == "fmviz" and recipe.version == version, f"conanfile.py: {recipe.name}/{recipe.version}, CMake: fmviz/{version}")
    check(recipe.package_type == "header-library", "conanfile.py: package_type is not header-library")
    check(calls["cleared"], "conanfile.py: package_id() does not clear the package id")
    check(calls["cppstd"] == "17", f"conanfile.py: check_min_cppstd with {calls['cppstd']}, not 17")
    requires = {ref.split("/")[0]: ref.split("/")[1] for ref in recipe._requires}
    check(set(requires) == {DEPENDENCY_NAMES[d][1] for d in deps}, f"conanfile.py requires {sorted(requires)} != CMake's {sorted(deps)}")
    for cmake_name, minimum in deps.items():
        ref_version = requires.get(DEPENDENCY_NAMES[cmake_name][1], "")
        if minimum and re.match(r"\d", ref_version):
            check(version_tuple(ref_version) >= version_tuple(minimum), f"conanfile.py: {cmake_name} {ref_version} is older than CMake's minimum {minimum}")
    props = recipe.cpp_info.properties
    check(props.get("cmake_file_name") == "fmviz", "conanfile.py: cmake_file_name is not fmviz")
    check(props.get("cmake_target_name") == "fmviz::fmviz", "conanfile.py: cmake_target_name is not fmviz::fmviz")
    for module in props.get("cmake_build_modules", []):
        check(os.path.isfile(os.path.join(prefix, module)), f"conanfile.py: build module {module} is not where cmake --install puts it")
    # OpenMP: never a flag on fmviz::fmviz (the consumer chooses); fmviz::openmp comes from a build module.
    info = recipe.cpp_info
    check(not (info.cxxflags or info.sharedlinkflags or info.exelinkflags), f"conanfile.py: fmviz::fmviz carries flags {info.cxxflags + info.sharedlinkflags + info.exelinkflags}")
    modules = [os.path.basename(m) for m in props.get("cmake_build_modules", [])]
    check("fmvizOpenMP.cmake" in modules, f"conanfile.py with_openmp=True: build modules {modules} lack fmvizOpenMP.cmake (fmviz::openmp)")
    no_openmp = load_conanfile(os.path.join(source, "conanfile.py"), with_openmp=False)[0]
    modules = [os.path.basename(m) for m in no_openmp.cpp_info.properties.get("cmake_build_modules", [])]
    check("fmvizNoOpenMP.cmake" in modules and "fmvizOpenMP.cmake" not in modules, f"conanfile.py with_openmp=False: build modules {modules}")
    for variable in cache_variables:
        check(variable in options, f"conanfile.py sets {variable}, which fmviz does not declare")
    defines = set(getattr(recipe.cpp_info, "defines", []))
    check({"FMVIZ_HAVE_LIBJPEG", "FMVIZ_HAVE_LIBPNG"} <= defines, f"conanfile.py: cpp_info.defines {sorted(defines)} lack the decoders' definitions")
    check(cache_variables.get("FMVIZ_USE_LIBJPEG") and cache_variables.get("FMVIZ_USE_LIBPNG"), "conanfile.py does not build with libjpeg and libpng")
    exported = recipe.exports_sources
    for needed in ("CMakeLists.txt", "cmake/*", "include/*"):
        check(needed in exported, f"conanfile.py: exports_sources lacks {needed}")

    # The installed layout: every header, relocatable package files.
    source_headers = sorted(os.path.relpath(p, os.path.join(source, "include")) for p in glob.glob(os.path.join(source, "include", "fmviz", "**", "*.hpp"), recursive=True))
    installed_headers = sorted(os.path.relpath(p, os.path.join(prefix, "include")) for p in glob.glob(os.path.join(prefix, "include", "fmviz", "**", "*.hpp"), recursive=True))
    check(source_headers == installed_headers, f"installed headers differ from include/: {sorted(set(source_headers) ^ set(installed_headers))}")
    for path in glob.glob(os.path.join(prefix, "share", "cmake", "fmviz", "*")) + [os.path.join(prefix, "share", "pkgconfig", "fmviz.pc")]:
        text = read(path)
        check(os.path.abspath(prefix) not in text and os.path.abspath(source) not in text, f"{os.path.relpath(path, prefix)} holds an absolute path")
    version_file = read(os.path.join(prefix, "share", "cmake", "fmviz", "fmvizConfigVersion.cmake"))
    check(f'set(PACKAGE_VERSION "{version}")' in version_file, "fmvizConfigVersion.cmake has the wrong version")
    check(re.search(r'no architecture check.*\n\s*if\("TRUE"\)', version_file) is not None, "fmvizConfigVersion.cmake is not ARCH_INDEPENDENT")
    check("PACKAGE_FIND_VERSION_MAJOR" in version_file, "fmvizConfigVersion.cmake is not SameMajorVersion")
    # OpenMP: fmviz::fmviz and fmviz.pc never carry it; fmviz::openmp and fmviz-openmp.pc do, when fmviz was
    # configured with it (the default install, on this machine with OpenMP).
    ho = args.headeronly_prefix
    check("OpenMP" not in targets, "the default install's fmvizTargets.cmake links OpenMP into fmviz::fmviz")
    check("OpenMP" not in read(os.path.join(ho, "share", "cmake", "fmviz", "fmvizTargets.cmake")), "the no-OpenMP install links OpenMP")
    for p in (prefix, ho):
        check("openmp" not in read(os.path.join(p, "share", "pkgconfig", "fmviz.pc")).lower(), f"{os.path.basename(p)}: fmviz.pc has OpenMP flags")
        check(os.path.isfile(os.path.join(p, "share", "cmake", "fmviz", "fmvizOpenMP.cmake")), f"{os.path.basename(p)}: no fmvizOpenMP.cmake (fmviz::openmp)")
    check("fmvizOpenMP.cmake" in read(os.path.join(prefix, config_path, "fmvizConfig.cmake")), "fmvizConfig.cmake does not create fmviz::openmp")
    check(re.search(r"set\(FMVIZ_USE_OPENMP ON\)", read(os.path.join(prefix, config_path, "fmvizConfig.cmake"))) is not None, "the default install's fmviz::openmp does not use OpenMP")
    check(re.search(r"set\(FMVIZ_USE_OPENMP OFF\)", read(os.path.join(ho, "share", "cmake", "fmviz", "fmvizConfig.cmake"))) is not None, "the no-OpenMP install's fmviz::openmp uses OpenMP")
    check("-fopenmp" in read(os.path.join(prefix, "share", "pkgconfig", "fmviz-openmp.pc")), "the default install's fmviz-openmp.pc lacks -fopenmp")
    check("openmp" not in read(os.path.join(ho, "share", "pkgconfig", "fmviz-openmp.pc")).split("Requires:")[1], "the no-OpenMP fmviz-openmp.pc has OpenMP flags")
    ho_pc = read(os.path.join(ho, "share", "pkgconfig", "fmviz.pc"))
    check("libjpeg" not in ho_pc and "FMVIZ_HAVE" not in ho_pc, "the install without decoders still asks for libjpeg/libpng")
    check("fmviz::decoders" in read(os.path.join(ho, "share", "cmake", "fmviz", "fmvizTargets.cmake")), "the install without decoders lacks fmviz::decoders (empty, but named)")

    # The decoders the build found are in the package: targets, config and pkg-config agree.
    config = read(os.path.join(prefix, config_path, "fmvizConfig.cmake"))
    pc = read(os.path.join(prefix, "share", "pkgconfig", "fmviz.pc"))
    check("fmviz::decoders" in targets, "fmvizTargets.cmake does not link fmviz::decoders")
    check("FmvizDecoders.cmake" in config, "fmvizConfig.cmake does not find the decoders again")
    for macro, module in (("FMVIZ_HAVE_LIBJPEG", "libjpeg"), ("FMVIZ_HAVE_LIBPNG", "libpng")):
        check(macro in pc and module in pc, f"fmviz.pc lacks {module} (this machine has it; the build found it)")

    if not glob.glob(os.path.join(source, "LICENSE*")):
        print("NOTE: no LICENSE file at the repository root; the vcpkg port (vcpkg_install_copyright) and the Conan recipe need one")
    for f in failures:
        print("FAIL:", f)
    print(f"fmviz {version}: {len(failures)} packaging problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
