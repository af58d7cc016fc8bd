#!/usr/bin/env bash
# User-space instructions per call of the raw callback-API server and the coronet coroutine
# server (by default and with {.inline_start = true}), both with coronet's default gRPC
# settings, and of the raw server with gRPC and abseil as they come ("bare": raw/bare is
# what coronet's defaults change in gRPC's own work, bench/rpc/greeters.hpp), counted by
# callgrind: a figure that does not move with the machine's load, unlike
# CPU time (bench/rpc/h2load_compare.sh). It leaves out the kernel (syscalls, context
# switches) and cache effects, so it measures what the code asks of the CPU, not what the
# CPU took. Each server runs under valgrind, is warmed up with 2,000 calls, then counts
# CALLS calls from h2load (-c 1 -m 100, gRPC framing, as h2load_compare.sh).
#
#   bench/rpc/instructions_compare.sh [BUILD_DIR] [CALLS]     defaults: build 5000
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
calls="${2:-5000}"
seconds=1 clients=1 streams=100 start_tries=600  # read by h2load_common.sh

for tool in valgrind callgrind_control callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "missing $tool (./x bench installs it)" >&2; exit 1; }
done
# shellcheck source=h2load_common.sh
source "$root/bench/rpc/h2load_common.sh"

# count NAME PORT BINARY [ARGS...]: prints instructions per call.
count() {
  local name=$1 port=$2 binary=$3; shift 3
  local valgrind="valgrind --tool=callgrind --trace-children=yes"
  start_server "$name" "$port" "" "$valgrind --callgrind-out-file=$tmp/$name.cg" "$binary" \
    "$@" >/dev/null
  local pid=$server_pid
  pids+=("$pid")
  callgrind_control -z "$pid" >/dev/null 2>&1
  read -r _ _ done_ _ < <(load "$pid" "$port" -n "$calls")
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
  local dump
  dump=$(ls -t "$tmp/$name.cg".* | head -1)
  callgrind_annotate "$dump" |
    awk -v n="$done_" '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.0f\n", $1 / n }'
}

raw=$(count raw 20561 "$build/bench/rpc/rpc-raw-server")
coro=$(count coroutine 20562 "$build/bench/rpc/rpc-coroutine-server")
inline=$(count inline 20563 "$build/bench/rpc/rpc-coroutine-server" --inline-start)
bare=$(count bare 20564 "$build/bench/rpc/rpc-raw-server" --grpc-defaults)
printf '%-24s %10s %10s %10s %10s %14s %11s %9s\n' "$calls calls" raw coroutine inline bare \
  coroutine/raw inline/raw raw/bare
printf '%-24s %10d %10d %10d %10d %13.3fx %10.3fx %8.3fx\n' "instructions per call" "$raw" "$coro" \
  "$inline" "$bare" \
  "$(awk -v a="$raw" -v b="$coro" 'BEGIN { print b / a }')" \
  "$(awk -v a="$raw" -v b="$inline" 'BEGIN { print b / a }')" \
  "$(awk -v a="$bare" -v b="$raw" 'BEGIN { print b / a }')"
