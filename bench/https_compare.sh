#!/usr/bin/env bash
# HTTPS (HTTP/1.1 over TLS): coronet next to nginx, same run, same machine, loopback only,
# the same ECDSA P-256 certificate (tests/support/make_test_pki.sh) on both. Each server is
# pinned to CPU 0 (one thread / one worker), the clients to CPU 1:
#   1. keep-alive, no pipelining, at 16, 64 and 256 connections (wrk);
#   2. 64 connections, 16 requests pipelined per write (wrk and a Lua script);
#   3. new connections, full handshakes (openssl s_time -new);
#   4. new connections, resumed handshakes from a session ticket (openssl s_time -reuse).
# Every connection is TLS 1.3, TLS_AES_128_GCM_SHA256 over X25519. Neither wrk nor s_time can
# choose the key exchange group (and wrk not the suite), so the clients read an OpenSSL config
# that allows only those (OPENSSL_CONF); the servers keep their own defaults, and one
# s_client per server shows what was negotiated.
# For 3 and 4, CLIENTS s_time processes connect one connection after another: handshake,
# "GET /" as HTTP/1.0, the answer read up to the close. s_time marks each connection with 'r'
# when the server resumed its session, so how many handshakes were resumed is the client's own
# count, printed next to the figures: a server that ignored the ticket would show there.
# Reports req/s (handshakes/s) and server CPU microseconds per request (per handshake),
# utime+stime from /proc/PID/stat, and handshakes per server CPU-second. The scenarios run
# ROUNDS times, the servers taking turns, and each figure is the median over rounds (a ratio
# is the median of the per-round ratios). Each round also loads both servers at once with
# the 64-connection keep-alive load (one wrk each on CPU 1, the servers sharing CPU 0), so
# whatever else the machine does falls on both alike.
# wrk's single thread does as much TLS work per request as the server, so req/s is bounded by
# the client: server CPU per request is the figure that compares the servers.
#
#   bench/https_compare.sh [BUILD_DIR] [SECONDS] [ROUNDS]   (defaults: build, 5, 3)
# SERVERS="nginx" measures nginx alone (coronet's figures print as "-").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
duration="${2:-5}"
rounds="${3:-3}"
read -r -a servers <<<"${SERVERS:-coronet nginx}"
server_cpu=0
client_cpu=1
keepalive_conns=(16 64 256)
clients=4   # s_time processes at once
suite=TLS_AES_128_GCM_SHA256
group=X25519
declare -A pid port
for tool in wrk nginx openssl taskset curl /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (./x bench installs it)" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# shellcheck source=bench/nginx_peer.sh
source "$root/bench/nginx_peer.sh"

"$root/tests/support/make_test_pki.sh" "$work/pki" >/dev/null
cert=$work/pki/server.pem
key=$work/pki/server.key

# The clients' OpenSSL configuration: TLS 1.3 only, one suite, one group.
cat > "$work/client.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = client_tls
[client_tls]
MinProtocol = TLSv1.3
Ciphersuites = $suite
Groups = $group
CNF
client() { OPENSSL_CONF="$work/client.cnf" taskset -c $client_cpu timeout $((duration + 30)) "$@"; }

# run_wrk SERVER CONNS [wrk args...]: prints "req/s cpu_us_per_req".
run_wrk() {
  local name=$1 conns=$2; shift 2
  local p=${pid[$name]} before after out rps reqs
  before=$(cpu_ticks "$p")
  out=$(client wrk -t1 -c"$conns" -d"${duration}s" "$@" "https://127.0.0.1:${port[$name]}/")
  after=$(cpu_ticks "$p")
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$name: $out" >&2; fi
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v r="$rps" -v n="$reqs" -v t=$((after - before)) -v hz="$ticks" \
    'BEGIN { printf "%.0f %.3f\n", r, (t / hz) * 1e6 / n }'
}

# side_by_side A B: 64 keep-alive connections on A and on B at once (one wrk each, both on
# the client CPU); prints "a_cpu_us b_cpu_us" per request.
side_by_side() {
  local a=$1 b=$2 pa=${pid[$1]} pb=${pid[$2]} a0 b0 a1 b1 wa
  a0=$(cpu_ticks "$pa"); b0=$(cpu_ticks "$pb")
  client wrk -t1 -c64 -d"${duration}s" "https://127.0.0.1:${port[$a]}/" > "$work/side_a" &
  wa=$!
  client wrk -t1 -c64 -d"${duration}s" "https://127.0.0.1:${port[$b]}/" > "$work/side_b"
  wait $wa
  a1=$(cpu_ticks "$pa"); b1=$(cpu_ticks "$pb")
  awk -v at=$((a1 - a0)) -v bt=$((b1 - b0)) -v hz="$ticks" \
      -v an="$(awk '/requests in/ {print $1}' "$work/side_a")" \
      -v bn="$(awk '/requests in/ {print $1}' "$work/side_b")" \
    'BEGIN { printf "%.3f %.3f\n", (at / hz) * 1e6 / an, (bt / hz) * 1e6 / bn }'
}

