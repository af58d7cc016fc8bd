#!/usr/bin/env bash
# Which grpc++ server settings change the CPU cost of a call? For each setting below, three
# servers run at once, pinned to CPU 0: the raw callback-API server with gRPC's defaults
# (the reference), the raw server with the setting, and the coroutine server with the
# setting. h2load (pinned to CPU 1) loads them in turn, ROUNDS times; the report gives the
# medians of the per-round ratios, so the machine's drift between rounds cancels out.
#
#   bench/rpc/server_options.sh [BUILD_DIR] [SECONDS] [ROUNDS] [CLIENTS] [STREAMS_PER_CLIENT]
#   defaults: build 2 5 1 100
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-2}"
rounds="${3:-5}"
clients="${4:-1}"
streams="${5:-100}"

# shellcheck source=h2load_common.sh
source "$root/bench/rpc/h2load_common.sh"

raw="$build/bench/rpc/rpc-raw-server"
coro="$build/bench/rpc/rpc-coroutine-server"

# label | environment | command prefix | flags for both servers | more coroutine flags
variants=(
  "gRPC defaults||||"
  "grpc.minimal_stack=1|||--arg grpc.minimal_stack=1|"
  "grpc.http2.bdp_probe=0|||--arg grpc.http2.bdp_probe=0|"
  "grpc.optimization_target=throughput|||--arg grpc.optimization_target=throughput|"
  "grpc.optimization_target=latency|||--arg grpc.optimization_target=latency|"
  "grpc.max_concurrent_streams=10|||--arg grpc.max_concurrent_streams=10|"
  "grpc.so_reuseport=0|||--arg grpc.so_reuseport=0|"
  "ResourceQuota SetMaxThreads(2)|||--max-threads 2|"
  "GRPC_POLL_STRATEGY=poll|GRPC_POLL_STRATEGY=poll|||"
  "GRPC_EXPERIMENTS=tcp_read_chunks,tcp_frame_size_tuning|GRPC_EXPERIMENTS=tcp_read_chunks,tcp_frame_size_tuning|||"
  "GRPC_EXPERIMENTS=peer_state_based_framing,flow_control_fixes|GRPC_EXPERIMENTS=peer_state_based_framing,flow_control_fixes|||"
  "coroutine: 2 io threads||||--threads 2"
  "coroutine: runtime batch_scheduling||||--batch-scheduling"
  "whole process SCHED_BATCH (chrt -b 0)||chrt -b 0||"
)

printf '%-62s %10s %10s %10s\n' "setting (median of $rounds rounds)" "raw/ref" "coro/raw" "coro/ref"
for i in "${!variants[@]}"; do
  IFS='|' read -r label envs prefix flags coro_flags <<<"${variants[$i]}"
  if [ "$i" -gt 0 ] && [ -n "${ONLY:-}" ] && ! [[ $label =~ $ONLY ]]; then continue; fi
  start_server ref 20561 "" "" "$raw"; ref_pid=$server_pid; pids+=("$ref_pid")
  # shellcheck disable=SC2086  # flags are lists of words
  start_server raw 20562 "$envs" "$prefix" "$raw" $flags; raw_pid=$server_pid; pids+=("$raw_pid")
  # shellcheck disable=SC2086
  start_server coro 20563 "$envs" "$prefix" "$coro" $flags $coro_flags; coro_pid=$server_pid; pids+=("$coro_pid")
  : >"$tmp/rounds"
  servers=("$ref_pid 20561" "$raw_pid 20562" "$coro_pid 20563")
  for r in $(seq 0 $((rounds - 1))); do
    us=()
    for k in 0 1 2; do
      j=$(((k + r) % 3))  # each round starts with the next server
      read -r _ us[j] _ _ < <(load ${servers[$j]} -D "$seconds")
    done
    echo "${us[0]} ${us[1]} ${us[2]}" >>"$tmp/rounds"
  done
  kill -TERM "$ref_pid" "$raw_pid" "$coro_pid"; wait "$ref_pid" "$raw_pid" "$coro_pid" 2>/dev/null || true
  pids=()
  awk -v l="$label" -v a="$(median "$tmp/rounds" '$2 / $1')" -v b="$(median "$tmp/rounds" '$3 / $2')" \
      -v c="$(median "$tmp/rounds" '$3 / $1')" -v us="$(median "$tmp/rounds" '$1')" \
    'BEGIN { printf "%-62s %9.2fx %9.2fx %9.2fx   (reference %.1f us)\n", l, a, b, c, us }'
done
