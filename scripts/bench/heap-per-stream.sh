#!/usr/bin/env bash
# Memory each held SSE stream costs one gateway process: RSS before and while holding N
# streams, and the heap in use (glibc malloc_stats, read through gdb) at the same moment.
#
#   scripts/bench/heap-per-stream.sh [STREAMS]      (default 5000; needs gdb and a release build)
#
# gdb pauses the gateway for a moment, so ignore the latency figures in the load tool's line.
set -euo pipefail
N=${1:-5000}
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && swift build -c release --show-bin-path)}
WORK=$(mktemp -d)
trap 'kill ${PIDS[*]:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
PIDS=()
ulimit -n "$(ulimit -Hn)"

"$BIN/streamgate-demo-upstream" --listen 127.0.0.1:0 >"$WORK/demo.out" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/demo.out" ] && break; sleep 0.05; done
UPORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$WORK/demo.out" | head -1)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/gw.toml" <<TOML
[gateway]
workers = 1
access_log = "off"
[[listeners]]
address = "127.0.0.1:$PORT"
[upstreams.demo]
targets = ["127.0.0.1:$UPORT"]
[[routes]]
name = "events"
path = "/events"
upstream = "demo"
sse = true
auth = "none"
TOML
"$BIN/streamgate" run --config "$WORK/gw.toml" >"$WORK/gw.log" 2>&1 &
GW=$!
PIDS+=($GW)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
idle=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW/status")
"$BIN/streamgate-bench" --json --url "http://127.0.0.1:$PORT/events?rate=1&size=200" --streams "$N" \
    --ramp 5000 --duration 12s --source-ip-count 8 >"$WORK/bench.out" 2>&1 &
BENCH=$!
sleep 8
held=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW/status")
gdb -p "$GW" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
wait "$BENCH" || true
sleep 0.2
heap=$(grep -A2 '^Total' "$WORK/gw.log" | sed -n 's/^in use bytes *= *//p' | tail -1)
ok=$(tail -1 "$WORK/bench.out" | sed -n 's/.*"connects_ok":\([0-9]*\).*/\1/p')
awk -v i="$idle" -v h="$held" -v heap="${heap:-0}" -v n="${ok:-0}" 'BEGIN {
    printf "streams held %d; RSS idle %.1f MB, holding %.1f MB: %.2f KB per stream; heap in use %.1f MB (%.2f KB per stream)\n",
        n, i / 1024, h / 1024, (h - i) / (n > 0 ? n : 1), heap / 1048576, heap / 1024 / (n > 0 ? n : 1)
}'
