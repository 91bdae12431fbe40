#!/usr/bin/env bash
# README command 2: build and run the whole test suite.
#   scripts/test.sh            debug build, every test
#   scripts/test.sh asan|tsan  the same suite under a sanitizer
# Extra arguments go to ctest (e.g. -R abi_exits).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-debug}"
[ $# -gt 0 ] && shift
scripts/deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
case "$preset" in
  asan) export SNOW_TEST_TIMEOUT_SCALE=4 SNOW_TEST_SCALE=0.2 ;;
  tsan) export SNOW_TEST_TIMEOUT_SCALE=8 SNOW_TEST_SCALE=0.05 ;;
esac
ctest --preset "$preset" -j2 "$@"
