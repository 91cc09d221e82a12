#!/usr/bin/env bash
# Shared by scripts/bench-sse.sh, scripts/bench-plain.sh and scripts/bench/heap-per-stream.sh: build, start the demo upstream,
# streamgate, nginx and HAProxy on loopback, sample their CPU and RSS from /proc, and tear
# everything down on exit. Sourced, not run.
#
# TLS=1: every proxy terminates TLS on its listener (a throwaway CA and a localhost certificate
# made with `openssl` in the work dir at run time; ECDSA P-256 unless TLS_KEY=rsa), and
# load_url / load_tls_args give the load tool an https:// URL and the CA to verify with. The
# upstream stays plain (the demo upstream has no TLS), so `direct` stays a plain baseline.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR="$ROOT/scripts/bench"
WORK=$(mktemp -d /tmp/streamgate-bench.XXXXXX)
NGINX=${NGINX:-/usr/sbin/nginx}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
CLK_TCK=$(getconf CLK_TCK)
PIDS=()

log() { echo "[bench] $*" >&2; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ -n "${KEEP_WORK:-}" ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every process started from here inherits the raised limit.
ulimit -n "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -n)

build() {
    if [ "${BUILD:-1}" = 1 ]; then
        log "swift build -c release"
        (cd "$ROOT" && swift build -c release >&2)
    fi
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)
}

TLS=${TLS:-0}
TLS_KEY=${TLS_KEY:-ec}

# make_tls_material: $WORK/tls/{ca.pem, cert.pem, key.pem, combined.pem}: a CA and a leaf for
# localhost and 127.0.0.1 signed by it (combined.pem = leaf + key, what HAProxy's crt takes).
make_tls_material() {
    local dir="$WORK/tls"
    [ -s "$dir/combined.pem" ] && return 0
    command -v openssl >/dev/null || { log "TLS=1 needs the openssl command"; exit 1; }
    mkdir -p "$dir"
    local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    if [ "$TLS_KEY" = rsa ]; then newkey=(-newkey rsa:2048); fi
    openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj "/CN=streamgate bench CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req "${newkey[@]}" -nodes -subj "/CN=localhost" -keyout "$dir/key.pem" -out "$dir/leaf.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$dir/leaf.ext"
    openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile "$dir/leaf.ext" -out "$dir/cert.pem" 2>/dev/null
    cat "$dir/cert.pem" "$dir/key.pem" >"$dir/combined.pem"
    log "TLS: throwaway CA and localhost certificate ($TLS_KEY) in $dir"
}

# load_url PORT PATH: the URL the load tool uses for a proxy on PORT (https with TLS=1).
load_url() {
    if [ "$TLS" = 1 ]; then echo "https://127.0.0.1:$1$2"; else echo "http://127.0.0.1:$1$2"; fi
}

