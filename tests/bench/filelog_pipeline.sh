#!/usr/bin/env bash
# The filelog benchmark (issue 4): a file of generated log lines read by a Vigil agent from its
# start; the agent's CPU time, peak RSS and throughput are measured until every line went through.
#
# Scenarios are named <format>-<sink>-<cores>c:
#   format  json  JSON lines of about 200 bytes (vigil_filelog_gen --format json), json_parser with
#                 timestamp and severity
#           cri   the same lines wrapped by the container runtime (CRI), container + json_parser
#   sink    nop   filelog -> batch -> nop (a discarding exporter; Fluent Bit's tail -> null)
#           file  filelog -> batch -> file exporter (OTLP/JSON lines)
#   cores   1 or 2: the agent is pinned to core 0, or to cores 0-1 (taskset)
# Also measured once: the idle RSS of an agent tailing an empty file.
#
#   tests/bench/filelog_pipeline.sh [options] [scenario...]
#     --smoke          20,000 lines per scenario; checks only that every line arrives (ctest label bench)
#     --build-dir DIR  where the release build is (default build/release)
#     --vigil BIN      the agent (default DIR/agent/app/vigil)
#     --gen BIN        the generator (default DIR/tests/bench/vigil_filelog_gen)
#     --lines N        lines in the file (default 1000000)
#     --repeat N       measure each scenario N times (default 1)
#     --keep           keep the work directory
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

smoke=0
build_dir=build/release
vigil=""
gen=""
lines=1000000
repeat=1
keep=0
scenarios=()

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --build-dir) build_dir=$2; shift ;;
    --vigil) vigil=$2; shift ;;
    --gen) gen=$2; shift ;;
    --lines) lines=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) scenarios+=("$1") ;;
  esac
  shift
done

cd "$root"
[[ -n $vigil ]] || vigil=$build_dir/agent/app/vigil
[[ -n $gen ]] || gen=$build_dir/tests/bench/vigil_filelog_gen
for bin in "$vigil" "$gen"; do
  [[ -x $bin ]] || { echo "not found: $bin (build it: cmake --build $build_dir --target vigil vigil_filelog_gen)" >&2; exit 2; }
