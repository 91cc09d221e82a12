#!/usr/bin/env bash
# RSS of one gateway process holding N idle keep-alive client connections (each has made one
# request, so a pooled upstream connection exists too), against nginx with the same load.
#
#   CONNECTIONS=1000 scripts/bench-idle.sh
#
# Env: CONNECTIONS (1000), BUILD=0 skips the release build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CONNECTIONS=${CONNECTIONS:-1000}
[ "${BUILD:-1}" = 1 ] && swift build -c release >/dev/null
BIN=.build/release
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); GW=$(free_port); NG=$(free_port)
"$BIN/streamgate-demo-upstream" --listen "127.0.0.1:$UP" >"$WORK/up.log" 2>&1 & pids+=($!)
cat >"$WORK/gw.toml" <<TOML
[gateway]
workers = 1
access_log = "off"
[[listeners]]
address = "127.0.0.1:$GW"
[upstreams.demo]
targets = ["127.0.0.1:$UP"]
[[routes]]
name = "plain"
path = "/plain"
upstream = "demo"
TOML
"$BIN/streamgate" run --config "$WORK/gw.toml" >"$WORK/gw.log" 2>&1 & pids+=($!); GWPID=$!
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
error_log $WORK/nginx/logs/error.log;
pid $WORK/nginx/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_timeout 300s;
  upstream demo { server 127.0.0.1:$UP; keepalive 32; }
  server { listen 127.0.0.1:$NG; location / { proxy_pass http://demo; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGX
/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" & pids+=($!)
sleep 1

rss_kb() { local total=0; for p in "$@"; do total=$((total + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done; echo $total; }
hold() { # port -> holds CONNECTIONS idle keep-alive connections until stdin closes
python3 - "$1" "$CONNECTIONS" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /plain HTTP/1.1\r\nHost: bench\r\n\r\n")
    socks.append(s)
for s in socks:
    data = b""
    while b"hello from streamgate demo" not in data:
        data += s.recv(4096)
print("ready", flush=True)
sys.stdin.read()
PY
}
measure() { # name port pids...
  local name=$1 port=$2; shift 2
  local before after
  before=$(rss_kb "$@")
  coproc HOLD { hold "$port"; }
  read -r line <&"${HOLD[0]}"
  after=$(rss_kb "$@")
  printf "%-12s rss_before_kb=%-8s rss_with_%s_idle_kb=%-8s per_connection_bytes=%s\n" "$name" "$before" "$CONNECTIONS" "$after" $(( (after - before) * 1024 / CONNECTIONS ))
  eval "exec ${HOLD[1]}>&-"
  wait "$HOLD_PID" 2>/dev/null || true
}
NGPIDS=$(pgrep -f "nginx: worker process" -P "$(cat "$WORK/nginx/nginx.pid")" | tr '\n' ' ')
measure streamgate "$GW" "$GWPID"
measure nginx "$NG" $(cat "$WORK/nginx/nginx.pid") $NGPIDS
