#!/usr/bin/env bash
# Authentication cost and Redis load:
#   1. warm: GET /plain with Bearer tokens that are cached vs auth = "none", in the same gateway,
#      REPEAT rounds alternating the two, the same requests (token included) sent to both so the
#      load tool's work and the request bytes are alike. The headline is the ratio of the
#      gateway's CPU time per request (user+system of its process; digest, cache hit, identity
#      headers and the signed assertion included) warm over no auth: the goal is under 1.10x;
#   2. cold: the same with the session cache disabled (every request is a Redis lookup);
#   3. reconnect storm: STORM_STREAMS SSE streams sharing STORM_TOKENS tokens opened at once,
#      counting the HGETALL calls Redis served (single-flight + cache should make it about
#      tokens x workers, not streams).
#
#   scripts/bench-auth.sh
#
# Env: CONNECTIONS (50), DURATION (10s), REPEAT (3), TOKENS (1000), STORM_STREAMS (10000),
#      STORM_TOKENS (1000), SG_WORKERS (2), BUILD=0 skips the release build, STREAMGATE_BIN
#      runs another build (e.g. an older commit's release binary, for a before/after).
source "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh"

CONNECTIONS=${CONNECTIONS:-50}
DURATION=${DURATION:-10s}
TOKENS=${TOKENS:-1000}
REPEAT=${REPEAT:-3}
STORM_STREAMS=${STORM_STREAMS:-10000}
STORM_TOKENS=${STORM_TOKENS:-1000}

build
start_demo

RPORT=$(free_port)
redis-server --port "$RPORT" --save '' --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_port "$RPORT" "$!" || { log "redis did not start"; exit 1; }
rcli() { redis-cli -p "$RPORT" "$@"; }

make_tokens() { seed_sessions "$1" "$2" "$RPORT"; }  # count file
make_tokens "$TOKENS" "$WORK/tokens.txt"
make_tokens "$STORM_TOKENS" "$WORK/storm-tokens.txt"

gateway() { # name cache_size -> starts streamgate with auth routes, sets GW_PORT GW_PID
    GW_PORT=$(free_port)
    cat >"$WORK/$1.toml" <<TOML
[gateway]
workers = ${SG_WORKERS:-2}
access_log = "off"
[[listeners]]
address = "127.0.0.1:$GW_PORT"
[redis]
url = "redis://127.0.0.1:$RPORT/0"
timeout = "1s"
[sessions]
cache_size = $2
[identity]
signing_secret = "bench-signing-secret-of-at-least-32-bytes"
[upstreams.demo]
targets = ["127.0.0.1:$UPORT"]
[[routes]]
name = "plain-open"
path_prefix = "/open/"
upstream = "demo"
auth = "none"
strip_prefix = true
[[routes]]
name = "plain"
path = "/plain"
upstream = "demo"
[[routes]]
name = "events"
path = "/events"
upstream = "demo"
sse = true
TOML
    "${STREAMGATE_BIN:-$BIN/streamgate}" run --config "$WORK/$1.toml" >"$WORK/$1.log" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_port "$GW_PORT" "$GW_PID" || { log "streamgate did not start: $(tail -3 "$WORK/$1.log")"; exit 1; }
}
hgetall_calls() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_hgetall:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0; }
plain() { # url [tokens]
    local extra=()
    [ -n "${2:-}" ] && extra=(--tokens "$2")
    "$BIN/streamgate-bench" --mode plain --url "$1" --connections "$CONNECTIONS" --duration "$DURATION" --json "${extra[@]}" 2>/dev/null | tail -1
}

jf() { echo "$1" | jq -r "$2 // \"-\""; }
printf "%-28s %12s %10s %10s %14s %8s\n" case "req/s" "p50_ms" "p99_ms" "redis_lookups" "non200"
row() { # name json lookups
    printf "%-28s %12s %10s %10s %14s %8s\n" "$1" "$(jf "$2" .requests_per_s)" "$(jf "$2" .latency_ms.p50)" "$(jf "$2" .latency_ms.p99)" "$3" \
        "$(echo "$2" | jq '[.status_counts | to_entries[] | select(.key != "200") | .value] | add // 0')"
}

