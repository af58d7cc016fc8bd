# Shared by the gRPC benchmark scripts (sourced, not run). The caller sets build, seconds,
# clients and streams (and may set start_tries, tenths of a second to wait for a server to
# listen, 50 by default); this sets tmp (removed on exit) and pids (servers killed on exit).
# Servers run pinned to CPU 0, h2load pinned to CPU 1, over loopback; gRPC framing is a
# 5-byte prefix (uncompressed, big-endian length) + Greeting{"world"}, with content-type:
# application/grpc and te: trailers. h2load does not read trailers, so one Python grpcio
# call checks grpc-status of each server first. A server on port $tls_port (if set) speaks
# TLS: it is loaded over https (ALPN h2) and checked trusting the CA in $tls_ca.

for tool in h2load taskset chrt /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (./x bench installs it)" >&2; exit 1; }
done
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

printf '\x00\x00\x00\x00\x07\x0a\x05world' >"$tmp/body"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Context switches of all the process's threads so far (voluntary and not).
switches() { cat "/proc/$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { printf "%.0f", s }'; }

scheme_of() { [ "$1" = "${tls_port:-}" ] && echo https || echo http; }

check_status() {
  local ca=""
  [ "$(scheme_of "$1")" = https ] && ca=$tls_ca
  /usr/bin/python3 - "$1" "$ca" <<'PY'
import sys, grpc
target = "127.0.0.1:" + sys.argv[1]
if sys.argv[2]:
    with open(sys.argv[2], "rb") as f:
        ch = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=f.read()))
else:
    ch = grpc.insecure_channel(target)
f = ch.unary_unary("/HelloWorld/SayHello", request_serializer=lambda s: b"\x0a" + bytes([len(s)]) + s.encode(),
                   response_deserializer=lambda b: b[2:].decode())
r, call = f.with_call("world", timeout=5)
assert r == "hello world" and call.code() == grpc.StatusCode.OK, (r, call.code())
PY
}

# start_server NAME PORT "ENV=VALUE ..." "PREFIX COMMAND ..." COMMAND [ARGS...]: starts a
# server on CPU 0, waits until it listens, checks grpc-status, warms it up; sets server_pid.
start_server() {
  local name=$1 port=$2 envs=$3 prefix=$4; shift 4
  # shellcheck disable=SC2086  # envs and prefix are lists of words
  env $envs $prefix taskset -c 0 "$@" --listen "127.0.0.1:$port" >"$tmp/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq "${start_tries:-50}"); do grep -qs listening "$tmp/$name.log" && break; sleep 0.1; done
  if ! grep -qs listening "$tmp/$name.log"; then
    echo "$name did not start listening on port $port:" >&2
    cat "$tmp/$name.log" >&2
    kill "$server_pid" 2>/dev/null || true
    return 1
  fi
  check_status "$port" >&2
  load "$server_pid" "$port" -n 2000 >/dev/null
}

# load PID PORT H2LOAD_ARGS...: one h2load run; prints
# "req/s us_cpu_per_req requests 2xx switches_per_req".
load() {
  local pid=$1 port=$2; shift 2
  local before after sw_before sw_after
  sw_before=$(switches "$pid")
  before=$(cpu_ticks "$pid")
  taskset -c 1 h2load "$@" -c "$clients" -m "$streams" -d "$tmp/body" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "$(scheme_of "$port")://127.0.0.1:$port/HelloWorld/SayHello" >"$tmp/h2load.out"
  after=$(cpu_ticks "$pid")
  sw_after=$(switches "$pid")
  local done_ ok hz
  done_=$(awk '/^requests:/ {print $8}' "$tmp/h2load.out")
  ok=$(awk '/^status codes:/ {print $3}' "$tmp/h2load.out")
  hz=$(getconf CLK_TCK)
  awk -v d="$done_" -v ok="$ok" -v s="$seconds" -v t=$((after - before)) -v hz="$hz" \
      -v sw=$((sw_after - sw_before)) \
    'BEGIN { printf "%.0f %.2f %d %d %.3f\n", d / s, d ? t * 1e6 / hz / d : 0, d, ok, d ? sw / d : 0 }'
}

# median FILE COLUMN_EXPRESSION [FILTER]: median over FILE's lines of an awk expression.
median() {
  awk "${3:-1} { print $2 }" "$1" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
