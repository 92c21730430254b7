#!/usr/bin/env bash
# The OTLP pipeline benchmark (issue 3): OTLP load from vigil_otlp_load into a Vigil agent, whose
# CPU time, peak RSS, throughput and Export latency are measured.
#
# Scenarios are named <topology>-<ingress protocol>-<signal>:
#   direct     agent A: otlp receiver -> nop                 (Fluent Bit's opentelemetry -> null)
#   batch      agent A: otlp receiver -> batch -> nop
#   relay      agent A: otlp receiver -> batch -> otlp (gRPC) exporter
#              -> agent B: otlp gRPC receiver -> nop          (re-export end to end)
#   relayhttp  as relay, with the otlphttp exporter and B's HTTP receiver
# ingress: http (OTLP/HTTP protobuf, keep-alive) or grpc; signal: logs or traces.
#
# Each scenario runs the load once flat out (after a 1 s warm-up) to find the peak, then at half
# the peak request rate for the latency. Agent A is pinned to core 0 (taskset -c 0), the load
# generator and agent B to core 1, when the machine has two cores or more. Ports are picked free
# at run time; every process is stopped by its PID.
#
#   tests/bench/otlp_pipeline.sh [options] [scenario...]
#     --smoke              a few seconds per scenario at a low rate; checks only that every item
#                          accepted arrives at the discarding end (ctest label bench)
#     --build-dir DIR      where the release build is (default build/release)
#     --vigil BIN          the agent (default DIR/agent/app/vigil)
#     --load BIN           the load generator (default DIR/tests/bench/vigil_otlp_load)
#     --duration S         seconds per measured run (default 10)
#     --repeat N           measure each scenario N times (default 1)
#     --connections N      load connections (default 8)
#     --items N            items per request (default 100)
#     --compression C      relay exporters' compression: none (default), gzip, zstd
#     --send-batch-size N  the batch processor's send_batch_size (default: its default, 8192)
#     --no-pin             do not pin processes to cores
#     --keep               keep the work directory (configs, logs)
# Scenarios default to every combination. A scenario whose config the agent refuses as "not
# supported yet" / "not implemented" is reported as SKIP (components still being built); any
# other failure fails the run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

smoke=0
build_dir=build/release
vigil=""
load=""
duration=10
repeat=1
connections=8
items=100
compression=none
send_batch_size=""
pin=1
keep=0
scenarios=()

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --build-dir) build_dir=$2; shift ;;
    --vigil) vigil=$2; shift ;;
    --load) load=$2; shift ;;
    --duration) duration=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --connections) connections=$2; shift ;;
    --items) items=$2; shift ;;
    --compression) compression=$2; shift ;;
    --send-batch-size) send_batch_size=$2; shift ;;
    --no-pin) pin=0 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) scenarios+=("$1") ;;
  esac
  shift
done

cd "$root"
[[ -n $vigil ]] || vigil=$build_dir/agent/app/vigil
[[ -n $load ]] || load=$build_dir/tests/bench/vigil_otlp_load
for bin in "$vigil" "$load"; do
  [[ -x $bin ]] || { echo "not found: $bin (build it: cmake --build $build_dir --target vigil vigil_otlp_load)" >&2; exit 2; }
done

