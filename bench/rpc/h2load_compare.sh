#!/usr/bin/env bash
# Compares the raw callback-API HelloWorld server with the coronet coroutine server, the
# latter twice: as it starts by default and with runtime_options::batch_scheduling (io
# threads and the gRPC threads the server starts under SCHED_BATCH).
# All three run pinned to CPU 0, h2load pinned to CPU 1, over loopback, for ROUNDS rounds;
# each round loads them in turn, the first one rotating. Reports req/s, server CPU time per
# request (utime+stime from /proc/PID/stat over the run) and context switches per request
# (all the server's threads) as medians over the rounds, and the ratios against the raw
# server (medians of the per-round ratios). grpc-status is checked with one Python grpcio
# call to each server first (h2load does not look at trailers).
# Unlike bench/http_plaintext.sh this does not load the servers at once: sharing the CPU
# with another busy process lets the coroutine server's threads batch their hand-offs
# (0.28 context switches per call instead of 0.67 alone), which would hide exactly the cost
# being measured.
#
#   bench/rpc/h2load_compare.sh [BUILD_DIR] [SECONDS] [CLIENTS] [STREAMS_PER_CLIENT] [ROUNDS]
#   defaults: build 5 1 100 5;  extra server flags: CORO_FLAGS="--threads 1" (both
#   coroutine servers), RAW_FLAGS="--arg grpc.minimal_stack=1" (both take --arg NAME=VALUE
#   and --max-threads N); SCHED=batch runs every server process, every thread, under
#   SCHED_BATCH (chrt -b 0)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-5}"
clients="${3:-1}"
streams="${4:-100}"
rounds="${5:-5}"

# shellcheck source=h2load_common.sh
source "$root/bench/rpc/h2load_common.sh"

case "${SCHED:-}" in
  "") prefix="" ;;
  batch) prefix="chrt -b 0" ;;
  *) echo "SCHED must be empty or batch" >&2; exit 2 ;;
esac
ports=(50551 50552 50553)
# shellcheck disable=SC2086  # the flags are lists of words
start_server raw 50551 "" "$prefix" "$build/bench/rpc/rpc-raw-server" ${RAW_FLAGS:-}
pids+=("$server_pid")
# shellcheck disable=SC2086
start_server coroutine 50552 "" "$prefix" "$build/bench/rpc/rpc-coroutine-server" ${CORO_FLAGS:-}
pids+=("$server_pid")
# shellcheck disable=SC2086
start_server coroutine-batch 50553 "" "$prefix" "$build/bench/rpc/rpc-coroutine-server" \
  --batch-scheduling ${CORO_FLAGS:-}
pids+=("$server_pid")

# One line per round: "rps us switches" for raw, coroutine, coroutine-batch (pids' order).
result=()
for r in $(seq "$rounds"); do
  for k in 0 1 2; do
    i=$(((r + k) % 3))
    read -r rps us _ _ sw < <(load "${pids[$i]}" "${ports[$i]}" -D "$seconds")
    result[i]="$rps $us $sw"
  done
  echo "${result[0]} ${result[1]} ${result[2]}" | tee -a "$tmp/rounds" |
    awk -v r="$r" '{ printf "round %d: CPU per call against raw: coroutine %.3fx, with batch_scheduling %.3fx\n",
                     r, $5 / $2, $8 / $2 }' >&2
done

m() { median "$tmp/rounds" "$1"; }
printf '\n%-32s %10s %10s %10s %12s %12s\n' "median of $rounds rounds" raw coroutine "+batch" \
  "coro/raw" "+batch/raw"
printf '%-32s %10.0f %10.0f %10.0f %11.3fx %11.3fx\n' "req/s" \
  "$(m '$1')" "$(m '$4')" "$(m '$7')" "$(m '$4 / $1')" "$(m '$7 / $1')"
printf '%-32s %10.2f %10.2f %10.2f %11.3fx %11.3fx\n' "server CPU us per call" \
  "$(m '$2')" "$(m '$5')" "$(m '$8')" "$(m '$5 / $2')" "$(m '$8 / $2')"
printf '%-32s %10.3f %10.3f %10.3f\n' "context switches per call" "$(m '$3')" "$(m '$6')" "$(m '$9')"
