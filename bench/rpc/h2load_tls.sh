#!/usr/bin/env bash
# What TLS costs a gRPC call: the coroutine server (rpc-coroutine-server, default options)
# once cleartext and once with --tls, under the same h2load load, which speaks TLS 1.3 with
# ALPN h2 to the second. Both servers run pinned to CPU 0 for the whole run, one at a time
# under load (h2load pinned to CPU 1, over loopback); per shape (CLIENTSxSTREAMS), ROUNDS
# rounds load them in turn, the first one alternating. Reported per shape: medians over the
# rounds of req/s, server CPU time per call and context switches per call, and the median
# of the per-round ratios TLS/cleartext. Each connection makes one handshake, at its start;
# over SECONDS of load its share of the CPU per call is negligible, so the ratio is the
# cost of record encryption and decryption. The certificates are tests/support's test PKI
# (ECDSA P-256), made afresh.
#
#   bench/rpc/h2load_tls.sh [BUILD_DIR] [SECONDS] [ROUNDS]
#   defaults: build 5 5.  SHAPES="1x100 16x32" (the default) lists the load shapes.
#   CORO_FLAGS: extra flags for both servers (see coroutine_server.cpp).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-5}"
rounds="${3:-5}"
shapes=(${SHAPES:-1x100 16x32})
clients=1   # for the warm-up load of start_server; each shape sets its own
streams=100

# shellcheck source=h2load_common.sh
source "$root/bench/rpc/h2load_common.sh"

bash "$root/tests/support/make_test_pki.sh" "$tmp/pki" >/dev/null
tls_ca="$tmp/pki/ca.pem"
coro="$build/bench/rpc/rpc-coroutine-server"
plain_port=20571  # below the ephemeral range, as in h2load_compare.sh
tls_port=20572
# shellcheck disable=SC2086  # CORO_FLAGS is a list of words
start_server plain "$plain_port" "" "" "$coro" ${CORO_FLAGS:-}
pids+=("$server_pid")
# shellcheck disable=SC2086
start_server tls "$tls_port" "" "" "$coro" --tls "$tmp/pki/server.pem" "$tmp/pki/server.key" \
  ${CORO_FLAGS:-}
pids+=("$server_pid")
names=(plain tls)
ports=("$plain_port" "$tls_port")

summary=()
for shape in "${shapes[@]}"; do
  clients=${shape%x*}
  streams=${shape#*x}
  : >"$tmp/rounds"  # one line per round: "rps us switches" of plain, then of tls
  for r in $(seq "$rounds"); do
    result=()
    for k in 0 1; do
      i=$(((r + k) % 2))
      read -r rps us _ ok sw < <(load "${pids[$i]}" "${ports[$i]}" -D "$seconds")
      [ "$ok" -gt 0 ] || { echo "${names[$i]}: no 2xx answers" >&2; cat "$tmp/h2load.out" >&2; exit 1; }
      result[i]="$rps $us $sw"
      # What the TLS server negotiated, once (h2load prints it per run).
      if [ "$i" = 1 ] && [ "$r" = 1 ]; then
        grep -E '^(TLS Protocol|Cipher|Server Temp Key|Application protocol):' "$tmp/h2load.out" >&2 || true
      fi
    done
    echo "${result[*]}" >>"$tmp/rounds"
    echo "$shape round $r: CPU per call tls/plain $(awk '{ printf "%.3fx", $5 / $2 }' <<<"${result[*]}")" >&2
  done
  m() { median "$tmp/rounds" "$1"; }
  printf '\n%s (%d connections x %d streams), median of %d rounds of %s s\n' \
    "$shape" "$clients" "$streams" "$rounds" "$seconds"
  printf '%-28s %10s %10s %12s\n' "" plain tls tls/plain
  printf '%-28s %10.0f %10.0f %11.3fx\n' "req/s" "$(m '$1')" "$(m '$4')" "$(m '$4 / $1')"
  printf '%-28s %10.2f %10.2f %11.3fx\n' "server CPU us per call" "$(m '$2')" "$(m '$5')" "$(m '$5 / $2')"
  printf '%-28s %10.3f %10.3f\n' "context switches per call" "$(m '$3')" "$(m '$6')"
  summary+=("$(printf '%-8s %10.2f %10.2f %11.3fx %11.3fx' "$shape" "$(m '$2')" "$(m '$5')" \
    "$(m '$5 / $2')" "$(m '$4 / $1')")")
done

printf '\nserver CPU us per call, medians of %d rounds of %s s\n' "$rounds" "$seconds"
printf '%-8s %10s %10s %12s %12s\n' shape plain tls "cpu tls/pl" "rps tls/pl"
printf '%s\n' "${summary[@]}"
