#!/usr/bin/env bash
# Requests per second through nginx (examples/deploy/nginx.conf.in) to 1, 2 and 3
# coronet-demo instances, wrk over keep-alive connections, with the CPU time each request
# costs nginx and costs coronet, given separately (utime + stime from /proc/PID/stat, before
# and after each run). A first row sends wrk straight to one instance, for the cost of the
# proxy hop. Every row comes from the same invocation; compare rows only with each other.
#
# On a machine with few cores (2 here) wrk, nginx and the instances share them: the figures
# show what the proxy hop costs per request, not how a fleet scales. Scaling needs the
# instances on cores (or hosts) of their own.
#
#   flock /tmp/coronet-bench.lock bench/nginx_fleet.sh [build/examples/coronet-demo]
#   DURATION=10 CONNECTIONS=64 NGINX_WORKERS=1 (the defaults)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
demo=${1:-$here/../build/examples/coronet-demo}
duration=${DURATION:-10}
connections=${CONNECTIONS:-64}
nginx_workers=${NGINX_WORKERS:-1}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

ticks=$(getconf CLK_TCK)
# CPU ticks (user + system) of the given processes, summed.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -s "http://127.0.0.1:$1/" >/dev/null && return 0; sleep 0.05; done; return 1; }

# Three instances, one io thread each.
ports=() demo_pids=()
for i in 0 1 2; do
  ports+=("$(free_port)")
  "$demo" --listen "127.0.0.1:${ports[$i]}" --threads 1 >"$work/demo-$i.log" 2>&1 &
  pids+=($!) demo_pids+=($!)
  wait_http "${ports[$i]}"
done

# run NAME URL PIDS_OF_NGINX PIDS_OF_CORONET: one wrk run and its row.
run() {
  local name=$1 url=$2 nginx_p=$3 coronet_p=$4 n0 c0 n1 c1 out rps requests
  n0=$( [ -n "$nginx_p" ] && cpu_ticks $nginx_p || echo 0 )
  c0=$(cpu_ticks $coronet_p)
  out=$(wrk -t1 -c"$connections" -d"${duration}s" "$url")
  n1=$( [ -n "$nginx_p" ] && cpu_ticks $nginx_p || echo 0 )
  c1=$(cpu_ticks $coronet_p)
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then echo "$name: errors:" >&2; echo "$out" >&2; fi
  awk -v name="$name" -v rps="$rps" -v req="$requests" -v n="$((n1 - n0))" -v c="$((c1 - c0))" -v hz="$ticks" \
    'BEGIN { printf "%-22s %10d %14.1f %14.1f\n", name, rps, n / hz * 1e6 / req, c / hz * 1e6 / req }'
}

printf "%-22s %10s %14s %14s\n" "" "req/s" "nginx us/req" "coronet us/req"
run "direct, 1 instance" "http://127.0.0.1:${ports[0]}/" "" "${demo_pids[0]}"

for n in 1 2 3; do
  prefix=$work/nginx-$n
  mkdir -p "$prefix/tmp"
  http_port=$(free_port) grpc_port=$(free_port)
  servers=""
  for ((i = 0; i < n; i++)); do servers+="    server 127.0.0.1:${ports[$i]} max_fails=1 fail_timeout=1s;\n"; done
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@WORKERS@|$nginx_workers|" -e "s|@HTTP_PORT@|$http_port|" \
      -e "s|@GRPC_PORT@|$grpc_port|" -e "s|@SERVERS@|${servers%\\n}|" \
      -e "s|access_log .*;|access_log off;|" "$here/../examples/deploy/nginx.conf.in" >"$prefix/nginx.conf"
  "$nginx_bin" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
  nginx_pid=$!
  pids+=("$nginx_pid")
  wait_http "$http_port"
  nginx_all="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"
  wrk -t1 -c"$connections" -d1s "http://127.0.0.1:$http_port/" >/dev/null  # warm the upstream pools
  run "nginx -> $n instance$([ "$n" -gt 1 ] && echo s)" "http://127.0.0.1:$http_port/" "$nginx_all" "${demo_pids[*]:0:$n}"
  kill -QUIT "$nginx_pid"
  wait "$nginx_pid" 2>/dev/null || true
done
