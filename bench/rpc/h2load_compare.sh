#!/usr/bin/env bash
# Compares the raw callback-API HelloWorld server with the coronet coroutine server.
# Each server runs pinned to CPU 0, h2load pinned to CPU 1, over loopback. Reports req/s and
# server CPU time per request (utime+stime from /proc/PID/stat over the run), then the ratio
# coroutine/raw. grpc-status is checked with one Python grpcio call to each server first
# (h2load does not look at trailers).
#
#   bench/rpc/h2load_compare.sh [BUILD_DIR] [SECONDS] [CLIENTS] [STREAMS_PER_CLIENT]
#   defaults: build 5 1 100;  extra server flags: CORO_FLAGS="--threads 1"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-5}"
clients="${3:-1}"
streams="${4:-100}"
port=50551
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One gRPC message: 5-byte prefix (uncompressed, big-endian length) + Greeting{"world"}.
printf '\x00\x00\x00\x00\x07\x0a\x05world' >"$tmp/body"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

check_status() {
  /usr/bin/python3 - "$port" <<'PY'
import sys, grpc
ch = grpc.insecure_channel("127.0.0.1:" + sys.argv[1])
f = ch.unary_unary("/HelloWorld/SayHello", request_serializer=lambda s: b"\x0a" + bytes([len(s)]) + s.encode(),
                   response_deserializer=lambda b: b[2:].decode())
r, call = f.with_call("world", timeout=5)
assert r == "hello world" and call.code() == grpc.StatusCode.OK, (r, call.code())
PY
}

# run NAME COMMAND...: prints "NAME req/s us_per_req"
run() {
  local name=$1; shift
  taskset -c 0 "$@" --listen "127.0.0.1:$port" >"$tmp/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do grep -qs listening "$tmp/$name.log" && break; sleep 0.1; done
  check_status
  # Warm up, then measure.
  taskset -c 1 h2load -n 2000 -c "$clients" -m "$streams" -d "$tmp/body" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$port/HelloWorld/SayHello" >/dev/null
  local before after
  before=$(cpu_ticks "$pid")
  taskset -c 1 h2load -D "$seconds" -c "$clients" -m "$streams" -d "$tmp/body" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$port/HelloWorld/SayHello" >"$tmp/$name.h2load"
  after=$(cpu_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" || true
  local done_ ok
  done_=$(awk '/^requests:/ {print $8}' "$tmp/$name.h2load")
  ok=$(awk '/^status codes:/ {print $3}' "$tmp/$name.h2load")
  local hz; hz=$(getconf CLK_TCK)
  awk -v n="$name" -v d="$done_" -v ok="$ok" -v s="$seconds" -v t=$((after - before)) -v hz="$hz" \
    'BEGIN { printf "%-10s %9.0f req/s  %6.2f us CPU/req  (%d requests, %d 2xx)\n", n, d / s, t * 1e6 / hz / d, d, ok }'
}

raw=$(run raw "$build/bench/rpc/rpc-raw-server")
echo "$raw"
coro=$(run coroutine "$build/bench/rpc/rpc-coroutine-server" ${CORO_FLAGS:-})
echo "$coro"
awk -v a="$raw" -v b="$coro" 'BEGIN {
  split(a, x, " "); split(b, y, " ");
  printf "ratio coroutine/raw: CPU/request %.3f, req/s %.3f\n", y[4] / x[4], y[2] / x[2] }'
