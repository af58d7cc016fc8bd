#!/usr/bin/env bash
# Where a keep-alive request's CPU goes: coronet's plaintext server and a peer (nginx, or the
# floor server) loaded side by side, both pinned to CPU 0, one wrk each on CPU 1 with 64
# keep-alive connections. Prints, per round, each server's user and system CPU per request
# (utime and stime from /proc) and the ratio of their totals. With -p DIR it also samples
# both servers with `perf record -e cpu-clock` (no hardware counters needed) into DIR and
# prints each one's costliest user-space functions: time, not instructions, so cache misses
# and slow instructions (a clock read, an atomic) show where callgrind does not see them.
#
#   bench/http_cpu_split.sh [-b BUILD_DIR] [-d SECONDS] [-r ROUNDS] [-p PERF_DIR] [nginx|floor]
#   (defaults: build, 8, 3, no perf, nginx)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${CORONET_BENCH_LOCK_HELD:-}" ]; then
  exec env CORONET_BENCH_LOCK_HELD=1 flock /tmp/coronet-bench.lock "$0" "$@"
fi
build="$root/build"
duration=8
rounds=3
perf_dir=""
while getopts b:d:r:p: opt; do
  case $opt in
    b) build=$OPTARG ;;
    d) duration=$OPTARG ;;
    r) rounds=$OPTARG ;;
    p) perf_dir=$OPTARG ;;
    *) sed -n '/^#   bench/,/^#   (/p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
peer="${1:-nginx}"
case $peer in nginx | floor) ;; *) echo "peer: nginx or floor" >&2; exit 2 ;; esac
server_cpu=0
client_cpu=1
declare -A pid port
for tool in wrk taskset $([ "$peer" = nginx ] && echo nginx); do
  command -v "$tool" >/dev/null || { echo "missing $tool (./x bench installs it)" >&2; exit 1; }
done
[ -z "$perf_dir" ] || command -v perf >/dev/null || { echo "missing perf (linux-perf)" >&2; exit 1; }

# shellcheck source=bench/nginx_peer.sh
source "$root/bench/nginx_peer.sh"

taskset -c $server_cpu "$build/bench/http_plaintext_server" --threads 1 > "$work/coronet.out" &
pids+=($!)
pid[coronet]=$!
port[coronet]=$(wait_port "$work/coronet.out")
if [ "$peer" = nginx ]; then
  launch_nginx http 10000
else
  taskset -c $server_cpu "$build/bench/floor_server" > "$work/floor.out" &
  pids+=($!)
  pid[floor]=$!
  port[floor]=$(wait_port "$work/floor.out")
fi

# user_sys PID: "utime stime" in ticks.
user_sys() { awk '{print $14, $15}' "/proc/$1/stat"; }

# load SECONDS: both servers at once, one wrk each; leaves the request counts in $work.
load() {
  taskset -c $client_cpu wrk -t1 -c64 -d"$1s" "http://127.0.0.1:${port[coronet]}/" > "$work/wrk.coronet" &
  taskset -c $client_cpu wrk -t1 -c64 -d"$1s" "http://127.0.0.1:${port[$peer]}/" > "$work/wrk.$peer"
  wait $!
}

load 2  # warm-up
printf '%-8s %28s %28s %8s\n' round "coronet user+sys us/req" "$peer user+sys us/req" ratio
for r in $(seq "$rounds"); do
  recorders=()
  if [ -n "$perf_dir" ] && [ "$r" -eq "$rounds" ]; then
    mkdir -p "$perf_dir"
    for s in coronet "$peer"; do
      perf record -q -e cpu-clock -F 4999 -o "$perf_dir/$s.data" -p "${pid[$s]}" -- sleep "$((duration + 1))" \
        2>/dev/null &
      recorders+=($!)
    done
    sleep 0.3
  fi
  c0=$(user_sys "${pid[coronet]}"); p0=$(user_sys "${pid[$peer]}")
  load "$duration"
  c1=$(user_sys "${pid[coronet]}"); p1=$(user_sys "${pid[$peer]}")
  awk -v r="$r" -v c0="$c0" -v c1="$c1" -v p0="$p0" -v p1="$p1" -v hz="$ticks" \
      -v cn="$(awk '/requests in/ {print $1}' "$work/wrk.coronet")" \
      -v pn="$(awk '/requests in/ {print $1}' "$work/wrk.$peer")" 'BEGIN {
    split(c0, a); split(c1, b); split(p0, x); split(p1, y)
    cu = (b[1] - a[1]) / hz * 1e6 / cn; cs = (b[2] - a[2]) / hz * 1e6 / cn
    pu = (y[1] - x[1]) / hz * 1e6 / pn; ps = (y[2] - x[2]) / hz * 1e6 / pn
    printf "%-8s %9.2f + %6.2f = %6.2f %9.2f + %6.2f = %6.2f %7.3fx\n", r, cu, cs, cu + cs, pu, ps, pu + ps,
      (cu + cs) / (pu + ps) }'
  for p in "${recorders[@]}"; do wait "$p" || true; done
done

if [ -n "$perf_dir" ]; then
  for s in coronet "$peer"; do
    echo
    echo "$s: share of its CPU time by where it was spent, then its costliest user-space functions"
    # (head ends the pipe early: not a failure)
    perf report -i "$perf_dir/$s.data" --sort dso --stdio 2>/dev/null | grep '%' | head -5 || true
    perf report -i "$perf_dir/$s.data" --sort dso,sym --stdio 2>/dev/null | grep '%' | grep -v '\[k\]' |
      head -15 | cut -c1-140 || true
  done
fi
