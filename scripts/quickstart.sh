#!/usr/bin/env bash
# One command from a fresh checkout to a running demo with authentication:
#   installs the system packages, builds release binaries, and starts, all on 127.0.0.1:
#     - a private redis-server (data in a temporary directory, stopped on exit),
#     - streamgate-demo-upstream,
#     - streamgate with demo/gateway.toml (an open stream and an authenticated tenant stream),
#   seeds one session with `streamgate session create`, prints commands to try, and runs
#   the gateway in the foreground. Ctrl-C (or SIGTERM) drains the gateway and stops the rest.
#
#   scripts/quickstart.sh [--skip-deps] [--port N] [--admin-port N] [--upstream-port N] [--redis-port N]
#
#   Ports (also from STREAMGATE_DEMO_PORT, STREAMGATE_DEMO_ADMIN_PORT, STREAMGATE_DEMO_UPSTREAM_PORT,
#   STREAMGATE_DEMO_REDIS_PORT): gateway 8080, admin 9901, upstream 9000, or a free port when
#   that default is taken; Redis on a free port (never the system's 6379).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "quickstart: $*" >&2; exit 1; }

skip_deps=0
gateway_port="${STREAMGATE_DEMO_PORT:-}"
admin_port="${STREAMGATE_DEMO_ADMIN_PORT:-}"
upstream_port="${STREAMGATE_DEMO_UPSTREAM_PORT:-}"
redis_port="${STREAMGATE_DEMO_REDIS_PORT:-}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --skip-deps) skip_deps=1 ;;
        --port|--admin-port|--upstream-port|--redis-port)
            [[ $# -ge 2 ]] || die "$1 needs a port number"
            case "$1" in
                --port) gateway_port="$2" ;;
                --admin-port) admin_port="$2" ;;
                --upstream-port) upstream_port="$2" ;;
                --redis-port) redis_port="$2" ;;
            esac
            shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "quickstart.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
for p in "$gateway_port" "$admin_port" "$upstream_port" "$redis_port"; do
    [[ -z "$p" ]] || { [[ "$p" =~ ^[0-9]+$ ]] && (( p >= 1 && p <= 65535 )); } || die "'$p' is not a port number (1-65535)"
done

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

[[ $skip_deps == 1 ]] || "$root/scripts/install-deps.sh"
command -v redis-server >/dev/null 2>&1 || die "redis-server is not installed (scripts/install-deps.sh installs it)"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli is not installed (scripts/install-deps.sh installs it)"

# --- ports ---------------------------------------------------------------------------------
# Something accepts connections on 127.0.0.1:$1 (bash's /dev/tcp: no extra tool needed).
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
random_free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$(( 20000 + RANDOM % 40000 ))
        in_use "$p" || { echo "$p"; return 0; }
    done
    die "found no free port"
}
# pick NAME GIVEN DEFAULT: a port given by the user must be free; a default that is taken
# is replaced by a free one, so a second demo (or a busy 8080) does not stop the first.
pick() {
    local name=$1 given=$2 default=$3
    if [[ -n "$given" ]]; then
        in_use "$given" && die "the $name port $given is in use"
        echo "$given"
    elif in_use "$default"; then
        local p; p=$(random_free_port)
        echo "    $name port $default is in use: using $p" >&2
        echo "$p"
    else
        echo "$default"
    fi
}
gateway_port=$(pick gateway "$gateway_port" 8080)
admin_port=$(pick admin "$admin_port" 9901)
upstream_port=$(pick upstream "$upstream_port" 9000)
[[ "$gateway_port" != "$admin_port" ]] || die "the gateway and admin ports must differ"

echo "==> swift build -c release"
swift build -c release
bin="$(swift build -c release --show-bin-path)"

# --- processes -----------------------------------------------------------------------------
work="$(mktemp -d -t streamgate-demo.XXXXXX)"
redis_pid=""
upstream_pid=""
gateway_pid=""

cleanup() {
    for pid in "$gateway_pid" "$upstream_pid" "$redis_pid"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

# redis-server needs a fixed port: try one, and if another process got it first, the next.
start_redis() {
    local port=$1
    mkdir -p "$work/redis"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis" --save "" --appendonly no \
        --daemonize no --logfile "$work/redis.log" &
    redis_pid=$!
    for _ in $(seq 1 200); do
        [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]] && return 0
        kill -0 "$redis_pid" 2>/dev/null || { wait "$redis_pid" 2>/dev/null || true; redis_pid=""; return 1; }
        sleep 0.05
    done
    die "redis-server on port $port did not answer PING within 10 s (log: $(tail -n 3 "$work/redis.log"))"
}
if [[ -n "$redis_port" ]]; then
    in_use "$redis_port" && die "the redis port $redis_port is in use"
    start_redis "$redis_port" || die "redis-server could not start on port $redis_port: $(tail -n 3 "$work/redis.log")"
