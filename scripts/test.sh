#!/usr/bin/env bash
# The test command: README and CI run exactly this.
#
#   scripts/test.sh                       deps (chromium included, for the browser test),
#                                         strict build (warnings are errors), all tests
#   scripts/test.sh --without-browser     do not install chromium (the browser test then fails)
#   scripts/test.sh --skip-deps           do not check system packages
#   scripts/test.sh --filter CLITests     anything else is passed to `swift test`
#
# Works from any directory; exits non-zero when the build or any test fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

deps_args=()
skip_deps=0
test_args=()
for arg in "$@"; do
    case "$arg" in
        --with-browser|--without-browser) deps_args+=("$arg") ;;
        --skip-deps) skip_deps=1 ;;
        *) test_args+=("$arg") ;;
    esac
done

# The browser (EventSource) test needs chromium: installed unless told otherwise.
[[ ${#deps_args[@]} -eq 0 ]] && deps_args=(--with-browser)

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

if [[ $skip_deps == 0 ]]; then
    "$root/scripts/install-deps.sh" ${deps_args[@]+"${deps_args[@]}"}
fi

echo "==> swift build --build-tests (STREAMGATE_STRICT=1: warnings are errors)"
STREAMGATE_STRICT=1 swift build --build-tests

echo "==> swift test --skip-build ${test_args[*]-}"
# Same STREAMGATE_STRICT value as the build: SwiftPM must not see a changed manifest context.
STREAMGATE_STRICT=1 swift test --skip-build ${test_args[@]+"${test_args[@]}"}