# handshakes SERVER -new|-reuse: `clients` s_time processes at once for `duration` seconds;
# prints "handshakes/s cpu_us_per_handshake resumed_percent". s_time prints a line of marks,
# one per connection ('*' full, 'r' resumed), and the count of connections; with -reuse, the
# connection that fetched the session is in neither (it is counted here, as a full handshake).
handshakes() {
  local name=$1 mode=$2 p=${pid[$1]} before after t0 t1 i waits=()
  before=$(cpu_ticks "$p")
  t0=$(date +%s.%N)
  for i in $(seq $clients); do
    client openssl s_time -connect "127.0.0.1:${port[$name]}" "$mode" -time "$duration" \
      -www / -ciphersuites $suite > "$work/s_time.$i" 2>&1 &
    waits+=($!)
  done
  for i in "${waits[@]}"; do wait "$i" || true; done
  t1=$(date +%s.%N)
  after=$(cpu_ticks "$p")
  local marks=0 resumed=0
  for i in $(seq $clients); do
    if ! grep -q "connections in" "$work/s_time.$i"; then
      echo "$name: s_time $mode failed:" >&2; head -c 2000 "$work/s_time.$i" >&2; return 1
    fi
    marks=$((marks + $(awk '/connections in .* real seconds/ { print $1 }' "$work/s_time.$i")))
    resumed=$((resumed + $(grep -E '^[*r]+$' "$work/s_time.$i" | tr -cd r | wc -c)))
    [ "$mode" = -reuse ] && marks=$((marks + 1))
  done
  awk -v n=$marks -v r=$resumed -v t=$((after - before)) -v hz="$ticks" -v t0="$t0" -v t1="$t1" \
    'BEGIN { printf "%.0f %.3f %.1f\n", n / (t1 - t0), (t / hz) * 1e6 / n, 100 * r / n }'
}


start_coronet() {
  taskset -c $server_cpu "$build/bench/http_plaintext_server" --threads 1 \
    --tls-cert "$cert" --tls-key "$key" > "$work/coronet.out" &
  pids+=($!)
  pid[coronet]=$!
  port[coronet]=$(wait_port "$work/coronet.out")
}

# nginx as one worker, no master, defaults left alone except what the load needs: no access
# log, unlimited requests per connection (nginx closes after 1,000 by default, and each close
# would cost the next request a handshake). Session tickets are nginx's default.
start_nginx() {
  launch_nginx https 100000000 "ssl_certificate $cert;" "ssl_certificate_key $key;" \
    "ssl_protocols TLSv1.2 TLSv1.3;" "ssl_ecdh_curve X25519:prime256v1;"
}

# tls_check SERVER: what one client with the benchmark's configuration negotiates, verifying
# the certificate against the test CA.
tls_check() {
  local out
  out=$(echo | OPENSSL_CONF="$work/client.cnf" timeout 5 openssl s_client -connect "127.0.0.1:${port[$1]}" \
    -alpn http/1.1 -CAfile "$work/pki/ca.pem" -verify_ip 127.0.0.1 -verify_return_error 2>&1) ||
    { echo "$1: TLS handshake failed:" >&2; echo "$out" >&2; exit 1; }
  echo "$out" | awk -v n="$1" '
    /^New, / { sub(/,$/, "", $2); proto = $2; cipher = $NF }
    /^Server Temp Key:/ { sub(/^Server Temp Key: /, ""); group = $0 }
    /^Peer signature type:/ { sig = $NF }
    /^ALPN protocol:/ { alpn = $NF }
    /^ *Verify return code:/ { sub(/^ *Verify return code: /, ""); verify = $0 }
    END { printf "%s: %s %s, %s, %s signature, ALPN %s, verify %s\n", n, proto, cipher, group, sig,
          alpn == "" ? "none" : alpn, verify }' >&2
}

for s in "${servers[@]}"; do "start_$s"; done
for s in "${servers[@]}"; do
  echo "$s: pid ${pid[$s]} port ${port[$s]}" >&2
  curl -sf --cacert "$work/pki/ca.pem" "https://127.0.0.1:${port[$s]}/" | grep -q "Hello, World!" ||
    { echo "$s does not answer over HTTPS" >&2; exit 1; }
  tls_check "$s"
done
echo "${duration}s per run, $rounds rounds, $clients s_time clients" >&2

for s in "${servers[@]}"; do client wrk -t1 -c64 -d1s "https://127.0.0.1:${port[$s]}/" >/dev/null; done

