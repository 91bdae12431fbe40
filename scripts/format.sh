#!/usr/bin/env bash
# Formats the C and C++ sources git tracks with clang-format 14 and the
# repository's .clang-format (another clang-format version formats some
# constructs differently, so the version is pinned).
#   scripts/format.sh                 rewrite every source in place
#   scripts/format.sh --check         list the sources that differ and fail
#   scripts/format.sh [--check] FILE  only the files named
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi

fmt=""
for candidate in clang-format-14 clang-format; do
  if command -v "$candidate" >/dev/null && "$candidate" --version | grep -q "version 14\."; then
    fmt="$candidate"
    break
  fi
done
if [ -z "$fmt" ]; then
  echo "format: clang-format 14 not found (Debian: clang-format-14; scripts/deps.sh installs it)" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- '*.c' '*.h' '*.cpp')
fi

if [ "$check" -eq 0 ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -r "$fmt" -i --style=file
  exit 0
fi

offending=()
for f in "${files[@]}"; do
  if ! "$fmt" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
    offending+=("$f")
  fi
done
if [ ${#offending[@]} -gt 0 ]; then
  echo "format: ${#offending[@]} file(s) differ from .clang-format (run scripts/format.sh):"
  printf '  %s\n' "${offending[@]}"
  exit 1
fi
echo "format: ${#files[@]} file(s) formatted"
