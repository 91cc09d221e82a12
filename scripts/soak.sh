#!/usr/bin/env bash
# Soak: authenticated event streams churning for a long time against a release gateway (2
# workers), with reconnects, abrupt client resets, token revocations and a Redis restart every
# 5 minutes; the gateway's open descriptors and RSS are sampled every 10 s.
#
#   scripts/soak.sh [--duration SECONDS (3600)] [--streams N (300)]
#
# Prints the samples' CSV path and a summary: streams, events, id gaps, errors, and the growth
# per hour of descriptors and RSS (least-squares slope over the samples after the first 10%).
# Exits non-zero if the gateway died, a stream lost or repeated an event, a client got an
# unexpected status, or descriptors grew by more than 50 per hour. Not part of the test suite.
source "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh"

DURATION=3600
STREAMS=300
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --streams) STREAMS=$2; shift 2 ;;
        *) echo "usage: $0 [--duration SECONDS] [--streams N]" >&2; exit 2 ;;
    esac
done

build
start_demo
RPORT=$(free_port)
start_redis() {
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >>"$WORK/redis.log" 2>&1 &
    echo $! >"$WORK/redis.pid"
    wait_port "$RPORT" "$(cat "$WORK/redis.pid")"
}
start_redis || { log "redis did not start"; exit 1; }
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
cat >"$WORK/soak.toml" <<TOML
[gateway]
workers = 2
access_log = "off"
[[listeners]]
address = "127.0.0.1:$GW_PORT"
[admin]
address = "127.0.0.1:$ADMIN_PORT"
[redis]
url = "redis://127.0.0.1:$RPORT/0"
timeout = "500ms"
[sessions]
recheck_interval = "20s"
[upstreams.demo]
targets = ["127.0.0.1:$UPORT"]
[[routes]]
name = "events"
path_prefix = "/v1/"
rewrite_prefix = "/"
upstream = "demo"
query_token = true
max_stream_duration = "45s"
[[routes]]
name = "plain"
path = "/plain"
upstream = "demo"
auth = "none"
TOML
"$BIN/streamgate" run --config "$WORK/soak.toml" >"$WORK/gateway.log" 2>&1 &
SG_PID=$!
PIDS+=("$SG_PID")
wait_port "$GW_PORT" "$SG_PID" || { log "gateway did not start: $(cat "$WORK/gateway.log")"; exit 1; }
log "soak: $STREAMS streams for ${DURATION}s; gateway pid $SG_PID on $GW_PORT, redis on $RPORT"

CSV="$WORK/samples.csv"
echo "seconds,fds,rss_kb,streams_open" >"$CSV"
(
    start=$(date +%s)
    while kill -0 "$SG_PID" 2>/dev/null; do
        fds=$(ls /proc/"$SG_PID"/fd 2>/dev/null | wc -l)
        rss=$(awk '/VmRSS/ {print $2}' /proc/"$SG_PID"/status 2>/dev/null)
        open=$(python3 -c "import urllib.request as u; t=u.urlopen('http://127.0.0.1:$ADMIN_PORT/metrics',timeout=2).read().decode(); print(int(sum(float(l.split()[-1]) for l in t.splitlines() if l.startswith('streamgate_streams_open{'))))" 2>/dev/null || echo '?')
        echo "$(( $(date +%s) - start )),$fds,$rss,$open" >>"$CSV"
        sleep 10
    done
) &
SAMPLER=$!
PIDS+=("$SAMPLER")

restart_cmd="kill \$(cat $WORK/redis.pid); sleep 3; redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no --daemonize no >>$WORK/redis.log 2>&1 & echo \$! >$WORK/redis.pid; sleep 1"
python3 "$ROOT/scripts/soak/client.py" "$GW_PORT" "$RPORT" "$DURATION" "$STREAMS" "$restart_cmd" >"$WORK/client.json"
alive=1; kill -0 "$SG_PID" 2>/dev/null || alive=0
kill "$SAMPLER" 2>/dev/null || true
KEEP_WORK=1
python3 - "$CSV" "$WORK/client.json" "$alive" <<'PY'
import csv, json, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["fds"].isdigit() and r["rss_kb"].isdigit()]
client = json.load(open(sys.argv[2])); alive = sys.argv[3] == "1"
def slope(xs, ys):
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    d = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / d if d else 0.0
steady = rows[len(rows) // 10:] or rows
t = [int(r["seconds"]) for r in steady]
fd = [int(r["fds"]) for r in steady]; rss = [int(r["rss_kb"]) for r in steady]
fd_h, rss_h = slope(t, fd) * 3600, slope(t, rss) * 3600 / 1024
print(json.dumps(client))
print(f"samples: {len(rows)} over {rows[-1]['seconds'] if rows else 0}s (slope from {len(steady)} after warm-up)")
print(f"descriptors: min {min(fd)} max {max(fd)}; growth {fd_h:+.1f}/hour")
print(f"RSS: min {min(rss)/1024:.1f} MiB max {max(rss)/1024:.1f} MiB; growth {rss_h:+.1f} MiB/hour")
ok = alive and client["id_gaps"] == 0 and not client["unexpected_status"] and fd_h < 50
print("gateway alive" if alive else "GATEWAY DIED")
print("soak: PASS" if ok else "soak: FAIL")
sys.exit(0 if ok else 1)
PY
status=$?
log "samples: $CSV (work dir kept: $WORK)"
exit $status