# load_tls_args: the load tool's TLS flags (none without TLS=1), one a line.
load_tls_args() {
    if [ "$TLS" = 1 ]; then printf '%s\n' --ca-file "$WORK/tls/ca.pem"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT PID: true once PORT accepts connections, false if PID died or 10 s passed.
wait_port() {
    local port=$1 pid=$2
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

start_demo() {
    "$BIN/streamgate-demo-upstream" --listen 127.0.0.1:0 --threads "${UPSTREAM_THREADS:-1}" \
        >"$WORK/demo.out" 2>"$WORK/demo.err" &
    DEMO_PID=$!
    PIDS+=("$DEMO_PID")
    for _ in $(seq 1 100); do
        if [ -s "$WORK/demo.out" ]; then break; fi
        sleep 0.05
    done
    UPORT=$(head -1 "$WORK/demo.out" | sed -n 's/^listening on .*:\([0-9]*\)$/\1/p')
    [ -n "$UPORT" ] || { log "demo upstream did not start: $(cat "$WORK/demo.err")"; exit 1; }
    log "demo upstream on 127.0.0.1:$UPORT (pid $DEMO_PID)"
}

# Each start_* sets <NAME>_PORT and <NAME>_PID, or leaves the port empty when it cannot start
# (that column then reads n/a instead of failing the whole comparison).
# write_streamgate_config FILE PORT WORKERS: the gateway config every benchmark uses (the demo
# upstream, an SSE route /events and a plain route /plain, no auth, access log per SG_ACCESS_LOG).
write_streamgate_config() {
    local file=$1 port=$2 workers=$3
    cat >"$file" <<TOML
[gateway]
workers = $workers
# nginx and HAProxy run with access logs off too; SG_ACCESS_LOG=stdout measures the log's cost.
access_log = "${SG_ACCESS_LOG:-off}"

[[listeners]]
address = "127.0.0.1:$port"
$(if [ "$TLS" = 1 ]; then printf 'tls_cert = "%s"\ntls_key = "%s"\n' "$WORK/tls/cert.pem" "$WORK/tls/key.pem"; fi)

[upstreams.demo]
targets = ["127.0.0.1:$UPORT"]

[[routes]]
name = "events"
path = "/events"
upstream = "demo"
sse = true
auth = "none"

[[routes]]
name = "plain"
path = "/plain"
upstream = "demo"
auth = "none"
TOML
}

# start_streamgate [BINARY]: the gateway (default: STREAMGATE_BIN, else this tree's release build).
start_streamgate() {
    SG_PORT=$(free_port)
    write_streamgate_config "$WORK/streamgate.toml" "$SG_PORT" "${SG_WORKERS:-2}"
    local sg=${1:-${STREAMGATE_BIN:-$BIN/streamgate}}
    if [ ! -x "$sg" ]; then log "no streamgate binary at $sg"; SG_PORT=""; return; fi
    if [ "${SG_PROCESSES:-1}" -gt 1 ]; then
        # Several gateway processes sharing the port through SO_REUSEPORT (how one host goes
        # past one process's descriptor limit). They run under one small shell so the RSS and
        # CPU samplers see them as one process tree (the shell adds ~2 MB of RSS).
        "$BENCH_DIR/multi-gateway.sh" "$SG_PROCESSES" "$sg" "$WORK/streamgate.toml" "$WORK/streamgate.log" &
    else
        "$sg" run --config "$WORK/streamgate.toml" >"$WORK/streamgate.log" 2>&1 &
    fi
    SG_PID=$!
    PIDS+=("$SG_PID")
    if wait_port "$SG_PORT" "$SG_PID"; then
        log "streamgate on 127.0.0.1:$SG_PORT (pid $SG_PID)"
    else
        log "streamgate did not start (skipped): $(tail -3 "$WORK/streamgate.log" | tr '\n' ' ')"
        SG_PORT=""
    fi
}

# write_nginx_config DIR PORT WORKERS: the reference config (nginx.conf.in) at DIR/nginx.conf,
# listening on PORT with WORKERS worker processes (TLS as the TLS switch says).
write_nginx_config() {
    local dir=$1 port=$2 workers=$3 user=""
    mkdir -p "$dir"
    # As root, nginx would hand workers to `nobody`, who cannot use the temp dirs under $WORK.
    if [ "$(id -u)" = 0 ]; then user="user root;"; fi
    # TLS: the same certificate and protocol versions as streamgate's listener.
    local ssl="" tls=""
    if [ "$TLS" = 1 ]; then
        ssl=" ssl"
        tls="ssl_certificate $WORK/tls/cert.pem; ssl_certificate_key $WORK/tls/key.pem; ssl_protocols TLSv1.2 TLSv1.3;"
    fi
    sed -e "s|@WORK@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@SSL@|$ssl|g" -e "s|@TLS@|$tls|g" -e "s|@UPORT@|$UPORT|g" -e "s|@USER@|$user|g" -e "s|@FDLIMIT@|$FD_LIMIT|g" \
        -e "s|@NGINX_WORKERS@|$workers|g" \
        "$BENCH_DIR/nginx.conf.in" >"$dir/nginx.conf"
}

start_nginx() {
    NGINX_PORT=$(free_port)
    local dir="$WORK/nginx"
    write_nginx_config "$dir" "$NGINX_PORT" "${NGINX_WORKERS:-2}"
    "$NGINX" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    if wait_port "$NGINX_PORT" "$NGINX_PID"; then
        log "nginx on 127.0.0.1:$NGINX_PORT (pid $NGINX_PID)"
    else
        log "nginx did not start (skipped): $(tail -3 "$dir/error.log" 2>/dev/null | tr '\n' ' ')"
        NGINX_PORT=""
    fi
}

start_haproxy() {
    HAPROXY_PORT=$(free_port)
    local maxconn=$(( (FD_LIMIT - 200) / 2 ))
    local tls=""
    if [ "$TLS" = 1 ]; then tls="ssl crt $WORK/tls/combined.pem ssl-min-ver TLSv1.2 alpn http/1.1"; fi
    sed -e "s|@PORT@|$HAPROXY_PORT|g" -e "s|@TLS@|$tls|g" -e "s|@UPORT@|$UPORT|g" -e "s|@MAXCONN@|$maxconn|g" \
        -e "s|@HAPROXY_THREADS@|${HAPROXY_THREADS:-2}|g" \
        "$BENCH_DIR/haproxy.cfg.in" >"$WORK/haproxy.cfg"
    "$HAPROXY" -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    PIDS+=("$HAPROXY_PID")
    if wait_port "$HAPROXY_PORT" "$HAPROXY_PID"; then
        log "haproxy on 127.0.0.1:$HAPROXY_PORT (pid $HAPROXY_PID)"
    else
        log "haproxy did not start (skipped): $(tail -3 "$WORK/haproxy.log" | tr '\n' ' ')"
        HAPROXY_PORT=""
    fi
}

# start_target SPEC: starts what a benchmark target names and sets TARGET_PORT (empty when it
# could not start) and TARGET_PID (empty for direct). SPEC is direct, streamgate, baseline
# (the streamgate binary BASELINE_BIN), nginx or haproxy, optionally with @N: N workers per streamgate process, N nginx worker processes or N
# HAProxy threads (so one run can compare, say, streamgate@1 with nginx and nginx@1).
start_target() {
    local name=${1%@*} n=""
    if [ "$name" != "$1" ]; then n=${1##*@}; fi
    TARGET_PORT="" TARGET_PID=""
    case $name in
        direct) TARGET_PORT=$UPORT ;;
        streamgate) SG_WORKERS=${n:-${SG_WORKERS:-2}} start_streamgate; TARGET_PORT=$SG_PORT; TARGET_PID=${SG_PID:-} ;;
        # Another streamgate build (BASELINE_BIN, e.g. an older commit's release binary), to
        # compare two builds in one run under the same conditions.
        baseline)
            if [ -x "${BASELINE_BIN:-}" ]; then
                SG_WORKERS=${n:-${SG_WORKERS:-2}} start_streamgate "$BASELINE_BIN"; TARGET_PORT=$SG_PORT; TARGET_PID=${SG_PID:-}
            else
                log "baseline: BASELINE_BIN is not an executable (skipped)"
            fi ;;
        nginx) NGINX_WORKERS=${n:-${NGINX_WORKERS:-2}} start_nginx; TARGET_PORT=$NGINX_PORT; TARGET_PID=${NGINX_PID:-} ;;
        haproxy) HAPROXY_THREADS=${n:-${HAPROXY_THREADS:-2}} start_haproxy; TARGET_PORT=$HAPROXY_PORT; TARGET_PID=${HAPROXY_PID:-} ;;
        *) log "unknown target $1" ;;
    esac
}

