# fmviz::stb_implementation: a static library that compiles the stb_image and stb_image_write
# implementation once, for setups where stb is header-only (vcpkg, Conan). Link it in exactly one
# target of a program, and not at all when the program compiles stb itself. It is only built when
# something links it. Also used as a Conan build module (cmake_build_modules).
if(NOT TARGET fmviz::stb_implementation)
  add_library(fmviz_stb_implementation STATIC EXCLUDE_FROM_ALL "${CMAKE_CURRENT_LIST_DIR}/fmviz_stb_implementation.cpp")
  target_link_libraries(fmviz_stb_implementation PRIVATE fmviz::fmviz)
  set_target_properties(fmviz_stb_implementation PROPERTIES POSITION_INDEPENDENT_CODE ON)
  add_library(fmviz::stb_implementation ALIAS fmviz_stb_implementation)
endif()
