#!/usr/bin/env bash
# Sets up, builds and runs every test, three times: the release build (unit, integration and
# benchmark smoke runs), then the same tests built with ASan+UBSan, then with TSan; last, a short
# smoke run of each libFuzzer target (clang). Warnings are errors. VIGIL_TSAN=0 skips the TSan
# build; VIGIL_FUZZ_SECONDS sets the fuzzers' time each (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# The interop tests (tests/interop) drive Vigil with the OpenTelemetry JS SDK: node and npm from
# Debian when missing, then the SDK exactly as tests/interop/package-lock.json pins it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "setup: installing nodejs npm"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
echo "== npm ci (tests/interop)"
npm ci --prefix tests/interop --engine-strict --ignore-scripts --no-audit --no-fund
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
if [ "${VIGIL_TSAN:-1}" = "1" ]; then
  TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1 suppressions=$PWD/tests/tsan.supp" run_preset tsan
fi
# Smoke run of the libFuzzer targets (clang build, 5 fuzzers x VIGIL_FUZZ_SECONDS).
VIGIL_FUZZ_SECONDS=${VIGIL_FUZZ_SECONDS:-20} ./scripts/fuzz.sh
echo "== all tests passed"
