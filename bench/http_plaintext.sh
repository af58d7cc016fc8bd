#!/usr/bin/env bash
# HTTP/1.1 plaintext: coronet next to nginx, same run, same machine, loopback only.
# Each server is pinned to CPU 0 (one thread / one worker), wrk to CPU 1. For each server:
#   1. 64 keep-alive connections, no pipelining;
#   2. 64 connections, 16 requests pipelined per write;
#   3. 10,000 idle keep-alive connections: server RSS per connection.
# Reports req/s and server CPU microseconds per request (utime+stime from /proc/PID/stat).
# The two load scenarios run ROUNDS times, the servers taking turns, and each figure is the
# median over rounds (the ratio is the median of the per-round ratios): on a shared machine a
# single run can be off by 20% either way.
# Each round also loads both servers at once, side by side (keep-alive, one wrk each, the
# servers sharing CPU 0 and the two wrk CPU 1): whatever else the machine does then falls on
# both alike, so that CPU-per-request ratio moves by about 1% between rounds, where the
# servers-taking-turns one moves by 15%.
#
#   bench/http_plaintext.sh [BUILD_DIR] [SECONDS] [ROUNDS]   (defaults: build, 5, 3)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
duration="${2:-5}"
rounds="${3:-3}"
server_cpu=0
client_cpu=1
idle_conns=10000
for tool in wrk nginx taskset /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (./x bench installs it)" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

cat > "$work/pipeline.lua" <<'LUA'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
LUA

# side_by_side: keep-alive load on both servers at once; prints "coronet_cpu_us nginx_cpu_us"
# per request.
side_by_side() {
  local c0 n0 c1 n1
  c0=$(cpu_ticks "$coronet_pid"); n0=$(cpu_ticks "$nginx_pid")
  taskset -c $client_cpu wrk -t1 -c64 -d"${duration}s" "http://127.0.0.1:$coronet_port/" > "$work/side_c" &
  taskset -c $client_cpu wrk -t1 -c64 -d"${duration}s" "http://127.0.0.1:$nginx_port/" > "$work/side_n"
  wait $!
  c1=$(cpu_ticks "$coronet_pid"); n1=$(cpu_ticks "$nginx_pid")
  awk -v ct=$((c1 - c0)) -v nt=$((n1 - n0)) -v hz="$ticks" \
      -v cn="$(awk '/requests in/ {print $1}' "$work/side_c")" \
      -v nn="$(awk '/requests in/ {print $1}' "$work/side_n")" \
    'BEGIN { printf "%.2f %.2f\n", (ct / hz) * 1e6 / cn, (nt / hz) * 1e6 / nn }'
}

# run_wrk NAME PID PORT [wrk args...]: prints "req/s cpu_us_per_req"
run_wrk() {
  local pid=$1 port=$2; shift 2
  local before after out rps reqs
  before=$(cpu_ticks "$pid")
  out=$(taskset -c $client_cpu wrk -t1 -c64 -d"${duration}s" "$@" "http://127.0.0.1:$port/")
  after=$(cpu_ticks "$pid")
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$out" >&2; fi
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v r="$rps" -v n="$reqs" -v t=$((after - before)) -v hz="$ticks" \
    'BEGIN { printf "%.0f %.2f\n", r, (t / hz) * 1e6 / n }'
}

idle_rss() {
  local pid=$1 port=$2 before after
  before=$(rss_kib "$pid")
  /usr/bin/python3 - "$port" "$idle_conns" "$pid" > "$work/idle.out" <<'PY'
import socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    conns.append(s)
# One request each, so every connection is a served keep-alive connection, then idle.
for s in conns:
    s.sendall(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")
for s in conns:
    s.settimeout(5)
    data = b""
    while b"Hello, World!" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("connection closed early")
        data += chunk
time.sleep(1)
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(rss)
for s in conns:
    s.close()
PY
  after=$(cat "$work/idle.out")
  awk -v a="$after" -v b="$before" -v n=$idle_conns 'BEGIN { printf "%.2f\n", (a - b) / n }'
}

start_coronet() {
  taskset -c $server_cpu "$build/bench/http_plaintext_server" --threads 1 > "$work/coronet.out" &
  pids+=($!)
  coronet_pid=$!
  for _ in $(seq 50); do grep -q port "$work/coronet.out" 2>/dev/null && break; sleep 0.1; done
  coronet_port=$(awk '/port/ {print $2}' "$work/coronet.out")
}

start_nginx() {
  nginx_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/nginx"
  cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 10000;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { default_type text/plain; return 200 "Hello, World!"; }
  }
}
CONF
  taskset -c $server_cpu nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
  pids+=($!)
  nginx_pid=$!
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$nginx_port/" >/dev/null 2>&1 && break; sleep 0.1; done
}

