# Installs fmviz to PREFIX, either from a fresh configure of SOURCE_DIR in BINARY_DIR (library only unless
# OPTIONS asks for the command, -DFMVIZ_BUILD_CLI=ON, which is then built), or from an existing fmviz build
# (FROM_BUILD; its command, CLI, must already be built).
# With CHECK_PORTABLE_CLI=ON the installed command must be portable: built with fmviz's default options, it must
# run on any x86-64 CPU, so its code may not use AVX or AVX-512 (no %ymm or %zmm register in `objdump -d`).
# cmake -DPREFIX=... (-DSOURCE_DIR=... -DBINARY_DIR=... [-DOPTIONS=a|b|c] [-DGENERATOR=...] | -DFROM_BUILD=... -DCLI=...)
#       [-DCHECK_PORTABLE_CLI=ON] -P install.cmake
cmake_minimum_required(VERSION 3.16)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "fmviz ${what} failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE "${PREFIX}")
if(FROM_BUILD)
  if(CLI AND NOT EXISTS "${CLI}")
    message(FATAL_ERROR "${CLI} is not built: build fmviz (cmake --build ${FROM_BUILD}) before running the tests")
  endif()
  run(install ${CMAKE_COMMAND} --install "${FROM_BUILD}" --prefix "${PREFIX}")
  message(STATUS "fmviz installed from ${FROM_BUILD} to ${PREFIX}")
else()
  string(REPLACE "|" ";" OPTIONS "${OPTIONS}")
  file(REMOVE_RECURSE "${BINARY_DIR}")
  set(args -S "${SOURCE_DIR}" -B "${BINARY_DIR}" "-DCMAKE_INSTALL_PREFIX=${PREFIX}"
    -DFMVIZ_BUILD_TESTS=OFF -DFMVIZ_BUILD_EXAMPLES=OFF -DFMVIZ_BUILD_BENCH=OFF -DFMVIZ_BUILD_CLI=OFF
    -DFMVIZ_INSTALL=ON ${OPTIONS})
  if(GENERATOR)
    list(APPEND args -G "${GENERATOR}")
  endif()
  run(configure ${CMAKE_COMMAND} ${args})
  run(build ${CMAKE_COMMAND} --build "${BINARY_DIR}")  # the command, if asked for; the library is headers
  run(install ${CMAKE_COMMAND} --install "${BINARY_DIR}")
  message(STATUS "fmviz installed to ${PREFIX}")
endif()

if(CHECK_PORTABLE_CLI)
  set(cli "${PREFIX}/bin/fmviz")
  if(NOT EXISTS "${cli}")
    message(FATAL_ERROR "no installed command ${cli}")
  endif()
  find_program(OBJDUMP NAMES objdump)
  cmake_host_system_information(RESULT arch QUERY OS_PLATFORM)
  if(NOT OBJDUMP)
    message(STATUS "SKIPPED: the check that ${cli} is portable (no AVX/AVX-512 instructions) needs objdump (binutils), not found")
  elseif(NOT arch MATCHES "^(x86_64|AMD64|amd64)$")
    message(STATUS "SKIPPED: the check that ${cli} is portable looks for x86-64 AVX registers; this is ${arch}")
  else()
    set(listing "${PREFIX}/fmviz.objdump")
    execute_process(COMMAND "${OBJDUMP}" -d --no-show-raw-insn "${cli}" OUTPUT_FILE "${listing}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "objdump -d ${cli} failed (${rc})")
    endif()
    # SSE2 (%xmm) is the x86-64 baseline: the listing must show it, or the check below proves nothing.
    file(STRINGS "${listing}" sse LIMIT_COUNT 1 REGEX "%xmm[0-9]")
    file(STRINGS "${listing}" wide REGEX "%[yz]mm[0-9]")
    file(REMOVE "${listing}")
    if(NOT sse)
      message(FATAL_ERROR "objdump -d ${cli} shows no SSE instruction: the disassembly is not what this check expects")
    endif()
    if(wide)
      list(LENGTH wide count)
      list(SUBLIST wide 0 5 first)
      string(REPLACE ";" "\n" first "${first}")
      message(FATAL_ERROR "${cli} uses ${count} AVX/AVX-512 instructions (%ymm/%zmm registers): it dies with an "
        "illegal instruction on a CPU without them. fmviz's default build must be portable (FMVIZ_NATIVE_ARCH=OFF, "
        "no -march or -mavx flags). The first ones:\n${first}")
    endif()
    message(STATUS "${cli}: no AVX or AVX-512 instructions (portable x86-64)")
  endif()
endif()
