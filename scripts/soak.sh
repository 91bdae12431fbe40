#!/usr/bin/env bash
# scripts/soak.sh [minutes]: the soak of issue 9 (default 10 minutes).
#
# Builds a preset (SNOW_SOAK_PRESET, default debug) and runs
# tests/dist/soak.py with its snow_node: a survivor node and two snow_node
# victims (plus an erl victim when erl/erlc are installed) with thousands of
# remote links and monitors, in cycles of SIGKILL, SIGSTOP (partition),
# halt, process exit and restart. Every DOWN/EXIT/NODEDOWN the survivor must
# get is checked to arrive exactly once with the right reason, and the
# survivor's RSS and descriptor count are printed per cycle and must
# plateau (the definition is in the header of tests/dist/soak.py; under a
# sanitizer preset the curve is printed, not judged). Exits 1 on failure.
#
# Environment: SNOW_SOAK_PRESET (debug, release, asan, tsan),
# SNOW_SOAK_LINKS (links and monitors each way per victim, default 2000),
# SNOW_SOAK_TICK_MS (tick time, default 1500), SNOW_SOAK_ERL=0 (no erl).
# On this shared machine wrap it in `flock /tmp/snowrt-dist.lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
preset="${SNOW_SOAK_PRESET:-debug}"
scripts/deps.sh >/dev/null
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target snow_node
case "$preset" in
  asan) export SNOW_TEST_TIMEOUT_SCALE="${SNOW_TEST_TIMEOUT_SCALE:-4}" ;;
  tsan) export SNOW_TEST_TIMEOUT_SCALE="${SNOW_TEST_TIMEOUT_SCALE:-8}" ;;
esac
python3 tests/dist/soak.py "build/$preset/tests/dist/snow_node" "$minutes" &
soak=$!
# The driver stops every node it started (by pid) when it gets a signal.
trap 'kill -TERM "$soak" 2>/dev/null || true; wait "$soak" 2>/dev/null || true' INT TERM HUP
wait "$soak"
