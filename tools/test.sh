#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, build, run every test.
# The last line says how many tests passed and failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ATTNC_BUILD_DIR:-$root/build}"

"$root/tools/setup.sh"
"$root/tools/build.sh"
cd "$build"
status=0
ctest --output-on-failure -j "$(nproc)" 2>&1 | tee ctest.log || status=$?
summary="$(grep -E 'tests passed, [0-9]+ tests failed out of' ctest.log | tail -1)"
echo "attnc tests: ${summary:-no summary from ctest}"
exit "$status"
