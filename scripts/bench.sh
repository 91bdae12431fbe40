#!/usr/bin/env bash
# scripts/bench.sh: the one command for the benchmarks (issue 4).
#
#   scripts/bench.sh            full run (3-4 minutes here, ten at most): builds release,
#                               runs libsnowrt, BEAM and CAF side by side and
#                               writes bench/results/<date>.md and .png
#   scripts/bench.sh --quick    under a minute; prints the table and writes it
#                               under build/release/bench-run/ (not results/);
#                               judges nothing: exits 0 when the libsnowrt
#                               programs built and ran (CI calls this)
#
# Options: --no-build (use the binaries already built; SNOW_BENCH_BUILD_DIR
# names a build tree other than build/release), --only=snowrt,beam,caf
# (systems to run), --no-dist (skip the distribution scenarios and their TCP floor).
# A peer that is not installed is skipped with a note: BEAM needs erl/erlc
# (apt: erlang-nox), CAF needs libcaf-dev, the chart needs gnuplot
# (gnuplot-nox), the report needs python3; taskset (util-linux) pins the
# distribution runs to CPU0.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=0
BUILD=1
ONLY="snowrt,beam,caf"
DIST=1
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    --full) QUICK=0 ;;
    --no-build) BUILD=0 ;;
    --only=*) ONLY="${a#--only=}" ;;
    --no-dist) DIST=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
[ -n "${SNOW_BENCH_QUICK:-}" ] && [ "${SNOW_BENCH_QUICK}" != "0" ] && QUICK=1

want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# pin_for MODE WHAT: sets PIN to the command prefix for a distribution mode
# (empty unpinned, `taskset -c 0` pinned); returns 1 (and notes it) when
# pinning is asked for but taskset is missing, so the caller skips WHAT.
pin_for() {
  PIN=()
  [ "$1" = pinned ] || return 0
  if command -v taskset > /dev/null; then
    PIN=(taskset -c 0)
    return 0
  fi
  echo "NOTE taskset not installed (util-linux): the CPU0 $2 is skipped" >> "$RAW"
  return 1
}

DATE=$(date +%F)
# SNOW_BENCH_BUILD_DIR: use binaries from another build tree (with --no-build).
BUILD_DIR="${SNOW_BENCH_BUILD_DIR:-$ROOT/build/release}"
WORK="$BUILD_DIR/bench-run"
mkdir -p "$WORK"
RAW="$WORK/raw.txt"
LOG="$WORK/programs.log"
: > "$RAW"
: > "$LOG"
if [ "$QUICK" = 1 ]; then
  MODEFLAG=--quick; EMODE=quick; TICK=1; TMO=120
  OUT_MD="$WORK/quick-$DATE.md"; OUT_PNG="$WORK/quick-$DATE.png"
else
  MODEFLAG=--full; EMODE=full; TICK=4; TMO=600
  mkdir -p "$ROOT/bench/results"
  OUT_MD="$ROOT/bench/results/$DATE.md"; OUT_PNG="$ROOT/bench/results/$DATE.png"
fi
START=$(date +%s)
FAIL=0
# A port mapper started by this run (by erl or by a libsnowrt node) is
# stopped at the end; one that was already running is left alone.
EPMD_WAS_UP=0
if command -v epmd > /dev/null && epmd -names > /dev/null 2>&1; then EPMD_WAS_UP=1; fi

say() { echo "bench: $*" >&2; }
skip() { # skip SYSTEM WHY TEXT...
  local sys=$1 why=$2; shift 2
  echo "SKIP system=$sys why=$why $*" >> "$RAW"
  say "skipping $sys: $*"
}

# run SYSTEM PROGRAM MODE CMD...: runs one bench program with a time limit;
# its RESULT/INFO/NOTE lines go to the raw file, everything else to the log.
run() {
  local sys=$1 prog=$2 mode=$3; shift 3
  say "running $sys $prog${mode:+ ($mode)}"
  local t0 t1 rc out
  out="$WORK/out.$$.txt"
  t0=$(date +%s.%N)
  timeout -k 10 "$TMO" "$@" > "$out" 2>> "$LOG"
  rc=$?
  t1=$(date +%s.%N)
  { echo "== $sys $prog $mode rc=$rc"; cat "$out"; } >> "$LOG"
  grep -E '^(RESULT|INFO|NOTE) ' "$out" | while IFS= read -r line; do
    if [ -n "$mode" ] && [[ "$line" == RESULT* ]] && [[ "$line" != *" mode="* ]]; then
      echo "$line mode=$mode"
    else
      echo "$line"
    fi
  done >> "$RAW"
  rm -f "$out"
  printf 'RUN system=%s program=%s mode=%s rc=%s secs=%.1f\n' "$sys" "$prog" "$mode" "$rc" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >> "$RAW"
  [ "$rc" = 124 ] && echo "NOTE $sys $prog${mode:+ ($mode)} hit the ${TMO}s limit" >> "$RAW"
  return $rc
}

