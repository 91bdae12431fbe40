#!/usr/bin/env bash
# scripts/bench.sh: the one command for the benchmarks (issues 4 and 15).
#
#   scripts/bench.sh            full run (20-45 minutes here): builds release,
#                               runs libsnowrt, BEAM and CAF round-robin (5
#                               rounds, every system once per round) and writes
#                               bench/results/<date>.md and .png
#   scripts/bench.sh --quick    2 rounds of far fewer iterations, about 3 minutes
#                               here; prints the table and writes it under
#                               build/release/bench-run/ (not results/); judges
#                               nothing: exits 0 when the libsnowrt programs
#                               built and ran (CI calls this)
#
# Options: --no-build (use the binaries already built; SNOW_BENCH_BUILD_DIR
# names a build tree other than build/release), --only=snowrt,beam,caf
# (systems to run), --no-dist (skip the distribution scenarios and their
# floors), --rounds=N (rounds of the round-robin; default 5, quick 2).
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
ROUNDS=""
TAGS=""
ROUND=""
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    --full) QUICK=0 ;;
    --no-build) BUILD=0 ;;
    --only=*) ONLY="${a#--only=}" ;;
    --no-dist) DIST=0 ;;
    --rounds=*) ROUNDS="${a#--rounds=}" ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
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
  MODEFLAG=--quick; EMODE=quick; TICK=1; TMO=120; ROUNDS=${ROUNDS:-2}
  OUT_MD="$WORK/quick-$DATE.md"; OUT_PNG="$WORK/quick-$DATE.png"
else
  MODEFLAG=--full; EMODE=full; TICK=4; TMO=600; ROUNDS=${ROUNDS:-5}
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
# RESULT lines get mode=MODE (when the program did not print one), round=$ROUND
# and the words of $TAGS (e.g. TAGS="sched=1" run ...).
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
  local tags="${ROUND:+round=$ROUND}${TAGS:+ $TAGS}"
  grep -E '^(RESULT|INFO|NOTE) ' "$out" | while IFS= read -r line; do
    if [[ "$line" == RESULT* ]]; then
      if [ -n "$mode" ] && [[ "$line" != *" mode="* ]]; then line="$line mode=$mode"; fi
      echo "$line${tags:+ $tags}"
    elif [[ "$line" == INFO* ]]; then
      echo "$line${TAGS:+ $TAGS}"
    else
      echo "$line"
    fi
  done >> "$RAW"
  rm -f "$out"
  printf 'RUN system=%s program=%s mode=%s rc=%s secs=%.1f round=%s\n' "$sys" "$prog" "$mode" "$rc" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "${ROUND:-0}" >> "$RAW"
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
                   snow_bench_tcp_floor snow_bench_kill_floor)
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
# 2. the systems, round-robin
#
# On a shared machine one sequential pass can flip a verdict, so every
# system runs once per round (libsnowrt, the TCP floor, BEAM, CAF; the
# order reversed every other round) and the report takes, per row, the
# median of the per-round ratios with their min-max. Every RESULT line
# carries round=N. The SIGSTOP detection (bounded by the tick time, not by
# noise, and seconds per sample) and connection setup run in round 1 only.

DIST_IDS_CORE="dist_pingpong_rtt,dist_send_tput_small,dist_send_tput_1k,dist_monitor_kill_down,dist_monitor_exit_down,dist_link_kill_exit,dist_monitor_pair,dist_link_pair,dist_spawn_monitor"
DIST_IDS_NODELOSS="dist_sigkill_nodedown,dist_monitors_10k_nodeloss,dist_links_10k_nodeloss"
# The scaling table: the local throughput rows at 1, 2 and N schedulers.
SCALING_IDS="spawn_exit_tput_main,spawn_exit_tput_proc,send_tput"
NCPU=$(nproc 2> /dev/null || echo 2)
SCALING_COUNTS="1 2"
[ "$NCPU" -gt 2 ] && SCALING_COUNTS="1 2 $NCPU"
# BEAM's distribution with socket options tuned for throughput (issue 15):
# its best per row is what libsnowrt is compared with.
BEAM_TUNED_OPTS=(-kernel inet_dist_connect_options '[{delay_send,true},{buffer,262144}]'
                 inet_dist_listen_options '[{delay_send,true},{buffer,262144}]')
# CAF's default (4 work-stealing workers on 2 CPUs) and 2 work-sharing
# workers: its best per row.
CAF_CONFIGS=("default" "w2sharing")
caf_args() { case "$1" in w2sharing) echo "--workers=2 --policy=sharing" ;; *) ;; esac; }

