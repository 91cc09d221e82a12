#!/usr/bin/env bash
# Checks the bench tools against each other and against nginx: demo upstream endpoints (curl),
# streamgate-bench counts on finite/aborted streams, direct and through nginx, plain mode.
# Exits non-zero on the first failed check. BUILD=0 skips the release build.
source "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh"

FAILED=0
check() {
    local what=$1 got=$2 want=$3
    if [ "$got" = "$want" ]; then echo "ok    $what"; else echo "FAIL  $what: got '$got', want '$want'"; FAILED=1; fi
}

build
cp "$BENCH_DIR/ParserCheck.swift" "$WORK/main.swift"
if swiftc -O "$WORK/main.swift" "$ROOT/Sources/StreamgateBench/HTTPResponseReader.swift" \
    "$ROOT/Sources/StreamgateBench/LatencyHistogram.swift" -lm -o "$WORK/parser-check" >&2; then
    check "bench parsers at random splits" "$("$WORK/parser-check" 2>&1)" "all ok"
else
    echo "FAIL  ParserCheck.swift did not compile"; FAILED=1
fi
start_demo
U="http://127.0.0.1:$UPORT"

check "/plain body" "$(curl -s "$U/plain")" "hello from streamgate demo"
check "/plain content-type" "$(curl -s -o /dev/null -w '%{content_type}' "$U/plain")" "text/plain"
check "/echo content-length body" "$(curl -s -d 'hello=world' "$U/echo?x=1" | jq -c '[.method, .target, .body_bytes]')" '["POST","/echo?x=1",11]'
check "/echo chunked body" "$(printf 'abcdefgh' | curl -s -H 'Transfer-Encoding: chunked' --data-binary @- "$U/echo" | jq .body_bytes)" "8"
check "/echo headers" "$(curl -s -H 'X-Test: v1' "$U/echo" | jq -c '.headers[] | select(.[0] == "X-Test")')" '["X-Test","v1"]'
check "/events ids after Last-Event-ID" "$(curl -sN -H 'Last-Event-ID: 41' "$U/events?rate=50&count=3" | sed -n 's/^id: //p' | tr '\n' ,)" "42,43,44,"
check "/events content-type" "$(curl -sN -o /dev/null -w '%{content_type}' "$U/events?rate=50&count=1")" "text/event-stream"
check "/events size padding (whole event = size)" "$(curl -sN "$U/events?rate=50&count=1&size=300" | wc -c | tr -d " ")" "300"
check "/slow waits" "$(curl -s -o /dev/null -w '%{time_total}' "$U/slow?delay_ms=300" | awk '{print ($1 >= 0.3)}')" "1"
check "/close gives no answer (curl 52)" "$(curl -s "$U/close" >/dev/null; echo $?)" "52"
check "/big size" "$(curl -s "$U/big?bytes=5000000" | wc -c | tr -d ' ')" "5000000"
check "/events abort_after resets (curl 56)" "$(curl -sN "$U/events?rate=100&abort_after=2" >/dev/null; echo $?)" "56"
check "/status" "$(curl -s -o /dev/null -w '%{http_code}' "$U/status?code=503")" "503"
check "pipelined requests answered in order" "$(python3 - "$UPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /slow?delay_ms=50 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
          b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d: break
    data += d
print(data.count(b"HTTP/1.1 200 OK"), b"slept 50 ms" in data, b'"body_bytes":3' in data, data.endswith(b"hello from streamgate demo\n"))
PY
)" "3 True True True"

bench() { "$BIN/streamgate-bench" --json "$@" 2>/dev/null | tail -1; }

r=$(bench --url "$U/events?rate=20&count=10" --streams 20 --duration 2s)
check "bench direct: finite streams" "$(echo "$r" | jq -c '[.connects_ok, .events, .early_closes, .resets]')" "[20,200,20,0]"
r=$(bench --url "$U/events?rate=50&abort_after=3" --streams 10 --duration 1s --source-ip-count 3)
check "bench direct: aborted streams" "$(echo "$r" | jq -c '[.events, .early_closes, .resets, .errors.ECONNRESET]')" "[30,10,10,10]"
r=$(bench --url "$U/events?rate=20&mode=broadcast" --streams 30 --duration 1500ms --threads 2)
check "bench direct: broadcast streams open at end" "$(echo "$r" | jq -c '[.open_at_end, (.events >= 30*20), .early_closes]')" "[30,true,0]"
r=$(bench --mode plain --url "$U/plain" --connections 4 --duration 1s)
check "bench plain: only 200s" "$(echo "$r" | jq -c '[(.requests > 100), (.status_counts | keys)]')" '[true,["200"]]'
r=$(bench --url "http://127.0.0.1:1/events" --streams 3 --duration 500ms)
check "bench: refused connects counted" "$(echo "$r" | jq -c '[.connects_failed, .errors.ECONNREFUSED]')" "[3,3]"

start_nginx
if [ -n "$NGINX_PORT" ]; then
    N="http://127.0.0.1:$NGINX_PORT"
    r=$(bench --url "$N/events?rate=20&count=10&size=500" --streams 20 --duration 2s)
    check "bench via nginx: finite streams" "$(echo "$r" | jq -c '[.connects_ok, .events, .early_closes, .resets]')" "[20,200,20,0]"
    r=$(bench --url "$N/events?rate=50&abort_after=3" --streams 5 --duration 1s)
    check "bench via nginx: truncated streams" "$(echo "$r" | jq -c '[.events, .early_closes, .resets]')" "[15,5,5]"
    r=$(bench --mode plain --url "$N/plain" --connections 4 --duration 1s)
    check "bench plain via nginx: only 200s" "$(echo "$r" | jq -c '[(.requests > 100), (.status_counts | keys)]')" '[true,["200"]]'
else
    echo "FAIL  nginx did not start"; FAILED=1
fi

# The round-by-round summaries, on made-up rounds: target a against reference b, three rounds
# (a's p99 lower in one, tied in one), and a round the target has no value for.
for r in 1 2 3; do
    echo "{\"events_per_s\": $((r * 100)), \"latency_ms\": {\"p99\": $((10 + r))}}" >"$WORK/a.r$r.json"
done
for r in 1 2 3 4; do echo "{\"events_per_s\": 200, \"latency_ms\": {\"p99\": 12}}" >"$WORK/b.r$r.json"; done
check "paired ratio" "$(paired_ratio a b 4 field_of .events_per_s)" "1.00x (0.50-1.50, 3 rounds)"
check "paired difference" "$(paired_difference a b 4 field_of .latency_ms.p99)" "+0.00 (-1.00..+1.00; lower in 1, tied in 1 of 3 rounds)"

exit $FAILED