# One line per figure: "round key server value".
: > "$work/results"
record() { echo "$round $2 $1 $3" >> "$work/results"; }   # record SERVER KEY VALUE
for round in $(seq "$rounds"); do
  for c in "${keepalive_conns[@]}"; do
    for s in "${servers[@]}"; do
      read -r rps cpu <<<"$(run_wrk "$s" "$c")"
      [ -n "$cpu" ] || exit 1
      record "$s" "ka${c}_rps" "$rps"; record "$s" "ka${c}_cpu" "$cpu"
    done
  done
  for s in "${servers[@]}"; do
    read -r rps cpu <<<"$(run_wrk "$s" 64 -s "$work/pipeline.lua")"
    [ -n "$cpu" ] || exit 1
    record "$s" pipe_rps "$rps"; record "$s" pipe_cpu "$cpu"
  done
  for mode in new reuse; do
    for s in "${servers[@]}"; do
      read -r hs cpu res <<<"$(handshakes "$s" "-$mode")"
      [ -n "$cpu" ] || exit 1
      record "$s" "${mode}_hs" "$hs"; record "$s" "${mode}_cpu" "$cpu"; record "$s" "${mode}_res" "$res"
      record "$s" "${mode}_percpu" "$(awk -v c="$cpu" 'BEGIN { printf "%.0f", 1e6 / c }')"
    done
  done
  if [ ${#servers[@]} -eq 2 ]; then
    read -r a b <<<"$(side_by_side "${servers[0]}" "${servers[1]}")"
    record "${servers[0]}" side_cpu "$a"; record "${servers[1]}" side_cpu "$b"
  fi
  # CPU per request (per handshake): coronet/nginx, or one server's figures alone.
  awk -v r="$round" '$1 == r && $2 ~ /_cpu$/ { k = $2; sub(/_cpu$/, "", k); v[$3 " " k] = $4; if (!(k in seen)) { seen[k] = 1; keys[++n] = k } }
    END { line = "round " r ": CPU per request"
          for (i = 1; i <= n; ++i) {
            k = keys[i]; c = v["coronet " k]; g = v["nginx " k]
            line = line sprintf(" %s %s", k, c != "" && g > 0 ? sprintf("%.2fx", c / g) : sprintf("%sus", c != "" ? c : g)) }
          print line }' "$work/results" >&2
done

# median: the median of the numbers on stdin ("" when none).
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
value() { awk -v s="$1" -v k="$2" '$3 == s && $2 == k { print $4 }' "$work/results" | median; }
# ratios KEY: coronet's value over nginx's, one per round.
ratios() {
  awk -v k="$1" '$2 == k { v[$1 " " $3] = $4; r[$1] = 1 }
    END { for (i in r) if ((i " coronet") in v && v[i " nginx"] > 0) print v[i " coronet"] / v[i " nginx"] }' "$work/results"
}
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.2f-%.2f", lo, hi }'; }

printf '\n%-44s %10s %10s %14s %s\n' "scenario (median of $rounds rounds)" coronet nginx "coronet/nginx" "(min-max)"
row() {  # NAME FORMAT KEY
  local name=$1 fmt=$2 k=$3
  awk -v name="$name" -v fmt="$fmt" -v c="$(value coronet "$k")" -v n="$(value nginx "$k")" \
      -v r="$(ratios "$k" | median)" -v sp="$(ratios "$k" | spread)" '
    function fig(v) { return v == "" ? sprintf("%10s", "-") : sprintf(fmt, v) }
    BEGIN { printf "%-44s %s %s %14s %s\n", name, fig(c), fig(n),
            r == "" ? "-" : sprintf("%.2fx", r), sp == "" ? "" : "(" sp ")" }'
}
for c in "${keepalive_conns[@]}"; do
  row "keep-alive, $c conns, req/s" "%10.0f" "ka${c}_rps"
  row "keep-alive, $c conns, CPU us/request" "%10.2f" "ka${c}_cpu"
done
row "keep-alive side by side, 64 conns, CPU us/req" "%10.2f" side_cpu
row "pipelined x16, 64 conns, req/s" "%10.0f" pipe_rps
row "pipelined x16, 64 conns, CPU us/request" "%10.2f" pipe_cpu
row "full handshakes/s ($clients clients)" "%10.0f" new_hs
row "full handshakes, CPU us each" "%10.2f" new_cpu
row "full handshakes per server CPU-second" "%10.0f" new_percpu
row "  of which resumed, % (client's count)" "%10.1f" new_res
row "resumed handshakes/s ($clients clients)" "%10.0f" reuse_hs
row "resumed handshakes, CPU us each" "%10.2f" reuse_cpu
row "resumed handshakes per server CPU-second" "%10.0f" reuse_percpu
row "  of which resumed, % (client's count)" "%10.1f" reuse_res
