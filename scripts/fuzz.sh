#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang-14, ASan+UBSan and coverage on all
# code) and runs each one for VIGIL_FUZZ_SECONDS seconds (default 30) over a working copy of its
# seed corpus, one after the other. Exits non-zero if any fuzzer finds a crash, leak, timeout or
# out-of-memory; the input that did it is saved (see tests/fuzz/README.md).
#
# Environment:
#   VIGIL_FUZZ_SECONDS   seconds per fuzzer (default 30)
#   VIGIL_FUZZERS        which fuzzers, space-separated (default: all of them)
#   VIGIL_FUZZ_CORPUS    keep the working corpora in this folder across runs (default: a
#                        temporary folder, deleted at the end); the checked-in seeds in
#                        tests/fuzz/corpus/ are never written to
#   VIGIL_FUZZ_ARTIFACTS where crashing inputs go (default build/fuzz/artifacts)
#   VIGIL_FUZZ_BUILD_DIR build folder (default build/fuzz, the preset's)
#   VIGIL_WERROR         warnings are errors (default ON)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${VIGIL_FUZZ_SECONDS:-30}
read -r -a fuzzers <<< "${VIGIL_FUZZERS:-fuzz_otlp_decode fuzz_otlp_json fuzz_config fuzz_otlp_http fuzz_filelog_operators fuzz_ottl fuzz_correlation fuzz_aws_responses fuzz_emf}"
build_dir=${VIGIL_FUZZ_BUILD_DIR:-build/fuzz}
artifacts=${VIGIL_FUZZ_ARTIFACTS:-$build_dir/artifacts}
export VIGIL_WERROR=${VIGIL_WERROR:-ON}

command -v clang++-14 >/dev/null || { echo "fuzz: clang++-14 is missing (scripts/setup.sh installs it)" >&2; exit 1; }

echo "== fuzz: configure and build ($build_dir)"
cmake --preset fuzz -B "$build_dir" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
corpus_root=${VIGIL_FUZZ_CORPUS:-$tmp/corpus}
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)

passed=0
failed=0
for f in "${fuzzers[@]}"; do
  corpus=$corpus_root/$f
  mkdir -p "$corpus"
  for seed in tests/fuzz/corpus/"$f"/*; do  # seeds; never overwrite what a long run found
    [ -e "$corpus/${seed##*/}" ] || cp "$seed" "$corpus/"
  done
  log=$tmp/$f.log
  echo "== fuzz: $f for ${seconds}s (corpus $(find "$corpus" -type f | wc -l) files)"
  # -timeout: an input that takes over 10 s is a hang. -rss_limit_mb also caps single mallocs.
  # The fuzzer writes new inputs into the working corpus only, crashes into $artifacts.
  if UBSAN_OPTIONS=print_stacktrace=1 "$build_dir/tests/fuzz/$f" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$f-" "$corpus" > "$log" 2>&1; then
    passed=$((passed + 1))
    # One line of progress (the last status line) and the execution count.
    grep -E '^#[0-9]+.*(DONE|pulse|REDUCE|NEW)' "$log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | tr '\n' ' '
    echo
  else
    failed=$((failed + 1))
    echo "!! fuzz: $f FAILED; its log ends with:"
    tail -n 80 "$log"
    echo "!! the input is in $artifacts (reproduce: $build_dir/tests/fuzz/$f FILE)"
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
