#!/usr/bin/env bash
# The performance table of docs/BENCHMARKS.md in one command: the four SSE workloads (9,000
# streams x 1 and x 10 events/s, 1,000 x 100 and 1,000 x 300, the last two past what two cores
# carry; 9,000 rather than 10,000 because a proxy holds two descriptors per stream and the
# development machine's hard RLIMIT_NOFILE is 20,000: set SCENARIOS where it allows more) and keep-alive GET /plain, each against direct, streamgate, nginx and HAProxy with the
# same worker count, access logs off, medians of REPEAT rounds in rotated order.
#
#   scripts/bench-matrix.sh                  (about 30 minutes on 2 cores)
#
# Env: REPEAT (3), DURATION (20s per SSE round), WARMUP (5s), PLAIN_DURATION (10s),
#      SCENARIOS ("9000x1 9000x10 1000x100 1000x300"), TARGETS (as bench-sse.sh), OUT (a
#      directory for each scenario's full output; default: a new one under /tmp).
# Prints each scenario's median table as it finishes; the per-round tables are in OUT.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPEAT=${REPEAT:-3}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
PLAIN_DURATION=${PLAIN_DURATION:-10s}
SCENARIOS=${SCENARIOS:-9000x1 9000x10 1000x100 1000x300}
OUT=${OUT:-$(mktemp -d /tmp/streamgate-matrix.XXXXXX)}
mkdir -p "$OUT"
echo "[matrix] full outputs in $OUT" >&2

BUILD=${BUILD:-1}
for scenario in $SCENARIOS; do
    streams=${scenario%x*}
    rate=${scenario#*x}
    echo "[matrix] $streams streams x $rate ev/s" >&2
    BUILD=$BUILD REPEAT=$REPEAT STREAMS=$streams RATE=$rate DURATION=$DURATION WARMUP=$WARMUP \
        "$here/bench-sse.sh" >"$OUT/sse-$scenario.txt" 2>"$OUT/sse-$scenario.err" || echo "[matrix] $scenario failed: see $OUT/sse-$scenario.err" >&2
    BUILD=0  # one release build serves every run
    sed -n '/^SSE: /,$p' "$OUT/sse-$scenario.txt"
    echo
done
echo "[matrix] GET /plain" >&2
BUILD=$BUILD REPEAT=$REPEAT DURATION=$PLAIN_DURATION "$here/bench-plain.sh" >"$OUT/plain.txt" 2>"$OUT/plain.err" \
    || echo "[matrix] plain failed: see $OUT/plain.err" >&2
cat "$OUT/plain.txt"