# A process and its direct children (nginx master + workers).
process_tree() {
    [ -n "${1:-}" ] || return 0
    echo "$1"
    pgrep -P "$1" || true
}

# Sum of utime+stime in clock ticks over the given pids.
cpu_ticks() {
    local total=0 pid fields
    for pid in "$@"; do
        # Fields after "pid (comm) ": utime and stime are the 12th and 13th.
        fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        total=$(( total + $(echo "$fields" | awk '{print $12 + $13}') ))
    done
    echo "$total"
}

# Sum of VmRSS in kB over the given pids.
rss_kb() {
    local total=0 pid kb
    for pid in "$@"; do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        total=$(( total + ${kb:-0} ))
    done
    echo "$total"
}

# run_case NAME PROXY_PID CMD...: runs the load command (its last stdout line is the JSON
# summary) while sampling the proxy's peak RSS; stores NAME.json, NAME.cpu (s), NAME.rss (MB).
run_case() {
    local name=$1 root=$2
    shift 2
    local pids=()
    if [ -n "$root" ]; then mapfile -t pids < <(process_tree "$root"); fi
    local before=0
    if [ ${#pids[@]} -gt 0 ]; then before=$(cpu_ticks "${pids[@]}"); fi
    echo 0 >"$WORK/$name.rsspeak"
    # Resident set before the load: what the held connections add is peak minus this.
    local idle_kb=0
    if [ ${#pids[@]} -gt 0 ]; then idle_kb=$(rss_kb "${pids[@]}"); fi
    (
        peak=0
        while true; do
            if [ ${#pids[@]} -gt 0 ]; then
                r=$(rss_kb "${pids[@]}")
                if [ "$r" -gt "$peak" ]; then peak=$r; echo "$peak" >"$WORK/$name.rsspeak"; fi
            fi
            sleep 0.5
        done
    ) &
    local sampler=$!
    PIDS+=("$sampler")
    log "running $name: $*"
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || log "$name: load tool exited with $?"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    local after=0
    if [ ${#pids[@]} -gt 0 ]; then after=$(cpu_ticks "${pids[@]}"); fi
    tail -1 "$WORK/$name.out" >"$WORK/$name.json"
    if [ -n "$root" ]; then
        awk -v t=$(( after - before )) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f\n", t / hz }' >"$WORK/$name.cpu"
        awk -v k="$(cat "$WORK/$name.rsspeak")" 'BEGIN { printf "%.1f\n", k / 1024 }' >"$WORK/$name.rss"
        awk -v k="$idle_kb" 'BEGIN { printf "%.1f\n", k / 1024 }' >"$WORK/$name.rss0"
    else
        echo "-" >"$WORK/$name.cpu"
        echo "-" >"$WORK/$name.rss"
        echo "-" >"$WORK/$name.rss0"
    fi
    sleep "${SETTLE:-1}"
}

# per_stream_kb PEAK_MB IDLE_MB STREAMS: resident memory each held stream added, in KB.
per_stream_kb() {
    awk -v p="$1" -v i="$2" -v n="$3" 'BEGIN {
        if (p == "-" || i == "-" || n == "" || n == "null" || n + 0 == 0) { print "-" } else { printf "%.2f\n", (p - i) * 1024 / n }
    }'
}

# median: the median of the numbers on stdin, one per line ("-" lines ignored); "-" if none.
median() {
    awk '$1 != "-"' | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-" } else if (NR % 2) { print v[(NR + 1) / 2] } else { printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 } }'
}

# aggregate_rounds NAME ROUNDS: NAME.json, .cpu, .rss and .rss0 as the medians of the files
# NAME.r1 .. NAME.rROUNDS that run_case stored (each number in the JSON on its own), so the
# tables read one set of files whether there was one round or several.
aggregate_rounds() {
    local name=$1 rounds=$2 r ext jsons=()
    for r in $(seq 1 "$rounds"); do
        [ -s "$WORK/$name.r$r.json" ] || continue
        # A round whose load tool failed leaves no JSON summary: it is left out, not fatal.
        if jq -e . "$WORK/$name.r$r.json" >/dev/null 2>&1; then
            jsons+=("$WORK/$name.r$r.json")
        else
            log "$name round $r: no valid summary, left out of the medians"
        fi
    done
    [ ${#jsons[@]} -gt 0 ] || return 0
    jq -c -s 'def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                                 else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        . as $runs | reduce ([$runs[0] | paths(numbers)][]) as $p ($runs[0];
            setpath($p; [$runs[] | getpath($p) | numbers] | median))' "${jsons[@]}" >"$WORK/$name.json"
    for ext in cpu rss rss0; do
        for r in $(seq 1 "$rounds"); do cat "$WORK/$name.r$r.$ext" 2>/dev/null || true; done | median >"$WORK/$name.$ext"
    done
    # Per-stream memory is a median of each round's own figure (NAME.rR.kbs, which the
    # per-round table prints too), not one made of two medians.
    for r in $(seq 1 "$rounds"); do
        jq -e . "$WORK/$name.r$r.json" >/dev/null 2>&1 || continue
        per_stream_kb "$(cat "$WORK/$name.r$r.rss")" "$(cat "$WORK/$name.r$r.rss0")" \
            "$(jq -r '.connects_ok // 0' "$WORK/$name.r$r.json")" >"$WORK/$name.r$r.kbs"
        cat "$WORK/$name.r$r.kbs"
    done | median >"$WORK/$name.kbs"
}

# rotate N WORDS...: the words rotated left by N places (round r of a repeated benchmark runs the
# targets in a different order, so none always follows the same neighbour's teardown).
rotate() {
    local n=$1
    shift
    local words=("$@") count=$#
    local i
    for i in $(seq 0 $(( count - 1 ))); do printf '%s ' "${words[$(( (i + n) % count ))]}"; done
}

# ratio A B: A/B with two decimals, "-" when either is missing or B is zero.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || a == "null" || b == "null" || b + 0 == 0) { print "-" }
        else { printf "%.2fx\n", a / b } }'
}

# paired_values TARGET REF ROUNDS OP VALUE: one line per round in which both have a value:
# TARGET's value divided by REF's (OP ratio) or minus it (OP difference). VALUE is a command that
# prints one round's value given its case name (e.g. "field_of .events_per_s").
paired_values() {
    local t=$1 ref=$2 rounds=$3 op=$4 r a b
    shift 4
    for r in $(seq 1 "$rounds"); do
        a=$("$@" "$t.r$r") b=$("$@" "$ref.r$r")
        awk -v a="$a" -v b="$b" -v op="$op" 'BEGIN {
            if (a == "" || b == "" || a == "-" || b == "-" || a == "null" || b == "null") exit
            if (op == "difference") printf "%.3f\n", a - b
            else if (b + 0 != 0) printf "%.4f\n", a / b }'
    done
}

# paired_ratio TARGET REF ROUNDS VALUE: the median, lowest and highest over the rounds of
# TARGET's value divided by REF's in the same round, as "1.04x (0.97-1.12, 7 rounds)".
# On a shared machine throughput drifts by a quarter or more between rounds; two targets run
# back to back in one round drift much less, so the median of per-round ratios is steadier
# than the ratio of two medians.
paired_ratio() {
    local t=$1 ref=$2 rounds=$3
    shift 3
    paired_values "$t" "$ref" "$rounds" ratio "$@" | ratio_summary
}

# ratio_summary: ratios on stdin, one a line, as "1.04x (0.97-1.12, 7 rounds)": their median,
# lowest and highest.
ratio_summary() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2fx (%.2f-%.2f, %d rounds)\n", m, v[1], v[NR], NR }'
}

# field_of JQ NAME: `field` with its arguments swapped, for paired_ratio.
field_of() { field "$2" "$1"; }

# file_of EXT NAME: the number a round stored in NAME.EXT (cpu, cpureq), for paired_ratio.
file_of() { cat "$WORK/$2.$1" 2>/dev/null || echo -; }

# print_paired LABEL JQ CPU_LABEL CPU_EXT: after a run of REPEAT rounds, each target but REF
# and direct paired with REF (paired_ratio) on a JSON throughput field and a stored CPU figure.
print_paired() {
    [ "$REPEAT" -gt 1 ] || return 0
    local t
    echo
    echo "Paired with $REF round by round (median of the rounds' ratios, lowest-highest):"
    for t in $TARGETS; do
        if [ "$t" = "$REF" ] || [ "$t" = direct ] || [ ! -s "$WORK/$t.json" ]; then continue; fi
        printf "%-13s %s %s   %s %s\n" "$t" "$1" "$(paired_ratio "$t" "$REF" "$REPEAT" field_of "$2")" \
            "$3" "$(paired_ratio "$t" "$REF" "$REPEAT" file_of "$4")"
    done
}

# paired_difference TARGET REF ROUNDS VALUE: TARGET's value minus REF's in the same round, over
# the rounds: the median, lowest and highest, and in how many rounds TARGET's was the lower, as
# "-1.02 (-9.22..+4.10; lower in 4, tied in 1 of 7 rounds)".
paired_difference() {
    local t=$1 ref=$2 rounds=$3
    shift 3
    paired_values "$t" "$ref" "$rounds" difference "$@" | sort -g | awk '{ v[NR] = $1; if ($1 < 0) lower++; else if ($1 == 0) tied++ } END {
        if (NR == 0) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%+.2f (%+.2f..%+.2f; lower in %d, tied in %d of %d rounds)\n", m, v[1], v[NR], lower, tied, NR }'
}

# print_paired_latency LABEL JQ: after a run of REPEAT rounds, each target but REF and direct:
# its latency (e.g. .latency_ms.p99) minus REF's, round by round (paired_difference). The
# direct run's p99, which the +p99 column subtracts, moves between rounds by as much as the
# proxies differ; a difference taken within one round leaves that drift out.
print_paired_latency() {
    [ "$REPEAT" -gt 1 ] || return 0
    local t
    for t in $TARGETS; do
        if [ "$t" = "$REF" ] || [ "$t" = direct ] || [ ! -s "$WORK/$t.json" ]; then continue; fi
        printf "%-13s %s minus %s's, ms: %s\n" "$t" "$1" "$REF" "$(paired_difference "$t" "$REF" "$REPEAT" field_of "$2")"
    done
}

# difference A B: A-B with three decimals, "-" when either is missing.
difference() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || a == "null" || b == "null") { print "-" }
        else { printf "%.3f\n", a - b } }'
}

# field NAME JQ: a value from NAME.json, "-" if the case did not run. Fractions get 3 decimals.
field() {
    local f="$WORK/$1.json" v
    if [ -s "$f" ]; then v=$(jq -r "$2 // \"-\"" "$f" 2>/dev/null || echo "-"); else v="-"; fi
    case $v in
        *.*) awk -v x="$v" 'BEGIN { printf "%.3f\n", x }' ;;
        *) echo "$v" ;;
    esac
}

# seed_sessions COUNT FILE REDIS_PORT: COUNT random tokens written to FILE, one per line, each
# with a session hash at session:<sha256(token)> in that Redis, valid for an hour.
seed_sessions() {
    python3 - "$1" "$2" "$3" <<'PY'
import hashlib, secrets, subprocess, sys, time
n, path, port = int(sys.argv[1]), sys.argv[2], sys.argv[3]
exp = int(time.time()) + 3600
cmds, toks = [], []
for i in range(n):
    t = secrets.token_urlsafe(24)
    toks.append(t)
    k = "session:" + hashlib.sha256(t.encode()).hexdigest()
    cmds.append(f"HSET {k} user_id u{i} tenant_id t{i % 10} kind session scopes events:read expires_at {exp}\n")
subprocess.run(["redis-cli", "-p", port, "--pipe"], input="".join(cmds).encode(), check=True, capture_output=True)
open(path, "w").write("\n".join(toks) + "\n")
PY
}