# cpu_per_request JSON TICKS: microseconds of gateway CPU per request in one run.
cpu_per_request() {
    awk -v t="$2" -v hz="$CLK_TCK" -v r="$(echo "$1" | jq -r '.requests // 0')" \
        'BEGIN { if (r + 0 == 0) print "-"; else printf "%.2f\n", t / hz * 1e6 / r }'
}
gateway warm 100000
# One untimed pass fills the session cache, so every timed warm request is a cache hit.
plain "http://127.0.0.1:$GW_PORT/plain" "$WORK/tokens.txt" >/dev/null
for r in $(seq 1 "$REPEAT"); do
    for case in open warm; do
        url="http://127.0.0.1:$GW_PORT/plain"; tokens="$WORK/tokens.txt"; name="warm (cached sessions)"
        # Both cases send the same requests, token included (the open route ignores it), so
        # the load tool and the request bytes are alike and the difference is the gateway's
        # authentication work alone.
        if [ "$case" = open ]; then url="http://127.0.0.1:$GW_PORT/open/plain"; name="no auth (auth = none)"; fi
        mapfile -t pids < <(process_tree "$GW_PID")
        b=$(hgetall_calls); c=$(cpu_ticks "${pids[@]}")
        j=$(plain "$url" $tokens)
        c=$(( $(cpu_ticks "${pids[@]}") - c ))
        row "$name r$r" "$j" $(( $(hgetall_calls) - b ))
        echo "$j" | jq -r '.requests_per_s // "-"' >>"$WORK/$case.rps"
        cpu_per_request "$j" "$c" >>"$WORK/$case.cpu_us"
    done
done
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
open_cpu=$(median <"$WORK/open.cpu_us"); warm_cpu=$(median <"$WORK/warm.cpu_us")
echo
echo "gateway CPU per request, median of $REPEAT rounds: no auth ${open_cpu} us, warm ${warm_cpu} us"
echo "  cached-token cost: $(ratio "$warm_cpu" "$open_cpu") of no auth's CPU per request (goal < 1.10x);" \
    "req/s $(median <"$WORK/warm.rps") vs $(median <"$WORK/open.rps") ($(ratio "$(median <"$WORK/warm.rps")" "$(median <"$WORK/open.rps")"))"
# The two cases of one round run back to back: their ratio drifts less than two medians do.
echo "  paired round by round: $(paste "$WORK/warm.cpu_us" "$WORK/open.cpu_us" |
    awk '$1 != "-" && $2 != "-" && $2 + 0 > 0 { printf "%.4f\n", $1 / $2 }' | ratio_summary)"
echo

gateway cold 0
b=$(hgetall_calls); j=$(plain "http://127.0.0.1:$GW_PORT/plain" "$WORK/tokens.txt"); row "cold (every request: Redis)" "$j" $(( $(hgetall_calls) - b ))
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

gateway storm 100000
b=$(hgetall_calls)
storm=$("$BIN/streamgate-bench" --url "http://127.0.0.1:$GW_PORT/events?rate=1" --streams "$STORM_STREAMS" --ramp 0 \
    --duration 10s --threads 2 --tokens "$WORK/storm-tokens.txt" --json 2>/dev/null | tail -1)
lookups=$(( $(hgetall_calls) - b ))
echo
echo "reconnect storm: $STORM_STREAMS streams sharing $STORM_TOKENS tokens, opened at once, ${SG_WORKERS:-2} workers"
echo "  connects_ok=$(jf "$storm" .connects_ok) connects_failed=$(jf "$storm" .connects_failed) status=$(echo "$storm" | jq -c .status_counts) redis_hgetall_calls=$lookups"
echo "  (single-flight and the per-worker cache bound this by tokens x workers = $(( STORM_TOKENS * ${SG_WORKERS:-2} )))"
