#!/usr/bin/env bash
# libFuzzer targets for the pure parsers in StreamgateCore (Tests/Fuzz).
#
#   scripts/fuzz.sh --list                  the targets
#   scripts/fuzz.sh TARGET SECONDS [ARGS]   build if needed, fuzz TARGET for SECONDS; ARGS go
#                                           to libFuzzer (e.g. -jobs=2, -max_len=65536)
#   scripts/fuzz.sh --smoke [SECONDS]       every target, one after another, SECONDS each
#                                           (default 20): the CI pass
#   scripts/fuzz.sh --build                 only build the targets
#
# The targets are declared only with STREAMGATE_FUZZ=1 and built in release with
# --sanitize=fuzzer --sanitize=address in their own build dir (.build-fuzz), so the normal
# build and its cache are untouched. The first build takes a few minutes.
# Each run fuzzes a copy of Tests/Fuzz/corpus/TARGET kept in .build-fuzz/runs/TARGET/corpus
# (new inputs go there and are reused by later runs, never into the repository), with the
# target's dictionary from Tests/Fuzz/dict. A crash or broken invariant exits non-zero and
# prints where its input was saved and how to reproduce and minimise it.
# Needs only the Swift toolchain (libFuzzer and ASan ship with it on Linux); installs nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

scratch="$root/.build-fuzz"
# name  product  dictionary
targets=(
    "request-head FuzzRequestHead http"
    "response-head FuzzResponseHead http"
    "chunked-body FuzzChunkedBody chunked"
    "sse-boundary FuzzSSEBoundary sse"
    "path FuzzPathCanonicalizer path"
    "config FuzzConfig toml"
    "session-record FuzzSessionRecord json"
    "proxy-header FuzzProxyHeader proxy"
)

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

lookup() {
    local t
    for t in "${targets[@]}"; do
        read -r name product dict <<<"$t"
        [[ $name == "$1" ]] && return 0
    done
    echo "fuzz.sh: unknown target '$1' (scripts/fuzz.sh --list)" >&2
    exit 2
}

build() {
    # Swift's -sanitize=fuzzer links libFuzzer but does not instrument for coverage by itself;
    # inline 8-bit counters + PC table (+ comparison tracing) is what current libFuzzer reads.
    local product
    for product in "$@"; do
        echo "==> building $product (release, fuzzer + address sanitizers, $scratch)"
        mkdir -p "$scratch"
        if ! STREAMGATE_FUZZ=1 swift build -c release --scratch-path "$scratch" \
            --sanitize=fuzzer --sanitize=address \
            -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
            --product "$product" >"$scratch/build-$product.log" 2>&1; then
            grep -v "Cannot export local symbol" "$scratch/build-$product.log" >&2
            echo "fuzz.sh: build of $product failed" >&2
            return 1
        fi
        tail -1 "$scratch/build-$product.log"
    done
}

run() {  # name seconds [libFuzzer args...]
    local seconds=$2
    lookup "$1"
    shift 2
    [[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "fuzz.sh: SECONDS must be a positive integer" >&2; exit 2; }
    local work="$scratch/runs/$name"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp -n "$root/Tests/Fuzz/corpus/$name/"* "$work/corpus/" 2>/dev/null || true
    rm -f "$work/artifacts/"*
    echo "==> fuzzing $name for ${seconds}s (corpus $work/corpus)"
    local status=0
    # The Swift runtime's own crash reporter would hold the process (and any pipe) open; let
    # libFuzzer report crashes instead.
    SWIFT_BACKTRACE=enable=no \
        "$scratch/release/$product" "$work/corpus" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="$root/Tests/Fuzz/dict/$dict.dict" -artifact_prefix="$work/artifacts/" "$@" </dev/null || status=$?
    if [[ $status -ne 0 ]]; then
        local found
        found=$(ls -t "$work/artifacts/" 2>/dev/null | head -1)
        echo "fuzz.sh: $name FAILED (libFuzzer exit $status)" >&2
        if [[ -n $found ]]; then
            echo "fuzz.sh: input: $work/artifacts/$found" >&2
            echo "fuzz.sh: reproduce: SWIFT_BACKTRACE=enable=no $scratch/release/$product $work/artifacts/$found" >&2
            echo "fuzz.sh: minimise:  SWIFT_BACKTRACE=enable=no $scratch/release/$product -minimize_crash=1 -runs=100000 -exact_artifact_path=$work/artifacts/minimized $work/artifacts/$found" >&2
        fi
        return 1
    fi
    echo "==> $name: no crash in ${seconds}s"
}

case "${1:-}" in
    --list)
        for t in "${targets[@]}"; do read -r name product dict <<<"$t"; echo "$name ($product)"; done
        ;;
    --build)
        products=()
        for t in "${targets[@]}"; do read -r name product dict <<<"$t"; products+=("$product"); done
        build "${products[@]}"
        ;;
    --smoke)
        seconds=${2:-20}
        products=()
        for t in "${targets[@]}"; do read -r name product dict <<<"$t"; products+=("$product"); done
        build "${products[@]}"
        failed=()
        for t in "${targets[@]}"; do
            read -r n _ _ <<<"$t"
            run "$n" "$seconds" || failed+=("$n")
        done
        if [[ ${#failed[@]} -gt 0 ]]; then
            echo "fuzz.sh: smoke pass FAILED: ${failed[*]}" >&2
            exit 1
        fi
        echo "fuzz.sh: smoke pass: ${#targets[@]} targets, ${seconds}s each, no crash"
        ;;
    ""|-h|--help)
        usage
        ;;
    *)
        [[ $# -ge 2 ]] || { usage >&2; exit 2; }
        lookup "$1"
        build "$product"
        run "$@"
        ;;
esac