# dist_ids ROUND [tuned]: the distribution rows of a round. Round 1 has them
# all; later rounds leave out the tick-bounded SIGSTOP row and connection
# setup, and in quick mode (to stay within about 3 minutes) the node-loss
# rows, which start a fresh node per sample. BEAM's tuned run leaves out
# the SIGSTOP row (socket options do not change tick-bounded detection) and
# in quick mode the node-loss rows.
dist_ids() {
  local ids="$DIST_IDS_CORE"
  if [ "$QUICK" = 0 ] || { [ "$1" = 1 ] && [ "${2:-}" != tuned ]; }; then ids="$ids,$DIST_IDS_NODELOSS"; fi
  if [ "$1" = 1 ] && [ "${2:-}" != tuned ]; then ids="$ids,dist_connect,dist_sigstop_nodedown"; fi
  [ "$1" = 1 ] && [ "${2:-}" = tuned ] && ids="$ids,dist_connect"
  echo "$ids"
}

snowrt_round() { # ROUND
  local r=$1 B="$BUILD_DIR/bench" mode k
  if [ "$SNOW_OK" != 1 ] || [ ! -x "$B/snow_bench_local" ]; then
    [ "$r" = 1 ] || return 0
    if [ "$BUILD" = 1 ]; then
      skip snowrt build_failed "libsnowrt release build failed (see build/release/bench-run/build.log)"
    else
      skip snowrt not_built "libsnowrt bench programs not built (run without --no-build)"
    fi
    FAIL=1
    return 0
  fi
  run snowrt bench_local "" "$B/snow_bench_local" "$MODEFLAG" || FAIL=1
  run snowrt bench_fanout "" "$B/snow_bench_fanout" "$MODEFLAG" || FAIL=1
  run snowrt bench_idle "" "$B/snow_bench_idle" "$MODEFLAG" || FAIL=1
  run snowrt bench_gc "" "$B/snow_bench_gc" "$MODEFLAG" || FAIL=1
  for k in $SCALING_COUNTS; do
    TAGS="sched=$k" run snowrt bench_local_scaling "" env SNOW_SCHEDULERS="$k" "$B/snow_bench_local" \
      "$MODEFLAG" "$SCALING_IDS" || FAIL=1
  done
  [ "$DIST" = 1 ] || return 0
  if [ -x "$B/snow_bench_dist" ]; then
    for mode in unpinned pinned; do
      pin_for "$mode" "libsnowrt distribution run" || continue
      run snowrt bench_dist "$mode" "${PIN[@]}" "$B/snow_bench_dist" "$MODEFLAG" \
        "--mode=$mode" "--tick=$TICK" "$(dist_ids "$r")" || FAIL=1
    done
  else
    [ "$r" = 1 ] && echo "NOTE libsnowrt distribution scenarios: not implemented yet (no bench_dist program)" >> "$RAW"
  fi
}

# The raw TCP floor: two C processes echoing 16 bytes over 127.0.0.1, the
# lowest remote round trip any runtime could reach here. A reference shown
# under the distribution table (never a peer); like a peer, a failure is a
# note, not a failed run. Same placements as the distribution runs.
floor_round() {
  local mode FLOOR="$PEER_BIN/snow_bench_tcp_floor"
  [ "$DIST" = 1 ] && { want snowrt || want beam; } || return 0
  if [ -n "$PEER_BIN" ] && [ -x "$FLOOR" ]; then
    for mode in unpinned pinned; do
      pin_for "$mode" "raw TCP floor" || continue
      run floor tcp_floor "$mode" "${PIN[@]}" "$FLOOR" "$MODEFLAG" "--mode=$mode"
    done
  elif [ "$1" = 1 ]; then
    echo "NOTE the raw TCP floor (bench/tools/tcp_floor.c) was not built: no floor under the distribution table" >> "$RAW"
  fi
}

# The node-loss floor: a plain C process of each victim's size (resident
# bytes and threads, as this round's node-loss rows printed them) SIGKILLed
# -> EOF at its peer; the kernel's share of every node-loss figure.
killfloor_round() { # ROUND
  local r=$1 mode sys size KF="$PEER_BIN/snow_bench_kill_floor"
  [ "$DIST" = 1 ] || return 0
  if [ -z "$PEER_BIN" ] || [ ! -x "$KF" ]; then
    [ "$r" = 1 ] && echo "NOTE the node-loss floor (bench/tools/kill_floor.c) was not built" >> "$RAW"
    return 0
  fi
  for mode in unpinned pinned; do
    pin_for "$mode" "node-loss floor" || continue
    for sys in snowrt beam; do
      # the largest victim of this system, mode and round: "rss threads"
      size=$(awk -v sys="$sys" -v mode="$mode" -v r="$r" '
        $1 == "RESULT" && /victim_rss=/ {
          s = ""; m = ""; rr = ""; rss = 0; th = 1
          for (i = 2; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == "system") s = kv[2]; else if (kv[1] == "mode") m = kv[2]
            else if (kv[1] == "round") rr = kv[2]; else if (kv[1] == "victim_rss") rss = kv[2] + 0
            else if (kv[1] == "victim_threads") th = kv[2] + 0
          }
          if (s == sys && m == mode && rr == r && rss > best) { best = rss; bt = th }
        }
        END { if (best > 0) print best, bt }' "$RAW")
      [ -n "$size" ] || continue
      run killfloor kill_floor "$mode" "${PIN[@]}" "$KF" "$MODEFLAG" "--mode=$mode" \
        "--rss=${size% *}" "--threads=${size#* }" "--for=$sys"
    done
  done
}