else
    started=0
    for _ in $(seq 1 10); do
        redis_port=$(random_free_port)
        if start_redis "$redis_port"; then started=1; break; fi
    done
    [[ $started == 1 ]] || die "redis-server did not start: $(tail -n 3 "$work/redis.log")"
fi
echo "==> redis-server on 127.0.0.1:$redis_port (data in $work/redis)"

"$bin/streamgate-demo-upstream" --listen "127.0.0.1:$upstream_port" >"$work/upstream.log" 2>&1 &
upstream_pid=$!
# Its first output line is `listening on HOST:PORT`; wait for it (at most ~10 s).
for _ in $(seq 1 200); do
    grep -q '^listening on ' "$work/upstream.log" 2>/dev/null && break
    kill -0 "$upstream_pid" 2>/dev/null || die "the demo upstream exited: $(cat "$work/upstream.log")"
    sleep 0.05
done
grep -q '^listening on ' "$work/upstream.log" || die "the demo upstream did not start listening within 10 s"
echo "==> streamgate-demo-upstream $(head -n1 "$work/upstream.log")"

# The printed commands name this file: a copy of demo/gateway.toml with the ports filled in.
config="$work/gateway.toml"
sed -e "s/\${STREAMGATE_DEMO_PORT}/$gateway_port/" \
    -e "s/\${STREAMGATE_DEMO_ADMIN_PORT}/$admin_port/" \
    -e "s/\${STREAMGATE_DEMO_UPSTREAM_PORT}/$upstream_port/" \
    -e "s/\${STREAMGATE_DEMO_REDIS_PORT}/$redis_port/" \
    "$root/demo/gateway.toml" >"$config"
"$bin/streamgate" check --config "$config" >/dev/null || die "$config is not valid (see above)"

# The demo session: its token is the only thing `session create` prints on stdout.
token=$("$bin/streamgate" session create -c "$config" --tenant acme --user u-42 --scope events:read --ttl 1h \
    2>"$work/session.log") || die "streamgate session create failed: $(cat "$work/session.log")"

# The gateway runs as a background child so that this shell can forward SIGINT/SIGTERM to
# it and still stop the others afterwards (a foreground child would delay the trap).
echo "==> streamgate run --config $config   (Ctrl-C to stop; the access log follows)"
"$bin/streamgate" run --config "$config" &
gateway_pid=$!
for _ in $(seq 1 200); do
    in_use "$gateway_port" && break
    kill -0 "$gateway_pid" 2>/dev/null || { gateway_pid=""; die "streamgate exited (see above)"; }
    sleep 0.05
done
in_use "$gateway_port" || die "streamgate did not start listening on 127.0.0.1:$gateway_port within 10 s"

base="http://127.0.0.1:$gateway_port"
cat <<MSG

==> Try, in another terminal. The demo session: tenant acme, user u-42, scope events:read, one hour.

  # 1. No token: 401
  curl -i --max-time 5 $base/v1/tenants/acme/events

  # 2. acme's stream with the token: each event shows the identity headers the upstream received
  curl -N --max-time 60 -H 'Authorization: Bearer $token' $base/v1/tenants/acme/events

  # 3. The same with the token in the query, as a browser's EventSource sends it (it is not forwarded: see "target")
  curl -N --max-time 5 '$base/v1/tenants/acme/events?access_token=$token'

  # 4. Another tenant's stream: 403
  curl -i --max-time 5 -H 'Authorization: Bearer $token' $base/v1/tenants/globex/events

  # 5. While (2) runs, revoke the session from a second terminal: (2) ends at once, and (1)-(3) now get 401
  $bin/streamgate session revoke -c $config $token

  # A new session afterwards (the token is the only thing printed on stdout):
  TOKEN=\$($bin/streamgate session create -c $config --tenant acme --user u-42 --scope events:read --ttl 1h)

  # Without auth: an open stream, and the gateway's metrics
  curl -N --max-time 5 $base/events
  curl --max-time 5 http://127.0.0.1:$admin_port/metrics

MSG

trap 'kill -TERM "$gateway_pid" 2>/dev/null || true' INT TERM
# `wait` returns early (status > 128) when a trapped signal arrives: wait again for the drain.
while :; do
    status=0
    wait "$gateway_pid" || status=$?
    if (( status > 128 )) && kill -0 "$gateway_pid" 2>/dev/null; then continue; fi
    break
done
gateway_pid=""
echo "==> streamgate exited with status $status"
exit "$status"
