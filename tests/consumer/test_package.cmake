# Builds and runs the Conan recipe's test_package/ with plain CMake against an installed fmviz
# (what CMakeDeps gives a Conan consumer is the same targets: fmviz::fmviz, fmviz::stb_implementation).
# cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DPREFIX=... -DCXX=... [-DGENERATOR=...] -P test_package.cmake
cmake_minimum_required(VERSION 3.16)
file(REMOVE_RECURSE "${BINARY_DIR}")
set(args -S "${SOURCE_DIR}/test_package" -B "${BINARY_DIR}" -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic -Werror" "-DCMAKE_PREFIX_PATH=${PREFIX}")
if(GENERATOR)
  list(APPEND args -G "${GENERATOR}")
endif()
foreach(cmd IN ITEMS configure build run)
  if(cmd STREQUAL "configure")
    execute_process(COMMAND ${CMAKE_COMMAND} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  elseif(cmd STREQUAL "build")
    execute_process(COMMAND ${CMAKE_COMMAND} --build "${BINARY_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  else()
    execute_process(COMMAND "${BINARY_DIR}/test_package" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "test_package ${cmd} failed (${rc}):\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "test_package: ${out}")
