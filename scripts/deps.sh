#!/usr/bin/env bash
# Installs the Debian 12 packages libsnowrt needs to build, test and bench,
# skipping those already installed. Needs root (or sudo) only when something
# is missing. (openssl: the TLS tests make their certificates with it;
# erlang-nox brings erlang-ssl, which erl -proto_dist inet_tls needs.)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libmimalloc-dev catch2 libboost-context-dev libssl-dev
  openssl erlang-nox clang clang-format-14 llvm python3 python3-venv python3-setuptools python3-wheel python3-pip libclang-rt-14-dev
  libcaf-dev gnuplot-nox
)

# Rust (ctest rust_crates, ffi_rust*): rustup's toolchain in ~/.cargo/bin
# when there is one (CMake looks there too), else any cargo on PATH, else
# Debian's cargo. Debian 12's is cargo 0.66 / rustc 1.63: the crates build
# and test with it, but it has no 2024 edition, so those checks are skipped.
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin/cargo"
if [ -x "$cargo_bin" ]; then
  echo "deps: Rust toolchain: $("$cargo_bin" --version) in $(dirname "$cargo_bin")"
elif command -v cargo > /dev/null; then
  echo "deps: Rust toolchain: $(cargo --version) on PATH"
else
  echo "deps: no cargo: installing Debian's (no 2024 edition: the tests skip its checks; rustup gives a newer one)"
  packages+=(cargo)
fi

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
