#!/usr/bin/env bash
# The coroutine servers against the raw callback-API server over a grid of load shapes
# (connections x streams per connection): 1x1, 1x16, 1x100, 4x32, 16x32, 64x8. One run of
# bench/rpc/h2load_compare.sh with every shape; the same environment variables apply
# (SERVERS, SHAPES, CORO_FLAGS, RAW_FLAGS, SCHED). Takes about
# shapes x rounds x servers x SECONDS.
#
#   bench/rpc/h2load_grid.sh [BUILD_DIR] [SECONDS] [ROUNDS]      defaults: build 2 3
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SHAPES="${SHAPES:-1x1 1x16 1x100 4x32 16x32 64x8}" \
  exec "$root/bench/rpc/h2load_compare.sh" "${1:-$root/build}" "${2:-2}" 1 1 "${3:-3}"
