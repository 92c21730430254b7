#!/bin/sh
# Smoke test of vigil_filelog_gen (ctest vigil_filelog_gen_smoke, label bench): every format and
# rotation mode with small counts; checks the exit status and that each record is there once.
#   smoke.sh /path/to/vigil_filelog_gen
set -eu
gen=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-filelog-gen-XXXXXX")
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect NAME ACTUAL WANTED
  [ "$2" -eq "$3" ] || fail "$1: $2, expected $3"
}

"$gen" --format json --lines 1000 --seed 7 --out "$dir/json.log"
expect "json lines" "$(wc -l < "$dir/json.log")" 1000
expect "json distinct seq" "$(grep -o '"seq":[0-9]*' "$dir/json.log" | sort -u | wc -l)" 1000
expect "json stdout" "$("$gen" --format json --lines 10 | wc -l)" 10

"$gen" --format cri --lines 1000 --partial-every 7 --out "$dir/cri.log"
expect "cri records (F lines)" "$(grep -c '^[^ ]* std[a-z]* F ' "$dir/cri.log")" 1000
[ "$(grep -c ' stderr P ' "$dir/cri.log")" -gt 0 ] || fail "cri: no stderr partials"
[ "$(grep -c ' stdout P ' "$dir/cri.log")" -gt 0 ] || fail "cri: no stdout partials"

"$gen" --format docker --lines 1000 --long-every 100 --long-bytes 40000 --out "$dir/docker.log"
# 10 long records of 40000 bytes: 3 messages each (16384 + 16384 + 7232).
expect "docker lines" "$(wc -l < "$dir/docker.log")" 1020
expect "docker records" "$(grep -c '\\n","stream"' "$dir/docker.log")" 1000

"$gen" --format plain --lines 1000 --stack-every 50 --out "$dir/plain.log"
expect "plain records" "$(grep -c '^2026-.* seq=[0-9]*$' "$dir/plain.log")" 1000
expect "plain traces" "$(grep -c '^java.lang.IllegalStateException' "$dir/plain.log")" 20
[ "$(grep -c "$(printf '^\tat ')" "$dir/plain.log")" -gt 60 ] || fail "plain: too few stack frames"

for mode in rename copytruncate; do
  "$gen" --format json --lines 1000 --rotate-every 300 --rotate-mode "$mode" --out "$dir/$mode.log"
  [ -f "$dir/$mode.log.3" ] || fail "$mode: no third rotated file"
  [ ! -f "$dir/$mode.log.4" ] || fail "$mode: too many rotated files"
  expect "$mode current lines" "$(wc -l < "$dir/$mode.log")" 100
  expect "$mode all lines" "$(cat "$dir/$mode.log"* | grep -o '"seq":[0-9]*' | sort -u | wc -l)" 1000
done

"$gen" --format json --lines 5 --out "$dir/append.log"
"$gen" --format json --lines 5 --append --out "$dir/append.log"
expect "append" "$(wc -l < "$dir/append.log")" 10

if "$gen" --format nope 2>/dev/null; then fail "a bad --format was accepted"; fi
echo "vigil_filelog_gen smoke: ok"
