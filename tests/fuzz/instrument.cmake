# Included by the top-level CMakeLists.txt, before any target, when VIGIL_BUILD_FUZZERS is ON.
# Every target of the build (libraries, generated protobuf code, the app) is compiled with
# libFuzzer's coverage instrumentation plus ASan and UBSan, so the fuzzers see coverage inside the
# code they call and every memory error or undefined behaviour is a crash. The fuzz targets in
# tests/fuzz/CMakeLists.txt then link libFuzzer itself (-fsanitize=fuzzer). How to run them:
# tests/fuzz/README.md.

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "VIGIL_BUILD_FUZZERS needs clang (libFuzzer): configure with "
                      "-DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14, or use the "
                      "'fuzz' preset (cmake --preset fuzz)")
endif()
if(VIGIL_SANITIZE AND NOT VIGIL_SANITIZE STREQUAL "address,undefined")
  message(FATAL_ERROR "VIGIL_BUILD_FUZZERS uses ASan+UBSan; it cannot be combined with "
                      "VIGIL_SANITIZE=${VIGIL_SANITIZE}")
endif()

# -fno-sanitize-recover: UBSan findings abort, so libFuzzer reports them as crashes (with the
# input) instead of printing a warning and going on.
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=fuzzer-no-link,address,undefined)
