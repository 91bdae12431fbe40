#!/usr/bin/env bash
# tests/consumer/run.sh <build dir> <source dir> [fast]
#
# Uses libsnowrt the way another project would (docs/using.md): installs
# the build into a scratch prefix, then builds tests/consumer/project and
# runs its programs with
#   1. find_package(snowrt), shared and static;
#   2. pkg-config, beyond the page's own commands (those run as they are
#      written in docs_using, tests/docs): the static program must not need
#      libsnowrt.so, the C++ program links statically, and
#      `pkg-config --static snowrt` serves a link line that picks the
#      archive;
#   3. add_subdirectory of the source tree (shared) and FetchContent of it
#      (static), which build the library inside the consumer's build
#      (skipped with "fast").
# Every program must print its checked line and exit 0; the consumer forks
# two nodes and checks a DOWN across them. Prints "consumer ok" at the end.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
mode="${3:-full}"
project="$src/tests/consumer/project"
scratch=$(mktemp -d /tmp/snow-consumer.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
prefix="$scratch/prefix"

cmake --install "$build" --prefix "$prefix" > "$scratch/install.log"
libdir=$(dirname "$(find "$prefix" -name 'libsnowrt.so' | head -1)")

expect() {  # expect <what> <program...>: runs it, checks its lines
  local what="$1"
  shift
  local out
  if ! out=$("$@" 2>&1); then
    echo "FAIL $what: $* exited with an error:"
    echo "$out"
    exit 1
  fi
  case "$(basename "${@: -1}")" in
    consumer_main* | pc_main) grep -q "consumer: snow_main ran" <<< "$out" || { echo "FAIL $what: $out"; exit 1; } ;;
    *) grep -qE 'consumer: DOWN from the process on the other node: error "[^"]*told to crash"' <<< "$out" ||
         { echo "FAIL $what: $out"; exit 1; } ;;
  esac
  echo "ok   $what"
}

# 1. The CMake package, shared and static.
for link in shared static; do
  b="$scratch/pkg-$link"
  cmake -S "$project" -B "$b" -G Ninja -DSNOWRT_FROM=package -DSNOWRT_LINK=$link \
    -DCMAKE_PREFIX_PATH="$prefix" > "$b.log" 2>&1 || { cat "$b.log"; exit 1; }
  cmake --build "$b" >> "$b.log" 2>&1 || { cat "$b.log"; exit 1; }
  for p in consumer_c consumer_cpp consumer_main; do
    expect "find_package, $link, $p" env LD_LIBRARY_PATH="$libdir" "$b/$p"
  done
  if [ $link = static ] && ldd "$b/consumer_c" | grep -q libsnowrt; then
    echo "FAIL find_package, static: consumer_c still needs libsnowrt.so"
    exit 1
  fi
done

# 2. pkg-config.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion snowrt)" = "$(pkg-config --modversion snowrt-static)" ]
cc -std=c11 -Wall -Wextra -Werror "$project/consumer.c" -o "$scratch/pc_static" \
  $(pkg-config --cflags --libs snowrt-static)
expect "pkg-config snowrt-static" "$scratch/pc_static"
c++ -std=c++17 -Wall -Wextra -Werror "$project/consumer.cpp" -I"$project" -o "$scratch/pc_static_cpp" \
  $(pkg-config --cflags --libs snowrt-static)
expect "pkg-config snowrt-static, C++" "$scratch/pc_static_cpp"
# --static lists what libsnowrt.a needs, for a link line that picks the archive.
cc -std=c11 "$project/consumer.c" -o "$scratch/pc_static_flag" $(pkg-config --cflags --libs-only-L snowrt) \
  -Wl,-Bstatic -lsnowrt -Wl,-Bdynamic $(pkg-config --static --libs-only-l snowrt | sed 's/-lsnowrt\b//')
expect "pkg-config --static snowrt" "$scratch/pc_static_flag"
if ldd "$scratch/pc_static" | grep -q libsnowrt; then
  echo "FAIL pkg-config snowrt-static: the program still needs libsnowrt.so"
  exit 1
fi

# 3. The source tree inside another build.
if [ "$mode" != fast ]; then
  for from in subdirectory:shared fetchcontent:static; do
    b="$scratch/${from%%:*}"
    cmake -S "$project" -B "$b" -G Ninja -DSNOWRT_FROM="${from%%:*}" -DSNOWRT_LINK="${from##*:}" \
      -DSNOWRT_SOURCE_DIR="$src" > "$b.log" 2>&1 || { cat "$b.log"; exit 1; }
    cmake --build "$b" --target consumer_c consumer_main >> "$b.log" 2>&1 || { tail -50 "$b.log"; exit 1; }
    expect "${from%%:*} (${from##*:}), consumer_c" "$b/consumer_c"
    expect "${from%%:*} (${from##*:}), consumer_main" "$b/consumer_main"
  done
fi
echo "consumer ok"