# ---------------------------------------------------------------------------
# 1. build (release)

SNOW_OK=0
PEER_BIN=""
if [ "$BUILD" = 1 ]; then
  say "building release (cmake --preset release && cmake --build --preset release)"
  if { cmake --preset release && cmake --build --preset release; } > "$WORK/build.log" 2>&1; then
    SNOW_OK=1
    PEER_BIN="$BUILD_DIR/bench"
  else
    say "WARNING: the release build failed (see $WORK/build.log):"
    grep -E -m 5 'error|FAILED' "$WORK/build.log" >&2
    # Something outside the bench may be what fails: build just the bench
    # programs (and the library) so that the figures still come out.
    BENCH_TARGETS=(snow_bench_local snow_bench_fanout snow_bench_idle snow_bench_gc snow_bench_dist snow_bench_sigat
                   snow_bench_tcp_floor)
    grep -q snow_bench_caf "$BUILD_DIR/build.ninja" 2> /dev/null && BENCH_TARGETS+=(snow_bench_caf)
    if cmake --build --preset release --target "${BENCH_TARGETS[@]}" >> "$WORK/build.log" 2>&1; then
      SNOW_OK=1
      PEER_BIN="$BUILD_DIR/bench"
      echo "NOTE the full release build failed (see build/release/bench-run/build.log); only the bench programs and the library were built for this run" >> "$RAW"
      say "built the bench targets alone"
    else
      say "the bench targets do not build either; building the peers on their own"
      if { cmake -S bench -B "$ROOT/build/bench-peers" -G Ninja -DCMAKE_BUILD_TYPE=Release \
           && cmake --build "$ROOT/build/bench-peers"; } >> "$WORK/build.log" 2>&1; then
        PEER_BIN="$ROOT/build/bench-peers"
      fi
    fi
  fi
else
  PEER_BIN="$BUILD_DIR/bench"
  [ -x "$PEER_BIN/snow_bench_sigat" ] || PEER_BIN="$ROOT/build/bench-peers"
  [ -x "$BUILD_DIR/bench/snow_bench_local" ] && SNOW_OK=1
fi
SIGAT="$PEER_BIN/snow_bench_sigat"
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)
DIRTY=0
[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | head -1)" ] && DIRTY=1
echo "META rev=$REV dirty=$DIRTY" >> "$RAW"

# ---------------------------------------------------------------------------
# 2. libsnowrt

if want snowrt; then
  if [ "$SNOW_OK" = 1 ] && [ -x "$BUILD_DIR/bench/snow_bench_local" ]; then
    B="$BUILD_DIR/bench"
    run snowrt bench_local "" "$B/snow_bench_local" "$MODEFLAG" || FAIL=1
    run snowrt bench_fanout "" "$B/snow_bench_fanout" "$MODEFLAG" || FAIL=1
    run snowrt bench_idle "" "$B/snow_bench_idle" "$MODEFLAG" || FAIL=1
    run snowrt bench_gc "" "$B/snow_bench_gc" "$MODEFLAG" || FAIL=1
  else
    if [ "$BUILD" = 1 ]; then
      skip snowrt build_failed "libsnowrt release build failed (see build/release/bench-run/build.log)"
    else
      skip snowrt not_built "libsnowrt bench programs not built (run without --no-build)"
    fi
    FAIL=1
  fi
  # Distribution: once bench/src/bench_dist.c exists (same scenario ids as
  # the BEAM peer, RESULT lines with mode=), it runs here in both modes.
  if [ "$DIST" = 1 ]; then
    if [ "$SNOW_OK" = 1 ] && [ -x "$BUILD_DIR/bench/snow_bench_dist" ]; then
      for mode in unpinned pinned; do
        pin_for "$mode" "libsnowrt distribution run" || continue
        run snowrt bench_dist "$mode" "${PIN[@]}" "$BUILD_DIR/bench/snow_bench_dist" "$MODEFLAG" \
          "--mode=$mode" "--tick=$TICK" || FAIL=1
      done
    else
      echo "NOTE libsnowrt distribution scenarios: not implemented yet (no bench_dist program)" >> "$RAW"
    fi
  fi
