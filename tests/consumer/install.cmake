# Configures fmviz (library only: no tests, examples, CLI or benchmarks) and installs it to PREFIX.
# cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DPREFIX=... [-DOPTIONS=a|b|c] [-DGENERATOR=...] -P install.cmake
cmake_minimum_required(VERSION 3.16)
string(REPLACE "|" ";" OPTIONS "${OPTIONS}")
file(REMOVE_RECURSE "${BINARY_DIR}" "${PREFIX}")
set(args -S "${SOURCE_DIR}" -B "${BINARY_DIR}" "-DCMAKE_INSTALL_PREFIX=${PREFIX}"
  -DFMVIZ_BUILD_TESTS=OFF -DFMVIZ_BUILD_EXAMPLES=OFF -DFMVIZ_BUILD_BENCH=OFF -DFMVIZ_BUILD_CLI=OFF
  -DFMVIZ_INSTALL=ON ${OPTIONS})
if(GENERATOR)
  list(APPEND args -G "${GENERATOR}")
endif()
foreach(step IN ITEMS configure install)
  if(step STREQUAL "configure")
    set(cmd ${CMAKE_COMMAND} ${args})
  else()
    set(cmd ${CMAKE_COMMAND} --install "${BINARY_DIR}")
  endif()
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "fmviz ${step} failed (${rc}):\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "fmviz installed to ${PREFIX}")
