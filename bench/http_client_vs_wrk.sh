#!/usr/bin/env bash
# The coronet HTTP client next to wrk, same run, same server, loopback only.
# http_plaintext_server (one thread) is pinned to CPU 0; wrk and then http_client_load run
# pinned to CPU 1, each with 64 keep-alive connections on one thread for the same duration.
# Prints both req/s and the ratio client/wrk.
#
#   bench/http_client_vs_wrk.sh [BUILD_DIR] [SECONDS]      (defaults: build, 5)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
duration="${2:-5}"
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (./x bench installs wrk)" >&2; exit 1; }
done

out=$(mktemp)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -f "$out"; }
trap cleanup EXIT

taskset -c 0 "$build/bench/http_plaintext_server" --threads 1 >"$out" &
server_pid=$!
for _ in $(seq 50); do grep -q '^port ' "$out" && break; sleep 0.1; done
port=$(awk '/^port / {print $2}' "$out")
[ -n "$port" ] || { echo "server did not start" >&2; exit 1; }
url="http://127.0.0.1:$port/"

wrk_out=$(taskset -c 1 wrk -t1 -c64 -d"${duration}s" "$url")
wrk_rps=$(echo "$wrk_out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
client_out=$(taskset -c 1 "$build/bench/http_client_load" "$url" --connections 64 --duration "$duration")
client_rps=$(echo "$client_out" | awk '/^req\/s/ {print $2}')
client_errors=$(echo "$client_out" | awk '/^errors/ {print $2}')

echo "wrk            ${wrk_rps} req/s"
echo "coronet client ${client_rps} req/s (errors: ${client_errors})"
awk -v c="$client_rps" -v w="$wrk_rps" 'BEGIN { printf "ratio          %.2fx wrk\n", c / w }'
