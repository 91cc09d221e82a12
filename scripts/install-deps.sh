#!/usr/bin/env bash
# Installs the system packages streamgate needs to build and test (Debian/Ubuntu).
#
#   scripts/install-deps.sh                 build + test packages
#   scripts/install-deps.sh --with-browser  also chromium (the browser EventSource test)
#   STREAMGATE_WITH_BROWSER=1 scripts/install-deps.sh   same as --with-browser
#
# Idempotent: when every package is already installed (dpkg -s), apt is not touched at all,
# so a repeat run takes milliseconds. Runs apt as root, or through sudo when available.
set -euo pipefail

with_browser="${STREAMGATE_WITH_BROWSER:-0}"
for arg in "$@"; do
    case "$arg" in
        --with-browser) with_browser=1 ;;
        --without-browser) with_browser=0 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "install-deps.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

# nginx: the path-canonicalisation tests use it as an upstream that resolves paths itself.
# redis-tools (redis-cli, also pulled in by redis-server): the tests and quickstart.sh use it.
# curl: quickstart.sh prints curl commands, and Debian 12's minimal images lack it.
# python3-prometheus-client: the /metrics test reads the output with its reference parser.
# openssl, python3: the TLS tests make their certificates with the openssl command and use
# Python's ssl module as an independent client.
packages=(libevent-dev libhiredis-dev libssl-dev redis-server redis-tools pkg-config curl nginx python3-prometheus-client openssl python3)
# Debian names the browser package `chromium` (Ubuntu: a snap shim `chromium-browser`).
[[ "$with_browser" == 1 ]] && packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
    # `dpkg -s` also succeeds for removed-but-configured packages: check the status line.
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all present (${packages[*]})"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]}, and apt-get is not available." >&2
    echo "install-deps: install libevent (core/extra/openssl/pthreads), hiredis, OpenSSL (library and command), redis-server, redis-cli, pkg-config, curl, nginx, python3 and the Python prometheus_client by hand." >&2
    exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "install-deps: missing ${missing[*]}; run as root or install sudo." >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages with services (nginx, redis-server) must not start them: tests and demos run their
# own instances on free ports. policy-rc.d answering 101 is Debian's switch for that.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
