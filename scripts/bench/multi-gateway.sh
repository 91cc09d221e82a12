#!/usr/bin/env bash
# multi-gateway.sh N BIN CONFIG LOG: runs N streamgate processes on one config (they share the
# listening port through SO_REUSEPORT) and stops them all when it receives SIGTERM.
n=$1 bin=$2 conf=$3 log=$4
pids=()
for _ in $(seq 1 "$n"); do "$bin" run --config "$conf" >>"$log" 2>&1 & pids+=($!); done
trap 'kill "${pids[@]}" 2>/dev/null; wait; exit 0' TERM INT
wait