beam_round() { # ROUND
  local r=$1 mode opts o
  [ "$BEAM_OK" = 1 ] || return 0
  run beam local "" "${ERL[@]}" -run snow_bench main local all "$EMODE"
  run beam fanout "" "${ERL[@]}" -run snow_bench main fanout all "$EMODE"
  run beam idle "" "${ERL[@]}" +P 2000000 -run snow_bench main idle "$EMODE" plain
  run beam idle_hibernate "" "${ERL[@]}" +P 2000000 -run snow_bench main idle "$EMODE" hibernate
  run beam gc "" "${ERL[@]}" -run snow_bench main gc all "$EMODE"
  [ "$DIST" = 1 ] || return 0
  [ "$r" = 1 ] && [ ! -x "$SIGAT" ] && echo "NOTE the sigat helper was not built: node-loss scenarios skipped" >> "$RAW"
  for mode in unpinned pinned; do
    pin_for "$mode" "BEAM distribution run" || continue
    for opts in default tuned; do
      local tuned=()
      [ "$opts" = tuned ] && tuned=("${BEAM_TUNED_OPTS[@]}")
      o=${opts:0:1}
      run beam "dist_$opts" "$mode" "${PIN[@]}" erl -name "snowbench$$${mode:0:1}${o}${r}_a@127.0.0.1" \
        -setcookie "$COOKIE" -connect_all false -kernel net_ticktime "$TICK" "${tuned[@]}" \
        -noshell -noinput -pa "$EBIN" \
        -run snow_bench main dist "$(dist_ids "$r" "$opts")" "$EMODE" "$mode" "$SIGAT"
    done
  done
}

caf_round() {
  local c
  [ "$CAF_OK" = 1 ] || return 0
  for c in "${CAF_CONFIGS[@]}"; do
    # shellcheck disable=SC2046 # caf_args prints separate words
    TAGS="config=$c" run caf "local_$c" "" "$PEER_BIN/snow_bench_caf" "$MODEFLAG" $(caf_args "$c") all
    # shellcheck disable=SC2046
    TAGS="config=$c" run caf "idle_$c" "" "$PEER_BIN/snow_bench_caf" "$MODEFLAG" $(caf_args "$c") idle
  done
}

want snowrt || skip snowrt disabled "libsnowrt not selected (--only)"

BEAM_OK=0
if want beam; then
  if command -v erl > /dev/null && command -v erlc > /dev/null; then
    EBIN="$WORK/ebin"
    mkdir -p "$EBIN"
    if erlc -o "$EBIN" bench/peers/beam/snow_bench.erl >> "$LOG" 2>&1; then
      BEAM_OK=1
      ERL=(erl -noshell -noinput -pa "$EBIN")
      COOKIE="snowbench$$"
    else
      skip beam build_failed "erlc could not compile bench/peers/beam/snow_bench.erl (see $LOG)"
    fi
  else
    skip beam not_installed "erl/erlc not found (apt-get install erlang-nox)"
  fi
else
  skip beam disabled "BEAM not selected (--only)"
fi

CAF_OK=0
if want caf; then
  if [ -n "$PEER_BIN" ] && [ -x "$PEER_BIN/snow_bench_caf" ]; then
    CAF_OK=1
  else
    skip caf not_installed "CAF peer not built: libcaf-dev (CAF 0.17) not found"
  fi
else
  skip caf disabled "CAF not selected (--only)"
fi

echo "META rounds=$ROUNDS" >> "$RAW"
for r in $(seq 1 "$ROUNDS"); do
  say "round $r of $ROUNDS"
  ROUND=$r
  if [ $((r % 2)) = 1 ]; then order="snowrt floor beam caf"; else order="caf beam floor snowrt"; fi
  for sys in $order; do
    case $sys in
      snowrt) want snowrt && snowrt_round "$r" ;;
      floor) floor_round "$r" ;;
      beam) want beam && beam_round "$r" ;;
      caf) want caf && caf_round ;;
    esac
  done
  killfloor_round "$r"
done
ROUND=""

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
