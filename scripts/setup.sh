#!/usr/bin/env bash
# README command 1: install what is missing, build (release), run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
echo
echo "== docs/examples/demo.c =="
build/release/docs/examples/snow_demo