else
  skip snowrt disabled "libsnowrt not selected (--only)"
fi

# ---------------------------------------------------------------------------
# 2b. raw TCP floor: two C processes echoing 16 bytes over 127.0.0.1, the
# lowest remote round trip any runtime could reach here. A reference shown
# under the distribution table (never a peer); like a peer, a failure is a
# note, not a failed run. Same placements as the distribution runs.

if [ "$DIST" = 1 ] && { want snowrt || want beam; }; then
  FLOOR="$PEER_BIN/snow_bench_tcp_floor"
  if [ -n "$PEER_BIN" ] && [ -x "$FLOOR" ]; then
    for mode in unpinned pinned; do
      pin_for "$mode" "raw TCP floor" || continue
      run floor tcp_floor "$mode" "${PIN[@]}" "$FLOOR" "$MODEFLAG" "--mode=$mode"
    done
  else
    echo "NOTE the raw TCP floor (bench/tools/tcp_floor.c) was not built: no floor under the distribution table" >> "$RAW"
  fi
fi

# ---------------------------------------------------------------------------
# 3. BEAM

if want beam; then
  if command -v erl > /dev/null && command -v erlc > /dev/null; then
    EBIN="$WORK/ebin"
    mkdir -p "$EBIN"
    if erlc -o "$EBIN" bench/peers/beam/snow_bench.erl >> "$LOG" 2>&1; then
      ERL=(erl -noshell -noinput -pa "$EBIN")
      run beam local "" "${ERL[@]}" -run snow_bench main local all "$EMODE"
      run beam fanout "" "${ERL[@]}" -run snow_bench main fanout all "$EMODE"
      run beam idle "" "${ERL[@]}" +P 2000000 -run snow_bench main idle "$EMODE"
      run beam gc "" "${ERL[@]}" -run snow_bench main gc all "$EMODE"
      if [ "$DIST" = 1 ]; then
        [ -x "$SIGAT" ] || echo "NOTE the sigat helper was not built: node-loss scenarios skipped" >> "$RAW"
        COOKIE="snowbench$$"
        for mode in unpinned pinned; do
          pin_for "$mode" "BEAM distribution run" || continue
          run beam dist "$mode" "${PIN[@]}" erl -name "snowbench$$${mode:0:1}_a@127.0.0.1" \
            -setcookie "$COOKIE" -connect_all false -kernel net_ticktime "$TICK" \
            -noshell -noinput -pa "$EBIN" \
            -run snow_bench main dist all "$EMODE" "$mode" "$SIGAT"
        done
      fi
    else
      skip beam build_failed "erlc could not compile bench/peers/beam/snow_bench.erl (see $LOG)"
    fi
  else
    skip beam not_installed "erl/erlc not found (apt-get install erlang-nox)"
  fi
else
  skip beam disabled "BEAM not selected (--only)"
fi

# ---------------------------------------------------------------------------
# 4. CAF

if want caf; then
  if [ -n "$PEER_BIN" ] && [ -x "$PEER_BIN/snow_bench_caf" ]; then
    run caf local "" "$PEER_BIN/snow_bench_caf" "$MODEFLAG" all
    run caf idle "" "$PEER_BIN/snow_bench_caf" "$MODEFLAG" idle
  else
    skip caf not_installed "CAF peer not built: libcaf-dev (CAF 0.17) not found"
  fi
else
  skip caf disabled "CAF not selected (--only)"
fi

if [ "$EPMD_WAS_UP" = 0 ] && command -v epmd > /dev/null; then epmd -kill > /dev/null 2>&1 || true; fi

# ---------------------------------------------------------------------------
# 5. report

END=$(date +%s)
echo "NOTE wall time of the whole bench (build included): $((END - START)) s" >> "$RAW"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
if command -v "$PY" > /dev/null; then
  PNGARG=(--png "$OUT_PNG")
  command -v gnuplot > /dev/null || { PNGARG=(); say "gnuplot not installed (gnuplot-nox): no chart"; }
  if "$PY" bench/report.py --raw "$RAW" --md "$OUT_MD" "${PNGARG[@]}" \
       $( [ "$QUICK" = 1 ] && echo --quick ) --date "$DATE" --root "$ROOT"; then
    say "report: $OUT_MD"
  else
    say "report generation failed"; FAIL=1
  fi
  rm -f "${OUT_PNG%.png}.dat" "${OUT_PNG%.png}.gp"
else
  say "python3 not installed: raw results only, in $RAW"
  cat "$RAW"
fi
say "raw lines: $RAW; program output: $LOG"
exit $FAIL
