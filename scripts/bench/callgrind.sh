#!/usr/bin/env bash
# Instructions per relayed event (MODE=sse) or per proxied request (MODE=plain), counted by
# callgrind in one gateway worker. Instruction counts do not depend on what else the machine is
# doing, so this compares two builds where a timed benchmark on shared cores cannot.
#
#   scripts/bench/callgrind.sh [sse|plain|auth]      (BUILD=0 skips the release build)
#
# auth: the plain load with a cached Bearer token (TOKENS of them, all cached after the first
# pass), on a route that requires it, with a signing secret: digest, cache hit, identity headers
# and signature included. Compare its "in the event loop" figure with plain's for the cost of
# authentication per request (starts a private redis-server).
#
# Env: STREAMS (100) and RATE (20 ev/s) for sse, CONNECTIONS (10) for plain, DURATION (10s),
#      TOP (25 functions listed), OUT (callgrind output file; default: in the work dir, which
#      is deleted at exit unless KEEP_WORK=1).
# Prints the instructions per event or request (start-up included), for sse also those under the
# relay callback alone, then the functions that spend the most.
# (Connects may take 60 s: TLS handshakes under valgrind are slow.)
# Valgrind 3.19 cannot read the DWARF 5 debug info Swift 6 writes, so a copy of the binary
# without it (symbols kept) is what runs. STREAMGATE_BIN profiles another build (e.g. an older
# commit's release binary; the load tool stays this tree's). TLS=1: the gateway's listener
# terminates TLS (see lib.sh), so the counts include OpenSSL's.
# TARGET=nginx profiles the reference instead (sse or plain; Debian's nginx with the bench
# config of scripts/bench/nginx.conf.in, one worker, no master process): its figure to compare
# is "in ngx_process_events_and_timers", the counterpart of event_base_loop.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=${1:-sse}
STREAMS=${STREAMS:-100}
RATE=${RATE:-20}
CONNECTIONS=${CONNECTIONS:-10}
DURATION=${DURATION:-10s}
TOP=${TOP:-25}
OUT=${OUT:-$WORK/callgrind.out}

command -v valgrind >/dev/null || { log "needs valgrind (apt-get install valgrind)"; exit 1; }
build
start_demo
if [ "$TLS" = 1 ]; then make_tls_material; fi
mapfile -t tls_args < <(load_tls_args)
TARGET=${TARGET:-streamgate}

SG_PORT=$(free_port)
token_args=()
if [ "$TARGET" = nginx ]; then
    [ "$MODE" != auth ] || { log "auth mode profiles streamgate only"; exit 1; }
    [ "$TLS" != 1 ] || { log "TLS=1 profiles streamgate only"; exit 1; }
    write_nginx_config "$WORK/nginx" "$SG_PORT" 1
    sed -i 's|master_process on;|master_process off;|' "$WORK/nginx/nginx.conf"
    profiled=("$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf")
    stop_signal=QUIT  # graceful: the worker finishes and callgrind writes its counts
else
    objcopy --strip-debug "${STREAMGATE_BIN:-$BIN/streamgate}" "$WORK/streamgate-nodebug"
    write_streamgate_config "$WORK/callgrind.toml" "$SG_PORT" 1
    profiled=("$WORK/streamgate-nodebug" run --config "$WORK/callgrind.toml")
    stop_signal=INT  # the gateway drains and exits
fi
if [ "$MODE" = auth ]; then
    command -v redis-server >/dev/null || { log "auth mode needs redis-server"; exit 1; }
    RPORT=$(free_port)
    redis-server --port "$RPORT" --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
    PIDS+=($!)
    wait_port "$RPORT" "$!" || { log "redis did not start"; exit 1; }
    seed_sessions "${TOKENS:-100}" "$WORK/tokens.txt" "$RPORT"
    # The plain route is the config's last; it loses its `auth = "none"` (auth is required by
    # default) and the gateway gets Redis and a signing secret.
    sed -i '$ d' "$WORK/callgrind.toml"
    cat >>"$WORK/callgrind.toml" <<TOML

[redis]
url = "redis://127.0.0.1:$RPORT/0"

[identity]
signing_secret = "callgrind-signing-secret-of-at-least-32-bytes"
TOML
    token_args=(--tokens "$WORK/tokens.txt")
fi
valgrind --tool=callgrind --callgrind-out-file="$OUT" "${profiled[@]}" >"$WORK/callgrind.log" 2>&1 &
VG_PID=$!
PIDS+=("$VG_PID")
# Valgrind starts slowly; wait_port gives up after 10 s.
for _ in 1 2 3 4 5 6; do wait_port "$SG_PORT" "$VG_PID" && break; done
kill -0 "$VG_PID" 2>/dev/null || { log "$TARGET under valgrind did not start: $(tail -5 "$WORK/callgrind.log")"; exit 1; }

