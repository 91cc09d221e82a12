#!/usr/bin/env bash
# Keep-alive request/response comparison on GET /plain: direct to the demo upstream, then
# through streamgate, nginx and HAProxy, with each proxy's peak RSS and CPU time.
#
#   CONNECTIONS=50 DURATION=10s scripts/bench-plain.sh
#
# Env: CONNECTIONS (50), DURATION (10s), TOOL (bench | wrk; default bench), BENCH_THREADS (1),
#      UPSTREAM_THREADS (1), SG_WORKERS (2), TARGETS ("direct streamgate nginx haproxy"; target@N
#      as in bench-sse.sh), REF (nginx; the target the ratios compare with),
#      REPEAT (1; n rounds, targets rotated each round, medians reported; cpu:REF compares
#      CPU per request), STREAMGATE_BIN (default: the release build), BUILD=0 skips the release build,
#      KEEP_WORK=1 keeps logs and configs. TLS=1: the proxies terminate TLS, as in bench-sse.sh
#      (direct stays plain; wrk does not verify the certificate, streamgate-bench does).
source "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh"

CONNECTIONS=${CONNECTIONS:-50}
DURATION=${DURATION:-10s}
TOOL=${TOOL:-bench}
BENCH_THREADS=${BENCH_THREADS:-1}
TARGETS=${TARGETS:-direct streamgate nginx haproxy}
REF=${REF:-nginx}
REPEAT=${REPEAT:-1}

# wrk_json URL: runs wrk and prints the same JSON fields streamgate-bench would.
wrk_json() {
    local out
    out=$(wrk -t "$BENCH_THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency "$1")
    echo "$out" >&2
    echo "$out" | awk -v conns="$CONNECTIONS" '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        /^ *Latency / && !max { max = ms($4) }
        /^ *50%/ { p50 = ms($2) }
        /^ *90%/ { p90 = ms($2) }
        /^ *99%/ { p99 = ms($2) }
        /requests in/ { requests = $1 }
        /Requests\/sec:/ { rps = $2 }
        /Non-2xx/ { non2xx = $NF }
        /Socket errors/ { errors = $0 }
        END {
            printf "{\"mode\":\"plain\",\"tool\":\"wrk\",\"connections\":%d,\"connects_ok\":%d,\"connects_failed\":0,", conns, conns
            printf "\"requests\":%d,\"requests_per_s\":%s,\"non_2xx\":%d,", requests, rps, non2xx
            printf "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n", p50, p90, p99, max
        }'
}

build
start_demo
if [ "$TLS" = 1 ]; then make_tls_material; fi

for round in $(seq 1 "$REPEAT"); do
    for t in $(rotate $(( round - 1 )) $TARGETS); do
        start_target "$t"
        port=$TARGET_PORT pid=$TARGET_PID
        if [ -z "$port" ]; then continue; fi
        url=$(load_url "$port" /plain) tls_args=()
        if [ "$t" = direct ]; then url="http://127.0.0.1:$port/plain"; else mapfile -t tls_args < <(load_tls_args); fi
        if [ "$TOOL" = wrk ]; then
            run_case "$t.r$round" "$pid" wrk_json "$url"
        else
            run_case "$t.r$round" "$pid" "$BIN/streamgate-bench" --json --mode plain --url "$url" ${tls_args[@]+"${tls_args[@]}"} \
                --connections "$CONNECTIONS" --duration "$DURATION" --threads "$BENCH_THREADS"
        fi
        # CPU per request from each round's own figures; the table shows their median.
        awk -v c="$(cat "$WORK/$t.r$round.cpu")" -v r="$(field "$t.r$round" .requests)" \
            'BEGIN { if (c == "-" || r == "-" || r + 0 == 0) print "-"; else printf "%.2f\n", c * 1e6 / r }' >"$WORK/$t.r$round.cpureq"
        # Only one proxy holds the machine at a time.
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    done
done
for t in $TARGETS; do
    aggregate_rounds "$t" "$REPEAT"
    for round in $(seq 1 "$REPEAT"); do cat "$WORK/$t.r$round.cpureq" 2>/dev/null || true; done | median >"$WORK/$t.cpureq"
done

echo
echo "GET /plain: $CONNECTIONS keep-alive connections, duration $DURATION, load tool $TOOL (loopback, $(nproc) cores)"
if [ "$REPEAT" -gt 1 ]; then echo "Median of $REPEAT rounds per target (targets in rotated order each round)."; fi
fmt="%-13s %10s %11s %8s %8s %8s %8s %7s %11s %9s %10s %9s\n"
printf "$fmt" target requests req/s p50_ms p99_ms max_ms rss_MB cpu_s cpu_us/req "rps:dir" "rps:$REF" "cpu:$REF"
for t in $TARGETS; do
    [ -s "$WORK/$t.json" ] || { printf "%-13s %10s\n" "$t" "n/a"; continue; }
    req=$(field "$t" .requests)
    cpu=$(cat "$WORK/$t.cpu")
    per=$(cat "$WORK/$t.cpureq")
    printf "$fmt" "$t" "$req" "$(field "$t" .requests_per_s)" "$(field "$t" .latency_ms.p50)" \
        "$(field "$t" .latency_ms.p99)" "$(field "$t" .latency_ms.max)" "$(cat "$WORK/$t.rss")" "$cpu" "$per" \
        "$(ratio "$(field "$t" .requests_per_s)" "$(field direct .requests_per_s)")" \
        "$(ratio "$(field "$t" .requests_per_s)" "$(field "$REF" .requests_per_s)")" \
        "$(ratio "$per" "$(cat "$WORK/$REF.cpureq" 2>/dev/null || echo -)")"
done
echo "rss_MB = peak resident set of the proxy's processes; cpu_s = their user+system time during the run."
print_paired req/s .requests_per_s cpu_us/req cpureq
print_paired_latency p99 .latency_ms.p99
