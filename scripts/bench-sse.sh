#!/usr/bin/env bash
# SSE comparison on loopback: the same workload straight to the demo upstream, then through
# streamgate, nginx (proxy_buffering off) and HAProxy, with each proxy's peak RSS and CPU time.
#
#   STREAMS=1000 RATE=1 DURATION=20s scripts/bench-sse.sh
#
# Env: STREAMS (1000), RATE events/s per stream (1), DURATION (20s), SIZE bytes/event (200),
#      RAMP new connections/s (2000, 0 = all at once), MODE (stream | broadcast),
#      WARMUP (0s; e.g. 5s leaves the connects and TLS handshakes out of events/s and latency),
#      BENCH_THREADS (1), UPSTREAM_THREADS (1), SG_WORKERS (2), SG_PROCESSES (1; 2 = two gateway
#      processes sharing the port, each with SG_WORKERS workers), SOURCE_IPS (8 source addresses),
#      TARGETS ("direct streamgate nginx haproxy"; a target@N sets N workers per streamgate
#      process, N nginx workers or N HAProxy threads: "streamgate@1 nginx nginx@1"),
#      REF (nginx; the target the cpu and rss ratios compare with), STREAMGATE_BIN (default: the release build),
#      BASELINE_BIN (the streamgate binary the target `baseline` runs: another build to compare,
#      e.g. TARGETS="direct streamgate baseline nginx" BASELINE_BIN=/tmp/sg-before/.build/release/streamgate),
#      REPEAT (1; n runs every target n times, in a rotated order each round, and reports
#      medians), BUILD=0 skips the release build,
#      KEEP_WORK=1 keeps logs and configs.
#      TLS=1: the proxies terminate TLS (TLS 1.2/1.3, a throwaway CA and localhost certificate
#      made with openssl at run time, ECDSA P-256 or TLS_KEY=rsa for RSA 2048) and the load tool
#      connects with --tls and verifies against that CA; `direct` stays plain (the upstream is
#      plain HTTP), a baseline for the latency the proxy adds, TLS included.
#
#   TLS=1 REPEAT=3 STREAMS=1000 RATE=1 scripts/bench-sse.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh"

STREAMS=${STREAMS:-1000}
RATE=${RATE:-1}
DURATION=${DURATION:-20s}
SIZE=${SIZE:-200}
RAMP=${RAMP:-2000}
WARMUP=${WARMUP:-0s}
MODE=${MODE:-stream}
BENCH_THREADS=${BENCH_THREADS:-1}
SOURCE_IPS=${SOURCE_IPS:-8}
TARGETS=${TARGETS:-direct streamgate nginx haproxy}
REPEAT=${REPEAT:-1}
REF=${REF:-nginx}

if [ $(( STREAMS * 2 + 200 )) -gt "$FD_LIMIT" ]; then
    log "warning: a proxy needs 2 descriptors per stream; STREAMS=$STREAMS exceeds what RLIMIT_NOFILE=$FD_LIMIT allows"
fi

build
start_demo
if [ "$TLS" = 1 ]; then make_tls_material; fi
QUERY="rate=$RATE&size=$SIZE"
if [ "$MODE" = broadcast ]; then QUERY="$QUERY&mode=broadcast"; fi

for round in $(seq 1 "$REPEAT"); do
    for t in $(rotate $(( round - 1 )) $TARGETS); do
        start_target "$t"
        port=$TARGET_PORT pid=$TARGET_PID
        if [ -z "$port" ]; then continue; fi
        url=$(load_url "$port" "/events?$QUERY") tls_args=()
        if [ "$t" = direct ]; then url="http://127.0.0.1:$port/events?$QUERY"; else mapfile -t tls_args < <(load_tls_args); fi
        run_case "$t.r$round" "$pid" "$BIN/streamgate-bench" --json \
            --url "$url" ${tls_args[@]+"${tls_args[@]}"} --streams "$STREAMS" --ramp "$RAMP" \
            --duration "$DURATION" --warmup "$WARMUP" --threads "$BENCH_THREADS" --source-ip-count "$SOURCE_IPS"
        # Only one proxy holds the machine at a time.
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    done
done
for t in $TARGETS; do aggregate_rounds "$t" "$REPEAT"; done

if [ "$REPEAT" -gt 1 ]; then
    echo
    echo "Each round (targets in rotated order):"
    rfmt="%-13s %5s %7s %6s %6s %10s %8s %8s %8s %7s\n"
    printf "$rfmt" target round conn_ok failed early events/s p99_ms rss_MB "KB/strm" cpu_s
    for t in $TARGETS; do
        for round in $(seq 1 "$REPEAT"); do
            [ -s "$WORK/$t.r$round.json" ] || continue
            printf "$rfmt" "$t" "$round" "$(field "$t.r$round" .connects_ok)" "$(field "$t.r$round" .connects_failed)" \
                "$(field "$t.r$round" .early_closes)" "$(field "$t.r$round" .events_per_s)" \
                "$(field "$t.r$round" .latency_ms.p99)" "$(cat "$WORK/$t.r$round.rss")" \
                "$(cat "$WORK/$t.r$round.kbs" 2>/dev/null || echo -)" \
                "$(cat "$WORK/$t.r$round.cpu")"
        done
    done
fi

echo
tls_note=""
if [ "$TLS" = 1 ]; then tls_note=", TLS ($TLS_KEY) to the proxies, direct plain"; fi
echo "SSE: $STREAMS streams x $RATE ev/s, $SIZE B/event, mode=$MODE, duration $DURATION (warm-up $WARMUP not counted), ramp $RAMP/s (loopback, $(nproc) cores$tls_note)"
if [ "$REPEAT" -gt 1 ]; then echo "Median of $REPEAT rounds per target."; fi
fmt="%-13s %7s %6s %10s %8s %8s %8s %6s %8s %8s %7s %9s %8s %9s %9s\n"
printf "$fmt" target conn_ok failed events/s p50_ms p99_ms max_ms early rss_MB "KB/strm" cpu_s "ev/s:dir" "+p99_ms" "cpu:$REF" "rss:$REF"
for t in $TARGETS; do
    [ -s "$WORK/$t.json" ] || { printf "%-13s %7s\n" "$t" "n/a"; continue; }
    printf "$fmt" "$t" "$(field "$t" .connects_ok)" "$(field "$t" .connects_failed)" "$(field "$t" .events_per_s)" \
        "$(field "$t" .latency_ms.p50)" "$(field "$t" .latency_ms.p99)" "$(field "$t" .latency_ms.max)" \
        "$(field "$t" .early_closes)" "$(cat "$WORK/$t.rss")" \
        "$(cat "$WORK/$t.kbs")" "$(cat "$WORK/$t.cpu")" \
        "$(ratio "$(field "$t" .events_per_s)" "$(field direct .events_per_s)")" \
        "$(difference "$(field "$t" .latency_ms.p99)" "$(field direct .latency_ms.p99)")" \
        "$(ratio "$(cat "$WORK/$t.cpu")" "$(cat "$WORK/$REF.cpu" 2>/dev/null || echo -)")" \
        "$(ratio "$(cat "$WORK/$t.rss")" "$(cat "$WORK/$REF.rss" 2>/dev/null || echo -)")"
done
echo "rss_MB = peak resident set of the proxy's processes; KB/strm = (peak - RSS before the load) / streams held;"
echo "cpu_s = their user+system time during the run."
echo "ev/s:dir compares with the direct run, +p99_ms is the p99 added over it; cpu:$REF and rss:$REF compare with $REF."
print_paired events/s .events_per_s cpu_s cpu
print_paired_latency p99 .latency_ms.p99