if [ "$MODE" = plain ] || [ "$MODE" = auth ]; then
    "$BIN/streamgate-bench" --json --mode plain --url "$(load_url "$SG_PORT" /plain)" ${tls_args[@]+"${tls_args[@]}"} \
        ${token_args[@]+"${token_args[@]}"} \
        --connections "$CONNECTIONS" --duration "$DURATION" --connect-timeout 60s >"$WORK/load.out" 2>"$WORK/load.err"
    units=$(tail -1 "$WORK/load.out" | jq -r '.requests // 0' 2>/dev/null || echo 0)
    unit=request
else
    "$BIN/streamgate-bench" --json --url "$(load_url "$SG_PORT" "/events?rate=$RATE&size=200")" ${tls_args[@]+"${tls_args[@]}"} \
        --streams "$STREAMS" --ramp 0 --duration "$DURATION" --connect-timeout 60s >"$WORK/load.out" 2>"$WORK/load.err"
    units=$(tail -1 "$WORK/load.out" | jq -r '.events // 0' 2>/dev/null || echo 0)
    unit=event
fi
# The gateway (SIGINT) or nginx (SIGQUIT) finishes and exits, and callgrind writes its counts.
kill -"$stop_signal" "$VG_PID"
wait "$VG_PID" 2>/dev/null || true

[ "$units" -gt 0 ] 2>/dev/null || { log "the load tool reported no ${unit}s: $(tail -3 "$WORK/load.err")"; exit 1; }
[ -s "$OUT" ] || { log "callgrind wrote no profile: $(tail -5 "$WORK/callgrind.log")"; exit 1; }
# (awk reads to the end: exiting early would kill callgrind_annotate with SIGPIPE.)
callgrind_annotate "$OUT" >"$WORK/annotate.txt"
total=$(awk '/PROGRAM TOTALS/ && !seen { gsub(",", "", $1); print $1; seen = 1 }' "$WORK/annotate.txt")
[ -n "$total" ] || { log "no totals in the callgrind profile"; exit 1; }
echo "mode $MODE: $units ${unit}s, $total instructions in the gateway"
# The total includes start-up (dynamic linking, config, runtime caches, about 55M), so the
# per-unit figure is an overestimate that shrinks with a longer DURATION; compare builds on the
# same settings. For sse the figure under the relay callback has no start-up in it.
awk -v t="$total" -v n="$units" -v u="$unit" 'BEGIN { if (n > 0) printf "%.0f instructions per %s, start-up included\n", t / n, u }'
# Everything the worker's event loop ran, per unit: no start-up, no config loading. Then the
# same less the loop thread's own set-up (seeding its random generator, ~8M instructions): what
# the callbacks cost, comparable with nginx's ngx_process_events_and_timers.
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null | awk -v n="$units" -v u="$unit" '
    /LoopThreadC5start/ && !seen { gsub(",", "", $1); seen = 1; if (n > 0) printf "%.0f instructions per %s in the event loop (start-up excluded)\n", $1 / n, u }
    /:event_base_loop / && !base { gsub(",", "", $1); base = 1; if (n > 0) printf "%.0f instructions per %s in event_base_loop (callbacks only)\n", $1 / n, u }
    /:ngx_process_events_and_timers / && !ngx { gsub(",", "", $1); ngx = 1; if (n > 0) printf "%.0f instructions per %s in ngx_process_events_and_timers\n", $1 / n, u }'
if [ "$MODE" = sse ] && [ "$TARGET" != nginx ]; then
    # The relay itself: everything under the upstream read callback, per event. Before the
    # transport rewrite (b9d30d3) that was StreamSource.onReadable; since, Connection.plainRead,
    # which also reads the request and the response head into input buffers: those reads
    # (connectionReadable callees, and readFailed at the end) are subtracted.
    callgrind_annotate --tree=calling --inclusive=yes "$OUT" 2>/dev/null >"$WORK/tree.txt"
    awk -v n="$units" '
        function num(s) { gsub(",", "", s); return s + 0 }
        /^ *[0-9,]+ .*\*  .*(StreamSourceC10onReadable|ConnectionC9plainRead)/ && !found {
            found = 1; inside = 1; total = num($1)
            name = ($0 ~ /plainRead/) ? "Connection.plainRead, less head reads" : "StreamSource.onReadable"
            next
        }
        inside && /^ *$/ { inside = 0 }
        inside && /connectionReadable|readFailed/ { total -= num($1) }
        END { if (found && n > 0) printf "%.0f instructions per event in %s (recv, relay, sendmsg)\n", total / n, name }
    ' "$WORK/tree.txt"
fi
echo
grep -E '^ *[0-9,]+ \(' "$WORK/annotate.txt" | sed -n "2,$((TOP + 1))p" | cut -c1-160
