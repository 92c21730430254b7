# Shared by the pipeline benchmarks (otlp_pipeline.sh, filelog_pipeline.sh): free ports, self-
# metrics, CPU time and peak RSS of a process, starting and stopping agents by PID.
# The caller sets: vigil (the binary), work (a directory), pids=() and clk_tck=$(getconf CLK_TCK).
# shellcheck shell=bash

# Local TCP ports in use (any state), as 4-digit upper-case hex as /proc/net/tcp prints them.
ports_in_use() {
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk 'NR > 1 {n = split($2, a, ":"); print a[n]}'
}
picked=" "
free_port() {
  local used p i
  used=" $(ports_in_use | tr '\n' ' ') "
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if [[ $used != *" $(printf '%04X' "$p") "* && $picked != *" $p "* ]]; then
      picked+="$p "
      echo "$p"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# True once something listens on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_get() {  # port path
  if command -v curl >/dev/null; then
    curl -s --max-time 5 "http://127.0.0.1:$1$2"
  else
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; printf 'GET $2 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3; cat <&3" 2>/dev/null
  fi
}

# Sum of a Prometheus counter over all its label sets.
metric_sum() {  # metrics_port name
  http_get "$1" /metrics | awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $NF} END {printf "%.0f\n", s + 0}'
}

cpu_seconds() {  # pid: user + system time of every thread
  local stat
  stat=$(cat "/proc/$1/stat")
  stat=${stat##*) }
  # shellcheck disable=SC2206
  local f=($stat)
  awk -v u="${f[11]}" -v s="${f[12]}" -v hz="$clk_tck" 'BEGIN {printf "%.2f\n", (u + s) / hz}'
}

peak_rss_mib() {  # pid
  awk '/^VmHWM:/ {printf "%.1f\n", $2 / 1024}' "/proc/$1/status"
}

start_agent() {  # name config cpu-prefix... ; sets $started_pid
  local name=$1 config=$2
  shift 2
  "$@" "$vigil" --config "$config" >"$work/$name.out" 2>"$work/$name.err" &
  started_pid=$!
  pids+=("$started_pid")
}

wait_ready() {  # pid port...
  local pid=$1 port
  shift
  for port in "$@"; do
    local i=0
    until listening "$port"; do
      if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
      i=$((i + 1))
      [[ $i -le 200 ]] || return 1
      sleep 0.05
    done
  done
}

stop_agent() {  # pid name; SIGTERM, bounded wait, then SIGKILL
  local pid=$1 name=$2 i=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [[ $i -lt 150 ]]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    echo "  $name did not stop within 15 s; killed" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Waits until the discarding end has sent `want` items (or stops progressing for 2 s; 20 s at most).
wait_delivered() {  # metrics_port metric want
  local last=-1 same=0 now i
  for i in $(seq 1 200); do
    now=$(metric_sum "$1" "$2")
    [[ $now -ge $3 ]] && { echo "$now"; return 0; }
    if [[ $now -eq $last ]]; then same=$((same + 1)); else same=0; fi
    [[ $same -ge 20 ]] && break
    last=$now
    sleep 0.1
  done
  echo "$now"
}

