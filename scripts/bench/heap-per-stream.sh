#!/usr/bin/env bash
# Memory each held SSE stream costs one gateway process: RSS before and while holding N
# streams, and the heap in use (glibc malloc_stats, read through gdb) at the same moment.
#
#   scripts/bench/heap-per-stream.sh [STREAMS]      (default 5000; needs gdb; BUILD=0 skips the build)
#
# gdb pauses the gateway for a moment, so ignore the latency figures in the load tool's line.
# TLS=1: the streams come over TLS (see scripts/bench/lib.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${1:-5000}

build
start_demo
if [ "$TLS" = 1 ]; then make_tls_material; fi
SG_WORKERS=1 start_streamgate
[ -n "$SG_PORT" ] || exit 1
idle=$(rss_kb "$SG_PID")
mapfile -t tls_args < <(load_tls_args)
"$BIN/streamgate-bench" --json --url "$(load_url "$SG_PORT" "/events?rate=1&size=200")" ${tls_args[@]+"${tls_args[@]}"} --streams "$N" \
    --ramp 5000 --duration 12s --source-ip-count 8 >"$WORK/bench.out" 2>&1 &
BENCH=$!
sleep 8
held=$(rss_kb "$SG_PID")
gdb -p "$SG_PID" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
wait "$BENCH" || true
sleep 0.2
heap=$(grep -A2 '^Total' "$WORK/streamgate.log" | sed -n 's/^in use bytes *= *//p' | tail -1)
ok=$(tail -1 "$WORK/bench.out" | sed -n 's/.*"connects_ok":\([0-9]*\).*/\1/p')
awk -v i="$idle" -v h="$held" -v heap="${heap:-0}" -v n="${ok:-0}" 'BEGIN {
    printf "streams held %d; RSS idle %.1f MB, holding %.1f MB: %.2f KB per stream; heap in use %.1f MB (%.2f KB per stream)\n",
        n, i / 1024, h / 1024, (h - i) / (n > 0 ? n : 1), heap / 1048576, heap / 1024 / (n > 0 ? n : 1)
}'
