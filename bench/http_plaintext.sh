#!/usr/bin/env bash
# HTTP/1.1 plaintext: coronet next to nginx and a floor server, same run, same machine,
# loopback only. The floor (bench/floor_server.cpp) is a plain epoll loop that counts request
# heads and writes fixed answers: no parsing, no routing, the least a server can do per
# request. Each server is pinned to CPU 0 (one thread / one worker), wrk to CPU 1:
#   1. 64 keep-alive connections, no pipelining;
#   2. 64 connections, 16 requests pipelined per write;
#   3. one connection, one request in flight: wrk's mean latency;
#   4. 10,000 idle keep-alive connections (one request each, then silence): RSS per connection.
# Reports req/s and server CPU microseconds per request (utime+stime from /proc/PID/stat).
# The load scenarios run ROUNDS times, the servers taking turns, and each figure is the
# median over rounds (a ratio is the median of the per-round ratios): on a shared machine a
# single run can be off by 20% either way.
# Each round also loads two servers at once, side by side (one wrk each on CPU 1, the servers
# sharing CPU 0): coronet and nginx keep-alive, coronet and the floor pipelined. Whatever
# else the machine does then falls on both alike, so those CPU-per-request ratios move by
# about 1% between rounds, where the servers-taking-turns ones move by 15%.
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
servers=(coronet nginx floor)
declare -A pid port
for tool in wrk nginx taskset /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (./x bench installs it)" >&2; exit 1; }
done
# 10,000 idle connections: a descriptor each in the server and in the client.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((idle_conns + 100)) ] || { echo "need ulimit -n > $((idle_conns + 100))" >&2; exit 1; }

# shellcheck source=bench/nginx_peer.sh
source "$root/bench/nginx_peer.sh"

# side_by_side A B [wrk args...]: the same load on servers A and B at once (one wrk each, both
# on the client CPU); prints "a_cpu_us b_cpu_us" per request.
side_by_side() {
  local a=$1 b=$2; shift 2
  local pa=${pid[$a]} pb=${pid[$b]} a0 b0 a1 b1
  a0=$(cpu_ticks "$pa"); b0=$(cpu_ticks "$pb")
  taskset -c $client_cpu wrk -t1 -c64 -d"${duration}s" "$@" "http://127.0.0.1:${port[$a]}/" > "$work/side_a" &
  taskset -c $client_cpu wrk -t1 -c64 -d"${duration}s" "$@" "http://127.0.0.1:${port[$b]}/" > "$work/side_b"
  wait $!
  a1=$(cpu_ticks "$pa"); b1=$(cpu_ticks "$pb")
  awk -v at=$((a1 - a0)) -v bt=$((b1 - b0)) -v hz="$ticks" \
      -v an="$(awk '/requests in/ {print $1}' "$work/side_a")" \
      -v bn="$(awk '/requests in/ {print $1}' "$work/side_b")" \
    'BEGIN { printf "%.3f %.3f\n", (at / hz) * 1e6 / an, (bt / hz) * 1e6 / bn }'
}

# run_wrk SERVER [wrk args...]: 64 connections; prints "req/s cpu_us_per_req"
run_wrk() {
  local name=$1; shift
  local p=${pid[$name]} before after out rps reqs
  before=$(cpu_ticks "$p")
  out=$(taskset -c $client_cpu wrk -t1 -c64 -d"${duration}s" "$@" "http://127.0.0.1:${port[$name]}/")
  after=$(cpu_ticks "$p")
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$name: $out" >&2; fi
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v r="$rps" -v n="$reqs" -v t=$((after - before)) -v hz="$ticks" \
    'BEGIN { printf "%.0f %.3f\n", r, (t / hz) * 1e6 / n }'
}

# latency SERVER: one connection, one request in flight; prints wrk's mean latency in us.
latency() {
  local name=$1 out
  out=$(taskset -c $client_cpu wrk -t1 -c1 -d"${duration}s" "http://127.0.0.1:${port[$name]}/")
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$name: $out" >&2; fi
  echo "$out" | awk '/^ *Latency/ {
    v = $2; u = v; sub(/[0-9.]+/, "", u); v += 0
    if (u == "ms") v *= 1000; else if (u == "s") v *= 1e6; else if (u == "ns") v /= 1000
    printf "%.2f\n", v }'
}

# idle_rss SERVER: opens idle_conns connections, one request each, waits, and prints the
# server's RSS growth per connection in KiB.
idle_rss() {
  local p=${pid[$1]} before after
  before=$(rss_kib "$p")
  timeout 120 /usr/bin/python3 - "${port[$1]}" "$idle_conns" "$p" > "$work/idle.out" <<'PY'
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
  sleep 1  # let the server close them all before the next measurement
}


start_coronet() {
  taskset -c $server_cpu "$build/bench/http_plaintext_server" --threads 1 > "$work/coronet.out" &
  pids+=($!)
  pid[coronet]=$!
  port[coronet]=$(wait_port "$work/coronet.out")
}

start_floor() {
  taskset -c $server_cpu "$build/bench/floor_server" > "$work/floor.out" &
  pids+=($!)
  pid[floor]=$!
  port[floor]=$(wait_port "$work/floor.out")
}

