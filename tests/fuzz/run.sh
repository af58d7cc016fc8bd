#!/usr/bin/env bash
# Runs one HTTP fuzzer for a bounded time:  tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET]
# TARGET is `request` (the server's request parser, the default) or `response` (the client's
# response parser). Configures BUILD_DIR with clang, -Dfuzzing=true and sanitizers if it is
# not configured yet, builds only that fuzz target, and fuzzes with its seed corpus
# (tests/fuzz/corpus, tests/fuzz/corpus-response). New inputs go to BUILD_DIR/fuzz-corpus
# (request) or BUILD_DIR/fuzz-corpus-response (response), so each target grows its own and
# the seeds are never written; a crash is saved under BUILD_DIR/fuzz-artifacts/TARGET- and
# makes this script fail.
# Asio 1.22 only detects clang's coroutines with libc++'s <experimental/coroutine>; with
# libstdc++ they are there all the same, hence ASIO_HAS_CO_AWAIT. clang 14's
# -fsanitize=function emits assembly it cannot assemble for split coroutines ("Cannot
# represent a difference across sections"): that one UBSan check is left out. The parsers need
# neither TLS nor full debug information: -gline-tables-only gives the file:line a crash report
# shows, at a fraction of -g's compile and link time.
# Extra arguments after SECONDS (and TARGET) go to libFuzzer (e.g. -jobs=2 -workers=2).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [request|response] [libFuzzer flags...]" >&2
  exit 2
fi
build=$1 seconds=$2
shift 2
target=request
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then  # a third argument that is not a flag
  target=$1
  shift
fi
case "$target" in
  request) corpus_suffix= ;;
  response) corpus_suffix=-response ;;
  *) echo "$0: unknown fuzz target '$target' (request or response)" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" "$root" -Dfuzzing=true -Dgrpc=disabled \
    -Dtls=disabled -Dbenchmarks=disabled -Dexamples=disabled -Doptimization=2 -Ddebug=false \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args="['-fsanitize=fuzzer-no-link','-gline-tables-only']" \
    -Dcpp_args="['-fsanitize=fuzzer-no-link','-gline-tables-only','-DASIO_HAS_CO_AWAIT=1','-fno-sanitize=function']" \
    >"$build.setup.log" 2>&1 \
    || { cat "$build.setup.log"; exit 1; }
fi
ninja -C "$build" "tests/fuzz/http_${target}_fuzzer" >"$build.build.log" 2>&1 \
  || { tail -40 "$build.build.log"; exit 1; }

corpus="$build/fuzz-corpus$corpus_suffix"
mkdir -p "$corpus" "$build/fuzz-artifacts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
exec "$build/tests/fuzz/http_${target}_fuzzer" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 -timeout=10 \
  -artifact_prefix="$build/fuzz-artifacts/$target-" -print_final_stats=1 "$@" \
  "$corpus" "$root/tests/fuzz/corpus$corpus_suffix"
