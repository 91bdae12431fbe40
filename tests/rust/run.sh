#!/usr/bin/env bash
# tests/rust/run.sh <cargo> <build dir> <source dir>
#
# The Rust crates of abi/bindings/rust used the way docs/using.md ("Rust")
# says, against this build installed into a prefix inside the build
# directory, offline, with every cargo target directory under
# <build dir>/rust-target (one per variant, so that no run invalidates
# another's build). The page's own cargo commands run as they are written
# in docs_using (tests/docs): `cargo test` of both crates through
# pkg-config (unit tests, tests/processes.rs, tests/remote_down.rs: a
# second node as a second OS process, DOWN when its process exits, DOWN
# noconnection when it is killed; doc tests). Here, beyond them:
#   1. libdir: the library found through SNOWRT_LIB_DIR with pkg-config made
#      unusable;
#   2. static: the `static` feature (snowrt-static.pc); the test programs
#      must not need libsnowrt.so;
#   3. editions: a copy of the crates per edition (2021, and 2024 when cargo
#      has it: 1.85 or later), checked with `cargo clippy -- -D warnings`
#      (`cargo check` with RUSTFLAGS=-D warnings without clippy), so an
#      unsafe operation outside an unsafe block (E0133 under 2024) fails;
#   4. rustdoc with -D warnings;
#   5. the program of docs/using.md ("Rust"), as a project of its own
#      depending on the crate by path, builds with -D warnings (it is not
#      run: it starts a node of a fixed name).
# Prints "rust crates ok" at the end.
set -euo pipefail
cargo=$(command -v "$1")
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
crates="$src/abi/bindings/rust"
targets="$build/rust-target"
prefix="$build/rust-prefix"

# cargo finds rustc, rustdoc and clippy-driver next to itself.
export PATH="$(dirname "$cargo"):$PATH"
export CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never
unset RUSTFLAGS RUSTDOCFLAGS SNOWRT_LIB_DIR SNOWRT_STATIC PKG_CONFIG_LIBDIR LD_LIBRARY_PATH
echo "toolchain: $("$cargo" --version), $(rustc --version)"

cmake --install "$build" --prefix "$prefix" > "$build/rust-install.log"
libdir=$(dirname "$(find "$prefix" -name libsnowrt.so -print -quit)")
pcdir="$libdir/pkgconfig"
cd "$crates"

step() { echo "== $*"; }

step "1. shared, through SNOWRT_LIB_DIR"
SNOWRT_LIB_DIR="$libdir" PKG_CONFIG=/bin/false LD_LIBRARY_PATH="$libdir" CARGO_TARGET_DIR="$targets/libdir" \
  "$cargo" test --offline --locked -p snowrt --test processes

step "2. static: cargo test -p snowrt --features static"
PKG_CONFIG_PATH="$pcdir" CARGO_TARGET_DIR="$targets/static" \
  "$cargo" test --offline --locked -p snowrt --features static
for program in "$targets"/static/debug/deps/processes-* "$targets"/static/debug/deps/remote_down-*; do
  [ -x "$program" ] || continue
  if ldd "$program" | grep -q libsnowrt; then
    echo "FAIL static: $program needs libsnowrt.so"
    exit 1
  fi
done

editions=(2021)
cargo_minor=$("$cargo" --version | sed -n 's/^cargo 1\.\([0-9]*\).*/\1/p')
if [ "${cargo_minor:-0}" -ge 85 ]; then
  editions+=(2024)
else
  echo "SKIP edition 2024: $("$cargo" --version) predates it (needs cargo 1.85; scripts/deps.sh explains)"
fi
if "$cargo" clippy --version > /dev/null 2>&1; then
  lint=(clippy --all-targets --offline --locked -- -D warnings)
else
  echo "(no cargo clippy: the edition checks use cargo check with RUSTFLAGS=-D warnings)"
  lint=(check --all-targets --offline --locked)
  export RUSTFLAGS="-D warnings"
fi
for edition in "${editions[@]}"; do
  step "3. edition $edition: cargo ${lint[*]}"
  copy="$targets/edition-$edition/src"
  rm -rf "$copy"
  mkdir -p "$copy"
  cp -r Cargo.toml Cargo.lock snowrt-sys snowrt "$copy/"
  # The 2024 edition needs rust-version 1.85 or later in the manifest.
  sed -i -e "s/^edition = \".*\"/edition = \"$edition\"/" \
    -e "s/^rust-version = \".*\"/rust-version = \"$([ "$edition" = 2024 ] && echo 1.85 || echo 1.63)\"/" \
    "$copy"/snowrt-sys/Cargo.toml "$copy"/snowrt/Cargo.toml
  grep -q "edition = \"$edition\"" "$copy/snowrt/Cargo.toml"
  (cd "$copy" && PKG_CONFIG_PATH="$pcdir" CARGO_TARGET_DIR="$targets/edition-$edition/target" "$cargo" "${lint[@]}")
done
unset RUSTFLAGS

step "4. rustdoc, -D warnings"
PKG_CONFIG_PATH="$pcdir" RUSTDOCFLAGS="-D warnings" CARGO_TARGET_DIR="$targets/shared" \
  "$cargo" doc --offline --locked --no-deps
step "5. the program in docs/using.md builds"
example="$targets/docs-example"
mkdir -p "$example/src"
rm -f "$example/Cargo.lock"  # generated: written by whichever cargo ran last
awk '/^## Rust/ { in_section = 1 } /^## / && !/^## Rust/ { in_section = 0 }
     in_section && /^```rust/ { in_code = 1; next } in_code && /^```/ { exit } in_code { print }' \
  "$src/docs/using.md" > "$example/src/main.rs"
grep -q "fn main" "$example/src/main.rs"
cat > "$example/Cargo.toml" <<TOML
[package]
name = "docs-example"
version = "0.1.0"
edition = "2021"

[dependencies]
snowrt = { path = "$crates/snowrt" }

[workspace]
TOML
(cd "$example" && PKG_CONFIG_PATH="$pcdir" RUSTFLAGS="-D warnings" CARGO_TARGET_DIR="$targets/docs-example/target" \
  "$cargo" build --offline)
echo "rust crates ok"
