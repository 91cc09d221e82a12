#!/usr/bin/env bash
# One command from a fresh checkout to a running demo:
#   installs the system packages, builds release binaries, starts the demo upstream on
#   127.0.0.1:9000 in the background, and runs the gateway (gateway.example.toml, listening
#   on 127.0.0.1:8080) in the foreground. Ctrl-C (or SIGTERM) drains the gateway and stops
#   the demo upstream.
#
#   scripts/quickstart.sh [--skip-deps]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

skip_deps=0
for arg in "$@"; do
    case "$arg" in
        --skip-deps) skip_deps=1 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "quickstart.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

[[ $skip_deps == 1 ]] || "$root/scripts/install-deps.sh"

echo "==> swift build -c release"
swift build -c release
bin="$(swift build -c release --show-bin-path)"

config="$root/gateway.example.toml"
upstream_addr="127.0.0.1:9000"   # what [upstreams.demo] in gateway.example.toml points at

upstream_log="$(mktemp -t streamgate-demo-upstream.XXXXXX)"
upstream_pid=""
gateway_pid=""

cleanup() {
    if [[ -n "$gateway_pid" ]] && kill -0 "$gateway_pid" 2>/dev/null; then
        kill -TERM "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    if [[ -n "$upstream_pid" ]] && kill -0 "$upstream_pid" 2>/dev/null; then
        kill -TERM "$upstream_pid" 2>/dev/null || true
        wait "$upstream_pid" 2>/dev/null || true
    fi
    rm -f "$upstream_log"
}
trap cleanup EXIT

echo "==> starting streamgate-demo-upstream --listen $upstream_addr"
"$bin/streamgate-demo-upstream" --listen "$upstream_addr" >"$upstream_log" 2>&1 &
upstream_pid=$!

# Its first output line is `listening on HOST:PORT`; wait for it (at most ~10 s).
for _ in $(seq 1 200); do
    grep -q '^listening on ' "$upstream_log" 2>/dev/null && break
    if ! kill -0 "$upstream_pid" 2>/dev/null; then
        echo "quickstart: the demo upstream exited (is $upstream_addr already in use?):" >&2
        cat "$upstream_log" >&2
        exit 1
    fi
    sleep 0.05
done
if ! grep -q '^listening on ' "$upstream_log"; then
    echo "quickstart: the demo upstream did not start listening within 10 s" >&2
    exit 1
fi
echo "    $(head -n1 "$upstream_log")"

cat <<MSG

==> streamgate run --config gateway.example.toml   (Ctrl-C to stop)
    Try, in another terminal:
      curl -i http://127.0.0.1:8080/plain
      curl -N http://127.0.0.1:8080/events
      curl -i http://127.0.0.1:8080/api/plain
      $bin/streamgate check --config gateway.example.toml

MSG

# The gateway runs as a background child so that this shell can forward SIGINT/SIGTERM to
# it and still stop the demo upstream afterwards (a foreground child would delay the trap).
"$bin/streamgate" run --config "$config" &
gateway_pid=$!
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
