#!/usr/bin/env bash
# Compares the raw callback-API HelloWorld server with coronet's coroutine servers under
# h2load, at one load shape or a grid of them (bench/rpc/h2load_grid.sh).
#
# Servers (SERVERS, default "raw coroutine inline"; raw must come first):
#   raw        grpc++'s callback API, answering inline on gRPC's thread (the reference),
#              with gRPC configured as coronet configures it by default
#   bare       the same raw server with gRPC and abseil as they come: against raw, what
#              coronet's defaults change in gRPC's own work (bench/rpc/greeters.hpp)
#   coroutine  coronet::rpc::service with default options: handler on an io thread
#   inline     the same with {.inline_start = true}: handler started on gRPC's thread
#   batch      coroutine with runtime_options::batch_scheduling (SCHED_BATCH threads)
#   metrics    coroutine counting its calls into a coronet::metrics (never scraped)
# All run pinned to CPU 0 and stay up for the whole run; h2load runs pinned to CPU 1, over
# loopback. For each shape (CLIENTSxSTREAMS), ROUNDS rounds load the servers in turn, the
# first one rotating. Reported per shape: medians over the rounds of req/s, server CPU time
# per call (utime+stime from /proc/PID/stat) and context switches per call (all threads),
# and the medians of the per-round ratios against raw. grpc-status is checked with one
# Python grpcio call to each server first (h2load does not look at trailers).
# The servers are not loaded at once: sharing the CPU with another busy process lets the
# coroutine server's threads batch their hand-offs (0.28 context switches per call instead
# of 0.67 alone), which would hide exactly the cost being measured.
#
#   bench/rpc/h2load_compare.sh [BUILD_DIR] [SECONDS] [CLIENTS] [STREAMS_PER_CLIENT] [ROUNDS]
#   defaults: build 5 1 100 5.  SHAPES="1x1 16x32 ..." replaces CLIENTS and STREAMS.
#   Extra server flags: CORO_FLAGS (every coroutine server), RAW_FLAGS (both take
#   --arg NAME=VALUE, --max-threads N and --grpc-defaults); SCHED=batch runs every server process, every
#   thread, under SCHED_BATCH (chrt -b 0).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-5}"
clients="${3:-1}"
streams="${4:-100}"
rounds="${5:-5}"
shapes=(${SHAPES:-${clients}x${streams}})
read -r -a names <<<"${SERVERS:-raw coroutine inline}"
[ "${names[0]}" = raw ] || { echo "SERVERS must start with raw" >&2; exit 2; }

# shellcheck source=h2load_common.sh
source "$root/bench/rpc/h2load_common.sh"

case "${SCHED:-}" in
  "") prefix="" ;;
  batch) prefix="chrt -b 0" ;;
  *) echo "SCHED must be empty or batch" >&2; exit 2 ;;
esac
coro="$build/bench/rpc/rpc-coroutine-server"
ports=()
for i in "${!names[@]}"; do
  port=$((20551 + i))  # below the ephemeral range (32768-60999): no outgoing connection holds it
  # shellcheck disable=SC2086  # the flags are lists of words
  case "${names[$i]}" in
    raw) start_server raw "$port" "" "$prefix" "$build/bench/rpc/rpc-raw-server" ${RAW_FLAGS:-} ;;
    bare) start_server bare "$port" "" "$prefix" "$build/bench/rpc/rpc-raw-server" --grpc-defaults ${RAW_FLAGS:-} ;;
    coroutine) start_server coroutine "$port" "" "$prefix" "$coro" ${CORO_FLAGS:-} ;;
    inline) start_server inline "$port" "" "$prefix" "$coro" --inline-start ${CORO_FLAGS:-} ;;
    batch) start_server batch "$port" "" "$prefix" "$coro" --batch-scheduling ${CORO_FLAGS:-} ;;
    metrics) start_server metrics "$port" "" "$prefix" "$coro" --metrics ${CORO_FLAGS:-} ;;
    *) echo "unknown server '${names[$i]}'" >&2; exit 2 ;;
  esac
  pids+=("$server_pid")
  ports+=("$port")
done
n=${#names[@]}

summary=()
for shape in "${shapes[@]}"; do
  clients=${shape%x*}
  streams=${shape#*x}
  # One line per round: "rps us switches" per server, in SERVERS' order.
  : >"$tmp/rounds"
  for r in $(seq "$rounds"); do
    result=()
    for k in $(seq 0 $((n - 1))); do
      i=$(((r + k) % n))
      read -r rps us _ _ sw < <(load "${pids[$i]}" "${ports[$i]}" -D "$seconds")
      result[i]="$rps $us $sw"
    done
    echo "${result[*]}" >>"$tmp/rounds"
    line="$shape round $r: CPU per call against raw:"
    for i in $(seq 1 $((n - 1))); do
      line+=" ${names[$i]} $(awk -v c=$((3 * i + 2)) '{ printf "%.3fx", $c / $2 }' <<<"${result[*]}")"
    done
    echo "$line" >&2
  done

  m() { median "$tmp/rounds" "$1"; }
  printf '\n%s (%d connections x %d streams), median of %d rounds\n' "$shape" "$clients" "$streams" "$rounds"
  printf '%-28s' ""; for name in "${names[@]}"; do printf ' %10s' "$name"; done
  for name in "${names[@]:1}"; do printf ' %12s' "$name/raw"; done; echo
  row() {  # row LABEL FORMAT COLUMN(1: req/s, 2: us, 3: switches) WITH_RATIOS
    printf '%-28s' "$1"
    for i in $(seq 0 $((n - 1))); do printf " %10.${2}f" "$(m "\$$((3 * i + $3))")"; done
    if [ "$4" = 1 ]; then
      for i in $(seq 1 $((n - 1))); do printf ' %11.3fx' "$(m "\$$((3 * i + $3)) / \$$3")"; done
    fi
    echo
  }
  row "req/s" 0 1 1
  row "server CPU us per call" 2 2 1
  row "context switches per call" 3 3 0
  ratios=""
  for i in $(seq 1 $((n - 1))); do
    ratios+=$(printf ' %11.3fx %6.3f' "$(m "\$$((3 * i + 2)) / \$2")" "$(m "\$$((3 * i + 3))")")
  done
  summary+=("$(printf '%-8s %10.2f %6.3f%s' "$shape" "$(m '$2')" "$(m '$3')" "$ratios")")
done

if [ ${#shapes[@]} -gt 1 ]; then
  printf '\nserver CPU per call against raw, and context switches per call (medians of %d rounds of %s s)\n' \
    "$rounds" "$seconds"
  printf '%-8s %10s %6s' shape "raw us" sw
  for name in "${names[@]:1}"; do printf ' %12s %6s' "$name/raw" sw; done; echo
  printf '%s\n' "${summary[@]}"
fi