start_coronet
# nginx closes a connection after 1,000 requests by default; 10,000 is coronet's default too.
launch_nginx http 10000
start_floor
for s in "${servers[@]}"; do
  echo "$s: pid ${pid[$s]} port ${port[$s]}" >&2
  curl -sf "http://127.0.0.1:${port[$s]}/" | grep -q "Hello, World!" || { echo "$s does not answer" >&2; exit 1; }
done
echo "${duration}s per run, $rounds rounds" >&2

# Warm up, then each round: every scenario for every server, back to back. One line per
# round, named columns (see the header written below).
for s in "${servers[@]}"; do
  taskset -c $client_cpu wrk -t1 -c64 -d1s "http://127.0.0.1:${port[$s]}/" >/dev/null
done
echo "c_rps c_cpu n_rps n_cpu f_rps f_cpu cp_rps cp_cpu np_rps np_cpu fp_rps fp_cpu" \
     "c_lat n_lat f_lat cs_cpu ns_cpu cps_cpu fps_cpu" > "$work/rounds"
for r in $(seq "$rounds"); do
  line=""
  for s in "${servers[@]}"; do line+="$(run_wrk "$s") "; done
  for s in "${servers[@]}"; do line+="$(run_wrk "$s" -s "$work/pipeline.lua") "; done
  for s in "${servers[@]}"; do line+="$(latency "$s") "; done
  line+="$(side_by_side coronet nginx) "
  line+="$(side_by_side coronet floor -s "$work/pipeline.lua")"
  echo "$line" >> "$work/rounds"
  echo "$line" | awk -v r="$r" '{ printf "round %d: keep-alive CPU/req vs nginx %.3fx (side by side %.3fx);" \
    " pipelined CPU/req vs floor %.2fx (side by side %.2fx), req/s vs nginx %.1fx;" \
    " latency vs nginx %.3fx, vs floor %.3fx\n",
    r, $2 / $4, $16 / $17, $8 / $12, $18 / $19, $7 / $9, $13 / $14, $13 / $15 }' >&2
done
echo "rounds:" >&2
column -t "$work/rounds" >&2

declare -A idle
for s in "${servers[@]}"; do idle[$s]=$(idle_rss "$s"); done

# median EXPRESSION: the median over rounds of an awk expression of one round's columns.
median() {
  tail -n +2 "$work/rounds" | awk "{ print $1 }" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# spread EXPRESSION: "min-max" over rounds.
spread() {
  tail -n +2 "$work/rounds" | awk "{ print $1 }" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'
}

printf '\n%-38s %10s %10s %10s %18s %18s\n' "scenario (median of $rounds rounds)" coronet nginx floor \
  "coronet/nginx" "coronet/floor"
row() {  # NAME FORMAT C N F RATIO_N SPREAD_N RATIO_F SPREAD_F (an empty figure prints "-")
  awk -v name="$1" -v fmt="$2" -v c="$3" -v n="$4" -v f="$5" -v rn="$6" -v sn="$7" -v rf="$8" -v sf="$9" '
    function fig(v) { return v == "" ? sprintf("%10s", "-") : sprintf(fmt, v) }
    function ratio(v) { return v == "" ? sprintf("%7s", "-") : sprintf("%6.2fx", v) }
    BEGIN { printf "%-38s %s %s %s %s %-11s %s %-11s\n", name, fig(c), fig(n), fig(f), ratio(rn), sn, ratio(rf), sf }'
}
row "keep-alive, req/s" "%10.0f" "$(median '$1')" "$(median '$3')" "$(median '$5')" \
  "$(median '$1 / $3')" "$(spread '$1 / $3')" "$(median '$1 / $5')" "$(spread '$1 / $5')"
row "keep-alive, CPU us/request" "%10.2f" "$(median '$2')" "$(median '$4')" "$(median '$6')" \
  "$(median '$2 / $4')" "$(spread '$2 / $4')" "$(median '$2 / $6')" "$(spread '$2 / $6')"
row "keep-alive side by side, CPU us/req" "%10.2f" "$(median '$16')" "$(median '$17')" "" \
  "$(median '$16 / $17')" "$(spread '$16 / $17')" "" ""
row "pipelined x16, req/s" "%10.0f" "$(median '$7')" "$(median '$9')" "$(median '$11')" \
  "$(median '$7 / $9')" "$(spread '$7 / $9')" "$(median '$7 / $11')" "$(spread '$7 / $11')"
row "pipelined x16, CPU us/request" "%10.2f" "$(median '$8')" "$(median '$10')" "$(median '$12')" \
  "$(median '$8 / $10')" "$(spread '$8 / $10')" "$(median '$8 / $12')" "$(spread '$8 / $12')"
row "pipelined side by side, CPU us/req" "%10.2f" "$(median '$18')" "" "$(median '$19')" \
  "" "" "$(median '$18 / $19')" "$(spread '$18 / $19')"
row "one in flight, latency us" "%10.2f" "$(median '$13')" "$(median '$14')" "$(median '$15')" \
  "$(median '$13 / $14')" "$(spread '$13 / $14')" "$(median '$13 / $15')" "$(spread '$13 / $15')"
row "$idle_conns idle conns, KiB RSS/conn" "%10.2f" "${idle[coronet]}" "${idle[nginx]}" "${idle[floor]}" \
  "$(awk -v a="${idle[coronet]}" -v b="${idle[nginx]}" 'BEGIN { print a / b }')" "" \
  "$(awk -v a="${idle[coronet]}" -v b="${idle[floor]}" 'BEGIN { print (b > 0 ? a / b : 0) }')" ""