if [[ ${#scenarios[@]} -eq 0 ]]; then
  if [[ $smoke -eq 1 ]]; then
    scenarios=(direct-http-logs batch-http-traces direct-grpc-traces relay-grpc-logs relay-http-traces relayhttp-http-logs)
  else
    for topo in direct batch relay relayhttp; do
      for proto in http grpc; do
        for sig in logs traces; do scenarios+=("$topo-$proto-$sig"); done
      done
    done
  fi
fi

cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
[[ $cores -ge 2 ]] || pin=0
agent_cpu=(); other_cpu=()
if [[ $pin -eq 1 ]]; then agent_cpu=(taskset -c 0); other_cpu=(taskset -c 1); fi
clk_tck=$(getconf CLK_TCK)

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-otlp-bench.XXXXXX")
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

result_field() {  # file key
  awk -v k="$2" '/^result / {for (i = 2; i <= NF; i++) {split($i, a, "="); if (a[1] == k) print a[2]}}' "$1"
}

# --- configs ---------------------------------------------------------------------------------

receiver_block() {  # proto port
  if [[ $1 == grpc ]]; then
    printf 'receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%s\n' "$2"
  else
    printf 'receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:%s\n' "$2"
  fi
}

service_block() {  # signal processors exporter metrics_port
  printf 'service:\n  telemetry:\n    logs:\n      level: warn\n    metrics:\n      address: 127.0.0.1:%s\n' "$4"
  printf '  pipelines:\n    %s:\n      receivers: [otlp]\n      processors: [%s]\n      exporters: [%s]\n' "$1" "$2" "$3"
}

# --- one scenario ----------------------------------------------------------------------------

failures=0
summary=()

# Runs the load; the output goes to $1. Extra arguments are passed to the generator.
run_load() {
  local out=$1
  shift
  "${other_cpu[@]}" "$load" --endpoint "127.0.0.1:$a_in" --protocol "$proto" --signal "$sig" \
    --items "$items" --connections "$connections" "$@" >"$out" 2>&1 || true
}

run_scenario() {
  local name=$1 topo proto sig
  IFS=- read -r topo proto sig <<<"$name"
  case "$topo" in direct|batch|relay|relayhttp) ;; *) echo "bad scenario $name" >&2; return 2 ;; esac
  case "$proto" in http|grpc) ;; *) echo "bad scenario $name" >&2; return 2 ;; esac
  case "$sig" in logs|traces) ;; *) echo "bad scenario $name" >&2; return 2 ;; esac
  local item_metric=log_records
  [[ $sig == traces ]] && item_metric=spans

  a_in=$(free_port); local a_metrics b_in b_metrics
  a_metrics=$(free_port); b_in=$(free_port); b_metrics=$(free_port)
  local dir=$work/$name
  mkdir -p "$dir"

  # Agent A, and B for the relays.
  local processors="" exporter=nop b_proto=""
  [[ $topo != direct ]] && processors=batch
  {
    receiver_block "$proto" "$a_in"
    [[ -n $processors ]] && printf 'processors:\n  batch:\n'
    [[ -n $processors && -n $send_batch_size ]] && printf '    send_batch_size: %s\n' "$send_batch_size"
    case "$topo" in
      direct|batch) printf 'exporters:\n  nop:\n' ;;
      relay)
        exporter=otlp; b_proto=grpc
        printf 'exporters:\n  otlp:\n    endpoint: 127.0.0.1:%s\n    compression: %s\n    tls:\n      insecure: true\n' \
          "$b_in" "$compression" ;;
      relayhttp)
        exporter=otlphttp; b_proto=http
        printf 'exporters:\n  otlphttp:\n    endpoint: http://127.0.0.1:%s\n    compression: %s\n' "$b_in" "$compression" ;;
    esac
    service_block "$sig" "$processors" "$exporter" "$a_metrics"
  } >"$dir/a.yaml"
  if [[ -n $b_proto ]]; then
    { receiver_block "$b_proto" "$b_in"; printf 'exporters:\n  nop:\n'; service_block "$sig" "" nop "$b_metrics"; } >"$dir/b.yaml"
  fi

  # Components still being built are refused by validation: skip, do not fail.
  local cfg
  for cfg in "$dir"/a.yaml ${b_proto:+"$dir"/b.yaml}; do
    if ! "$vigil" validate --config "$cfg" >"$dir/validate.out" 2>&1; then
      if grep -qiE 'not supported yet|not implemented|unknown (exporter|receiver) type' "$dir/validate.out"; then
        echo "SKIP $name: $(grep -iE 'not supported yet|not implemented|unknown' "$dir/validate.out" | head -1)"
        summary+=("SKIP $name")
        return 0
      fi
      echo "FAIL $name: config refused:"; sed 's/^/  /' "$dir/validate.out"
      failures=$((failures + 1)); summary+=("FAIL $name (config)")
      return 0
    fi
  done

  local a_pid b_pid="" sink_metrics=$a_metrics
  if [[ -n $b_proto ]]; then
    start_agent "$name-b" "$dir/b.yaml" "${other_cpu[@]}"; b_pid=$started_pid
    sink_metrics=$b_metrics
    if ! wait_ready "$b_pid" "$b_in" "$b_metrics"; then
      echo "FAIL $name: agent B did not start:"; sed 's/^/  /' "$work/$name-b.err" | tail -5
      failures=$((failures + 1)); summary+=("FAIL $name (B start)"); stop_agent "$b_pid" B; return 0
    fi
  fi
  start_agent "$name-a" "$dir/a.yaml" "${agent_cpu[@]}"; a_pid=$started_pid
  if ! wait_ready "$a_pid" "$a_in" "$a_metrics"; then
    echo "FAIL $name: agent A did not start:"; sed 's/^/  /' "$work/$name-a.err" | tail -5
    failures=$((failures + 1)); summary+=("FAIL $name (A start)")
    stop_agent "$a_pid" A; [[ -n $b_pid ]] && stop_agent "$b_pid" B
    return 0
  fi

  local accepted_metric=vigil_receiver_accepted_${item_metric}_total
  local sent_metric=vigil_exporter_sent_${item_metric}_total

  if [[ $smoke -eq 1 ]]; then
    local before
    before=$(metric_sum "$sink_metrics" "$sent_metric")
    run_load "$dir/smoke.txt" --duration 2 --rate 20
    local accepted delivered loaded
    loaded=$(result_field "$dir/smoke.txt" items)
    accepted=$(metric_sum "$a_metrics" "$accepted_metric")
    delivered=$(( $(wait_delivered "$sink_metrics" "$sent_metric" $((before + accepted))) - before ))
    if [[ -n $loaded && $loaded -gt 0 && $accepted -eq $loaded && $delivered -eq $accepted ]]; then
      echo "ok   $name: $loaded items sent, $accepted accepted, $delivered arrived at the discarding end"
      summary+=("ok   $name")
    else
      echo "FAIL $name: load sent ${loaded:-?} items, A accepted $accepted, $delivered arrived"
      sed 's/^/  load: /' "$dir/smoke.txt" | tail -3
      tail -5 "$work/$name-a.err" | sed 's/^/  A: /'
      [[ -n $b_pid ]] && tail -5 "$work/$name-b.err" | sed 's/^/  B: /'
      failures=$((failures + 1)); summary+=("FAIL $name")
    fi
  else
    run_load "$dir/warmup.txt" --duration 1
    # Let the warm-up's items drain, so that they are not counted in the first run.
    wait_delivered "$sink_metrics" "$sent_metric" "$(metric_sum "$a_metrics" "$accepted_metric")" >/dev/null
    local r
    for r in $(seq 1 "$repeat"); do
      # Flat out: the peak, and the CPU it costs.
      local acc0 sent0 cpu0 cpu1 bcpu0 bcpu1 t0 t1
      acc0=$(metric_sum "$a_metrics" "$accepted_metric")
      sent0=$(metric_sum "$sink_metrics" "$sent_metric")
      cpu0=$(cpu_seconds "$a_pid"); [[ -n $b_pid ]] && bcpu0=$(cpu_seconds "$b_pid")
      t0=$(date +%s.%N)
      run_load "$dir/peak-$r.txt" --duration "$duration"
      local acc delivered
      acc=$(( $(metric_sum "$a_metrics" "$accepted_metric") - acc0 ))
      delivered=$(( $(wait_delivered "$sink_metrics" "$sent_metric" $((sent0 + acc))) - sent0 ))
      cpu1=$(cpu_seconds "$a_pid"); [[ -n $b_pid ]] && bcpu1=$(cpu_seconds "$b_pid")
      t1=$(date +%s.%N)
      local rps ips errs
      rps=$(result_field "$dir/peak-$r.txt" requests_per_s)
      ips=$(result_field "$dir/peak-$r.txt" items_per_s)
      errs=$(awk '/^errors:/ {sub(/^errors: */, ""); print}' "$dir/peak-$r.txt")
      if [[ -z $rps || $acc -le 0 ]]; then
        echo "FAIL $name: no load went through"; sed 's/^/  load: /' "$dir/peak-$r.txt" | tail -3
        failures=$((failures + 1)); summary+=("FAIL $name"); break
      fi
      local cpu_per_m util bcpu=""
      cpu_per_m=$(awk -v c0="$cpu0" -v c1="$cpu1" -v n="$acc" 'BEGIN {printf "%.2f", (c1 - c0) / n * 1e6}')
      util=$(awk -v c0="$cpu0" -v c1="$cpu1" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", (c1 - c0) / (b - a) * 100}')
      [[ -n $b_pid ]] && bcpu=$(awk -v c0="$bcpu0" -v c1="$bcpu1" -v n="$acc" 'BEGIN {printf " B %.2f CPU-s/M", (c1 - c0) / n * 1e6}')

      # Half the peak request rate: the latency.
      local half
      half=$(awk -v r="$rps" 'BEGIN {printf "%.0f", (r / 2 < 1 ? 1 : r / 2)}')
      local hcpu0 hacc0
      hcpu0=$(cpu_seconds "$a_pid"); hacc0=$(metric_sum "$a_metrics" "$accepted_metric")
      run_load "$dir/half-$r.txt" --duration "$duration" --rate "$half"
      local hacc hcpu_per_m p50 p99 herrs
      hacc=$(( $(metric_sum "$a_metrics" "$accepted_metric") - hacc0 ))
      hcpu_per_m=$(awk -v c0="$hcpu0" -v c1="$(cpu_seconds "$a_pid")" -v n="$hacc" 'BEGIN {printf "%.2f", (n > 0 ? (c1 - c0) / n * 1e6 : 0)}')
      p50=$(result_field "$dir/half-$r.txt" p50_ms)
      p99=$(result_field "$dir/half-$r.txt" p99_ms)
      herrs=$(awk '/^errors:/ {sub(/^errors: */, ""); print}' "$dir/half-$r.txt")
      wait_delivered "$sink_metrics" "$sent_metric" "$((sent0 + acc + hacc))" >/dev/null

      local rss brss=""
      rss=$(peak_rss_mib "$a_pid")
      [[ -n $b_pid ]] && brss=" B $(peak_rss_mib "$b_pid") MiB"
      printf '%-24s run %d: %9.0f items/s (%.0f req/s), A CPU %s%%, %s CPU-s/M items%s, A peak RSS %s MiB%s; ' \
        "$name" "$r" "$ips" "$rps" "$util" "$cpu_per_m" "$bcpu" "$rss" "$brss"
      printf 'at %s req/s: p50 %s ms, p99 %s ms, %s CPU-s/M; accepted %s, arrived %s; errors: %s / %s\n' \
        "$half" "$p50" "$p99" "$hcpu_per_m" "$acc" "$delivered" "$errs" "$herrs"
      printf '%s\t%d\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$r" "$ips" "$rps" "$util" "$cpu_per_m" \
        "$rss" "$half" "$p50" "$p99" "$acc" "$delivered" "$errs" >>"$work/results.tsv"
      if [[ $delivered -ne $acc ]]; then
        echo "FAIL $name: A accepted $acc items, $delivered arrived at the discarding end"
        failures=$((failures + 1)); summary+=("FAIL $name (lost items)")
      else
        summary+=("ok   $name")
      fi
    done
  fi

  stop_agent "$a_pid" A
  [[ -n $b_pid ]] && stop_agent "$b_pid" B
  return 0
}

echo "vigil otlp pipeline benchmark: $(uname -m), $cores cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "pinning $([[ $pin -eq 1 ]] && echo 'A on core 0, load and B on core 1' || echo off)," \
  "$items items/request, $connections connections, relay compression $compression," \
  "send_batch_size ${send_batch_size:-default}"
for s in "${scenarios[@]}"; do run_scenario "$s"; done
if [[ $smoke -eq 0 && -f $work/results.tsv ]]; then
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
[[ $failures -eq 0 ]] || { echo "$failures scenario(s) failed"; exit 1; }