done
if [[ $smoke -eq 1 ]]; then
  lines=20000
  [[ ${#scenarios[@]} -gt 0 ]] || scenarios=(json-nop-2c cri-file-2c)
fi
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(json-nop-1c json-nop-2c json-file-1c json-file-2c cri-nop-1c cri-nop-2c)

cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
clk_tck=$(getconf CLK_TCK)
work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-filelog-bench.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  if [[ $keep -eq 1 ]]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# shellcheck source=tests/bench/bench_lib.sh
source "$here/bench_lib.sh"

rss_mib() { awk '/^VmRSS:/ {printf "%.1f\n", $2 / 1024}' "/proc/$1/status"; }

# The input files, generated once per format.
declare -A input
make_input() {  # format
  local f=$work/input-$1.log
  if [[ -z ${input[$1]:-} ]]; then
    "$gen" --format "$1" --lines "$lines" --out "$f" --seed 1 2>"$work/gen-$1.txt"
    input[$1]=$f
  fi
}

operators() {  # format
  if [[ $1 == cri ]]; then
    printf '      - type: container\n        format: containerd\n        add_metadata_from_filepath: false\n'
  fi
  printf '      - type: json_parser\n'
  printf '        timestamp: {parse_from: attributes.ts, layout_type: gotime, layout: "2006-01-02T15:04:05.999999999Z07:00"}\n'
  printf '        severity: {parse_from: attributes.level}\n'
}

failures=0
summary=()

run_scenario() {
  local name=$1 format sink ncores
  IFS=- read -r format sink ncores <<<"$name"
  case "$format" in json|cri) ;; *) echo "bad scenario $name" >&2; return 2 ;; esac
  case "$sink" in nop|file) ;; *) echo "bad scenario $name" >&2; return 2 ;; esac
  case "$ncores" in 1c|2c) ;; *) echo "bad scenario $name" >&2; return 2 ;; esac
  local pin=()
  if [[ $ncores == 1c ]]; then pin=(taskset -c 0); elif [[ $cores -ge 2 ]]; then pin=(taskset -c 0,1); fi
  make_input "$format"
  local dir=$work/$name r
  mkdir -p "$dir"
  for r in $(seq 1 "$repeat"); do
    local metrics_port
    metrics_port=$(free_port)
    rm -f "$dir/out.jsonl"
    {
      printf 'receivers:\n  filelog:\n    include: [%s]\n    start_at: beginning\n    operators:\n' "${input[$format]}"
      operators "$format"
      printf 'processors:\n  batch:\n'
      if [[ $sink == nop ]]; then printf 'exporters:\n  nop:\n'; else printf 'exporters:\n  file:\n    path: %s\n' "$dir/out.jsonl"; fi
      printf 'service:\n  telemetry:\n    logs:\n      level: warn\n    metrics:\n      address: 127.0.0.1:%s\n' "$metrics_port"
      printf '  pipelines:\n    logs:\n      receivers: [filelog]\n      processors: [batch]\n      exporters: [%s]\n' "$sink"
    } >"$dir/vigil.yaml"
    local t0 t1 pid
    t0=$(date +%s.%N)
    start_agent "$name" "$dir/vigil.yaml" "${pin[@]}"; pid=$started_pid
    if ! wait_ready "$pid" "$metrics_port"; then
      echo "FAIL $name: the agent did not start:"; tail -5 "$work/$name.err" | sed 's/^/  /'
      failures=$((failures + 1)); summary+=("FAIL $name (start)"); stop_agent "$pid" "$name"; return 0
    fi
    local got
    got=$(wait_all "$metrics_port" vigil_exporter_sent_log_records_total "$lines")
    t1=$(date +%s.%N)
    local cpu rss
    cpu=$(cpu_seconds "$pid")
    rss=$(peak_rss_mib "$pid")
    stop_agent "$pid" "$name"
    if [[ $got -ne $lines ]]; then
      echo "FAIL $name: $got of $lines lines arrived"; tail -5 "$work/$name.err" | sed 's/^/  /'
      failures=$((failures + 1)); summary+=("FAIL $name (lost lines)"); return 0
    fi
    if [[ $smoke -eq 1 ]]; then
      echo "ok   $name: all $lines lines arrived"; summary+=("ok   $name"); continue
    fi
    local bytes
    bytes=$(stat -c %s "${input[$format]}")
    awk -v n="$lines" -v b="$bytes" -v c="$cpu" -v a="$t0" -v z="$t1" -v rss="$rss" -v name="$name" -v r="$r" 'BEGIN {
      w = z - a
      printf "%-16s run %d: %9.0f lines/s, %6.1f MB/s, %5.2f CPU-s (%.2f CPU-s per million lines), peak RSS %s MiB, wall %.2f s\n",
        name, r, n / w, b / w / 1e6, c, c / n * 1e6, rss, w }'
    summary+=("ok   $name")
  done
}

# Waits until the agent has sent `want` records (or stops progressing for 5 s; 10 min at most).
wait_all() {  # metrics_port metric want
  local last=-1 same=0 now=0 i
  for i in $(seq 1 6000); do
    now=$(metric_sum "$1" "$2")
    [[ $now -ge $3 ]] && break
    if [[ $now -eq $last ]]; then same=$((same + 1)); else same=0; fi
    [[ $same -ge 50 ]] && break
    last=$now
    sleep 0.1
  done
  echo "$now"
}

idle_rss() {
  local dir=$work/idle metrics_port pid
  mkdir -p "$dir"; : >"$dir/empty.log"
  metrics_port=$(free_port)
  printf 'receivers:\n  filelog:\n    include: [%s]\nexporters:\n  nop:\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:%s\n  pipelines:\n    logs:\n      receivers: [filelog]\n      exporters: [nop]\n' \
    "$dir/empty.log" "$metrics_port" >"$dir/vigil.yaml"
  start_agent idle "$dir/vigil.yaml"; pid=$started_pid
  wait_ready "$pid" "$metrics_port" || { echo "FAIL idle: the agent did not start"; failures=$((failures + 1)); return 0; }
  sleep 3
  echo "idle: RSS $(rss_mib "$pid") MiB after 3 s tailing an empty file (peak $(peak_rss_mib "$pid") MiB)"
  stop_agent "$pid" idle
}

echo "filelog benchmark: $lines lines per file, $(nproc) cores, agent $vigil"
for s in "${scenarios[@]}"; do run_scenario "$s"; done
[[ $smoke -eq 1 ]] || idle_rss
printf '%s\n' "${summary[@]}"
[[ $failures -eq 0 ]]
