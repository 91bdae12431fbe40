#!/usr/bin/env bash
# Installs the Debian 12 packages libsnowrt needs to build, test and bench,
# skipping those already installed. Needs root (or sudo) only when something
# is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libmimalloc-dev catch2 libboost-context-dev libssl-dev
  erlang-nox clang clang-format-14 llvm python3 python3-venv python3-setuptools python3-wheel python3-pip libclang-rt-14-dev
  libcaf-dev gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: everything is installed"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