start_coronet
start_nginx
echo "coronet pid $coronet_pid port $coronet_port; nginx pid $nginx_pid port $nginx_port; ${duration}s per run" >&2

# Warm both up, then measure each scenario for both servers back to back.
taskset -c $client_cpu wrk -t1 -c64 -d1s "http://127.0.0.1:$coronet_port/" >/dev/null
taskset -c $client_cpu wrk -t1 -c64 -d1s "http://127.0.0.1:$nginx_port/" >/dev/null
# Each round: both servers, both scenarios, back to back. One line per round:
# c_rps c_cpu n_rps n_cpu cp_rps cp_cpu np_rps np_cpu cs_cpu ns_cpu
for r in $(seq "$rounds"); do
  read -r c_rps c_cpu < <(run_wrk "$coronet_pid" "$coronet_port")
  read -r n_rps n_cpu < <(run_wrk "$nginx_pid" "$nginx_port")
  read -r cp_rps cp_cpu < <(run_wrk "$coronet_pid" "$coronet_port" -s "$work/pipeline.lua")
  read -r np_rps np_cpu < <(run_wrk "$nginx_pid" "$nginx_port" -s "$work/pipeline.lua")
  read -r cs_cpu ns_cpu < <(side_by_side)
  echo "$c_rps $c_cpu $n_rps $n_cpu $cp_rps $cp_cpu $np_rps $np_cpu $cs_cpu $ns_cpu" | tee -a "$work/rounds" |
    awk -v r="$r" '{ printf "round %d: keep-alive CPU/req %.2fx (side by side %.3fx), pipelined req/s %.2fx\n",
                     r, $2 / $4, $9 / $10, $5 / $7 }' >&2
done
c_idle=$(idle_rss "$coronet_pid" "$coronet_port")
n_idle=$(idle_rss "$nginx_pid" "$nginx_port")

# median COLUMN_EXPRESSION: the median over rounds of an awk expression of one round's line.
median() {
  awk "{ print $1 }" "$work/rounds" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

printf '\n%-34s %14s %14s %10s\n' "scenario (median of $rounds rounds)" "coronet" "nginx" "ratio"
row() { awk -v name="$1" -v a="$2" -v b="$3" -v ratio="$4" \
  'BEGIN { printf "%-34s %14.0f %14.0f %9.2fx\n", name, a, b, ratio }'; }
rowf() { awk -v name="$1" -v a="$2" -v b="$3" -v ratio="$4" \
  'BEGIN { printf "%-34s %14.2f %14.2f %9.2fx\n", name, a, b, ratio }'; }
row "keep-alive, req/s" "$(median '$1')" "$(median '$3')" "$(median '$1 / $3')"
rowf "keep-alive, CPU us/request" "$(median '$2')" "$(median '$4')" "$(median '$2 / $4')"
rowf "keep-alive side by side, CPU us/req" "$(median '$9')" "$(median '$10')" "$(median '$9 / $10')"
row "pipelined x16, req/s" "$(median '$5')" "$(median '$7')" "$(median '$5 / $7')"
rowf "pipelined x16, CPU us/request" "$(median '$6')" "$(median '$8')" "$(median '$6 / $8')"
rowf "$idle_conns idle conns, KiB RSS/conn" "$c_idle" "$n_idle" "$(awk -v a="$c_idle" -v b="$n_idle" 'BEGIN { print a / b }')"
