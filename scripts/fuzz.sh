#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`, see tests/fuzz/CMakeLists.txt)
# and runs each for a while from its checked-in seed corpus.
#   scripts/fuzz.sh              every target, 30 s each
#   scripts/fuzz.sh 600          every target, 10 minutes each
#   scripts/fuzz.sh 60 fuzz_etf  only the targets named
# Any crash, sanitizer report, leak, slow input (-timeout) or memory past the
# limits (-rss_limit_mb for the process, -malloc_limit_mb for one block) is
# a finding: the script prints the report and the reproducer's path and
# exits 1. Seeds are copied to a scratch directory, so the inputs libFuzzer
# adds never land in the repository; the scratch directory is removed when
# every target passes. Reproduce a finding with
#   build/fuzz/tests/fuzz/<target> <artifact>
# and add the input to tests/fuzz/corpus/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
[ $# -gt 0 ] && shift

# Limits: a decoder must use memory proportional to its input, and inputs
# are at most tens of KB (libFuzzer's -max_len defaults to the largest
# seed). A gigabyte for the process (ASan's quarantine alone may hold 256
# MB) or 64 MB in one block means amplification, and so does an input that
# takes 10 s: the tree decoder of issue 9 went past both limits on the seeds
# finding4_*. Targets also bound their own decoding steps with HeapMeter
# (tests/fuzz/fuzz_util.h).
rss_limit_mb=1024
malloc_limit_mb=64
timeout_s=10

scripts/deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

bindir=build/fuzz/tests/fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(grep . "$bindir/targets.txt")
fi

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

scratch=$(mktemp -d /tmp/snow-fuzz.XXXXXX)
failed=()
for t in "${targets[@]}"; do
  if [ ! -x "$bindir/$t" ]; then
    echo "fuzz: no target $t (known: $(tr '\n' ' ' < "$bindir/targets.txt"))"
    exit 2
  fi
  work="$scratch/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [ -d "tests/fuzz/corpus/$t" ]; then
    cp -r "tests/fuzz/corpus/$t/." "$work/corpus/"
  fi
  extra=()
  if [ -f "tests/fuzz/$t.options" ]; then
    mapfile -t extra < <(grep -v '^#' "tests/fuzz/$t.options" | grep .)
  fi
  echo "fuzz: $t for ${seconds} s ($(ls "$work/corpus" | wc -l) seeds)"
  if "$bindir/$t" -max_total_time="$seconds" -rss_limit_mb="$rss_limit_mb" -malloc_limit_mb="$malloc_limit_mb" \
      -timeout="$timeout_s" -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${extra[@]}" \
      "$work/corpus" >"$work/log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    echo "fuzz: $t ok, ${execs:-?} executions, corpus $(ls "$work/corpus" | wc -l) inputs"
  else
    echo "fuzz: $t FAILED"
    tail -n 60 "$work/log"
    echo "fuzz: reproducers: $(ls "$work/artifacts")"
    echo "fuzz: log and artifacts kept in $work"
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
rm -rf "$scratch"
echo "fuzz: ${#targets[@]} target(s) passed"
