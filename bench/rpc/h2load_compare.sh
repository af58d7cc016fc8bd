#!/usr/bin/env bash
# Compares the raw callback-API HelloWorld server with the coronet coroutine server.
# Each server runs pinned to CPU 0, h2load pinned to CPU 1, over loopback. Reports req/s and
# server CPU time per request (utime+stime from /proc/PID/stat over the run), then the ratio
# coroutine/raw. grpc-status is checked with one Python grpcio call to each server first
# (h2load does not look at trailers).
#
#   bench/rpc/h2load_compare.sh [BUILD_DIR] [SECONDS] [CLIENTS] [STREAMS_PER_CLIENT]
#   defaults: build 5 1 100;  extra server flags: CORO_FLAGS="--threads 1",
#   RAW_FLAGS="--arg grpc.minimal_stack=1" (both take --arg NAME=VALUE and --max-threads N)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-5}"
clients="${3:-1}"
streams="${4:-100}"
port=50551
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=h2load_common.sh
source "$root/bench/rpc/h2load_common.sh"

# run NAME COMMAND...: prints "NAME req/s us_per_req"
run() {
  local name=$1; shift
  start_server "$name" "$port" "" "" "$@"
  local pid=$server_pid
  read -r rps us n ok < <(load "$pid" "$port" -D "$seconds")
  kill -TERM "$pid"; wait "$pid" || true
  printf '%-10s %9.0f req/s  %6.2f us CPU/req  (%d requests, %d 2xx)\n' "$name" "$rps" "$us" "$n" "$ok"
}

raw=$(run raw "$build/bench/rpc/rpc-raw-server" ${RAW_FLAGS:-})
echo "$raw"
coro=$(run coroutine "$build/bench/rpc/rpc-coroutine-server" ${CORO_FLAGS:-})
echo "$coro"
awk -v a="$raw" -v b="$coro" 'BEGIN {
  split(a, x, " "); split(b, y, " ");
  printf "ratio coroutine/raw: CPU/request %.3f, req/s %.3f\n", y[4] / x[4], y[2] / x[2] }'
