#!/usr/bin/env bash
# Compares the raw callback-API HelloWorld server with the coronet coroutine server.
# Both servers run pinned to CPU 0, h2load pinned to CPU 1, over loopback, for ROUNDS
# rounds; each round loads them in turn, the first one alternating. Reports req/s and
# server CPU time per request (utime+stime from /proc/PID/stat over the run) as medians over
# the rounds, and the ratio coroutine/raw (median of the per-round ratios). grpc-status is
# checked with one Python grpcio call to each server first (h2load does not look at
# trailers).
# Unlike bench/http_plaintext.sh this does not also load the two servers at once: sharing
# the CPU with another busy process lets the coroutine server's threads batch their
# hand-offs (0.28 context switches per call instead of 0.67 alone), which would hide
# exactly the cost being measured.
#
#   bench/rpc/h2load_compare.sh [BUILD_DIR] [SECONDS] [CLIENTS] [STREAMS_PER_CLIENT] [ROUNDS]
#   defaults: build 5 1 100 5;  extra server flags: CORO_FLAGS="--threads 1",
#   RAW_FLAGS="--arg grpc.minimal_stack=1" (both take --arg NAME=VALUE and --max-threads N);
#   SCHED=batch runs both server processes, every thread, under SCHED_BATCH (chrt -b 0)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-5}"
clients="${3:-1}"
streams="${4:-100}"
rounds="${5:-5}"

# shellcheck source=h2load_common.sh
source "$root/bench/rpc/h2load_common.sh"

# shellcheck disable=SC2086  # the flags are lists of words
case "${SCHED:-}" in
  "") prefix="" ;;
  batch) prefix="chrt -b 0" ;;
  *) echo "SCHED must be empty or batch" >&2; exit 2 ;;
esac
start_server raw 50551 "" "$prefix" "$build/bench/rpc/rpc-raw-server" ${RAW_FLAGS:-}
raw_pid=$server_pid; pids+=("$raw_pid")
# shellcheck disable=SC2086
start_server coroutine 50552 "" "$prefix" "$build/bench/rpc/rpc-coroutine-server" ${CORO_FLAGS:-}
coro_pid=$server_pid; pids+=("$coro_pid")

# One line per round: raw_rps raw_us coro_rps coro_us
for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then
    read -r raw_rps raw_us _ _ < <(load "$raw_pid" 50551 -D "$seconds")
    read -r coro_rps coro_us _ _ < <(load "$coro_pid" 50552 -D "$seconds")
  else
    read -r coro_rps coro_us _ _ < <(load "$coro_pid" 50552 -D "$seconds")
    read -r raw_rps raw_us _ _ < <(load "$raw_pid" 50551 -D "$seconds")
  fi
  echo "$raw_rps $raw_us $coro_rps $coro_us" | tee -a "$tmp/rounds" |
    awk -v r="$r" '{ printf "round %d: coroutine/raw CPU per call %.3fx\n", r, $4 / $2 }' >&2
done

m() { median "$tmp/rounds" "$1"; }
printf '\n%-40s %12s %12s %9s\n' "median of $rounds rounds" "raw" "coroutine" "ratio"
printf '%-40s %12.0f %12.0f %8.3fx\n' "req/s" "$(m '$1')" "$(m '$3')" "$(m '$3 / $1')"
printf '%-40s %12.2f %12.2f %8.3fx\n' "server CPU us per call" "$(m '$2')" "$(m '$4')" "$(m '$4 / $2')"
