#!/usr/bin/env bash
# Sets up, builds and runs every test: the release build (unit, integration, benchmark smoke
# runs) and the ASan+UBSan build of the same tests. Warnings are errors.
# VIGIL_TSAN=1 also runs the ThreadSanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export VIGIL_WERROR=ON
jobs=$(nproc)

run_preset() {
  local preset=$1
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== $preset: tests"
  ctest --preset "$preset" -j "$jobs"
}

run_preset release
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_preset debug-asan
if [ "${VIGIL_TSAN:-0}" = "1" ]; then
  TSAN_OPTIONS=halt_on_error=1 run_preset tsan
fi
echo "== all tests passed"
