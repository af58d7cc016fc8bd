#!/usr/bin/env bash
# What a server feature costs per request: bench/http_overhead_server once per set of flags,
# all loaded at the same time, side by side, and their server CPU per request compared with
# the first set's. The first set is the baseline; by default "" (no middleware) against
# "--middlewares 3". Any flags http_overhead_server takes make a set, so a later feature
# compares the same way: bench/http_overhead.sh "" "--middlewares 3" "--metrics".
#
# Each server is pinned to CPU 0 (one thread), the wrk loading it to CPU 1 (one wrk per
# server, all at once): whatever else the machine does then falls on every server alike.
# Per round: 64 keep-alive connections, then 64 connections with 16 requests pipelined per
# write; CPU is utime+stime from /proc/PID/stat. Each ratio is the median of the per-round
# ratios, with their spread. Takes /tmp/coronet-bench.lock, so no other benchmark runs at once.
#
#   bench/http_overhead.sh [-b BUILD_DIR] [-d SECONDS] [-r ROUNDS] [FLAGS...]
#   (defaults: build, 5, 5, "" "--middlewares 3")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${CORONET_BENCH_LOCK_HELD:-}" ]; then
  exec env CORONET_BENCH_LOCK_HELD=1 flock /tmp/coronet-bench.lock "$0" "$@"
fi
build="$root/build"
duration=5
rounds=5
while getopts b:d:r: opt; do
  case $opt in
    b) build=$OPTARG ;;
    d) duration=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '/^#   bench/,/^#   (/p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=("" "--middlewares 3")
server_cpu=0
client_cpu=1
declare -A pid port
for tool in wrk taskset curl /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (./x bench installs it)" >&2; exit 1; }
done
# The work directory, cleanup, cpu_ticks, wait_port and wrk's pipelining script.
# shellcheck source=bench/nginx_peer.sh
source "$root/bench/nginx_peer.sh"

name() { [ -n "${variants[$1]}" ] && echo "${variants[$1]}" || echo "(none)"; }

for i in "${!variants[@]}"; do
  # shellcheck disable=SC2086  # a set of flags is split into words on purpose
  taskset -c $server_cpu "$build/bench/http_overhead_server" --threads 1 ${variants[$i]} \
    > "$work/server$i.out" 2> "$work/server$i.err" &
  pids+=($!)
  pid[$i]=$!
  port[$i]=$(wait_port "$work/server$i.out")
  [ -n "${port[$i]}" ] || { echo "server $(name "$i") did not start: $(cat "$work/server$i.err")" >&2; exit 1; }
  curl -sf "http://127.0.0.1:${port[$i]}/" | grep -q "Hello, World!" ||
    { echo "server $(name "$i") does not answer" >&2; exit 1; }
done

# all_at_once [wrk args...]: the same load on every server at once; prints each server's CPU
# microseconds per request, in the order of the variants.
all_at_once() {
  local i waits=() before=() after=()
  for i in "${!variants[@]}"; do before[$i]=$(cpu_ticks "${pid[$i]}"); done
  for i in "${!variants[@]}"; do
    taskset -c $client_cpu wrk -t1 -c64 -d"${duration}s" "$@" "http://127.0.0.1:${port[$i]}/" > "$work/wrk$i" &
    waits+=($!)
  done
  wait "${waits[@]}"
  for i in "${!variants[@]}"; do after[$i]=$(cpu_ticks "${pid[$i]}"); done
  for i in "${!variants[@]}"; do
    if grep -q "Non-2xx\|Socket errors" "$work/wrk$i"; then echo "$(name "$i"): $(cat "$work/wrk$i")" >&2; fi
    awk -v t=$((after[i] - before[i])) -v hz="$ticks" -v n="$(awk '/requests in/ {print $1}' "$work/wrk$i")" \
      'BEGIN { printf "%.3f ", (t / hz) * 1e6 / n }'
  done
}

n=${#variants[@]}
echo "${duration}s per run, $rounds rounds; variants:$(for i in "${!variants[@]}"; do printf ' [%s]' "$(name "$i")"; done)" >&2
for i in "${!variants[@]}"; do taskset -c $client_cpu wrk -t1 -c64 -d1s "http://127.0.0.1:${port[$i]}/" >/dev/null; done
# One line per round: keep-alive CPU/req of each variant, then pipelined CPU/req of each.
: > "$work/rounds"
for r in $(seq "$rounds"); do
  line="$(all_at_once)$(all_at_once -s "$work/pipeline.lua")"
  echo "$line" >> "$work/rounds"
  echo "$line" | awk -v r="$r" -v n="$n" '{
    printf "round %d:", r
    for (i = 2; i <= n; i++) printf " keep-alive %.3fx, pipelined %.3fx;", $i / $1, $(n + i) / $(n + 1)
    printf "\n" }' >&2
done

# stat EXPRESSION: "median min max" over rounds of an awk expression of one round's columns.
stat() {
  awk "{ print $1 }" "$work/rounds" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.3f %.3f %.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
}
printf '\n%-28s %14s %22s %14s %22s\n' "server flags" "keep-alive" "ratio (min-max)" "pipelined x16" "ratio (min-max)"
printf '%-28s %14s %22s %14s %22s\n' "" "CPU us/req" "" "CPU us/req" ""
for i in "${!variants[@]}"; do
  k=$((i + 1)); p=$((n + i + 1))
  read -r km _ _ <<< "$(stat "\$$k")"
  read -r pm _ _ <<< "$(stat "\$$p")"
  read -r kr klo khi <<< "$(stat "\$$k / \$1")"
  read -r pr plo phi <<< "$(stat "\$$p / \$$((n + 1))")"
  printf '%-28s %14.3f %8.3fx (%.3f-%.3f) %14.3f %8.3fx (%.3f-%.3f)\n' "$(name "$i")" "$km" "$kr" "$klo" "$khi" \
    "$pm" "$pr" "$plo" "$phi"
done
