#!/usr/bin/env python3
"""Turns the raw output of a bench run into the dated report.

Usage (scripts/bench.sh calls it):

  report.py --raw RAW --md OUT.md [--png OUT.png] [--quick] [--date D]
            [--root REPO] [--build-log LOG]

RAW holds the lines the bench programs printed, plus the driver's own:

  RESULT system=S scenario=ID median=V p99=V|- unit=ns|per_s|bytes n=N [k=v...]
  RESULT system=S scenario=ID error=WORD [mode=M]
  INFO system=S k=v ...           (versions, scheduler counts)
  NOTE ...                        (free text, copied to the report)
  RUN system=S program=P mode=M rc=RC secs=T
  SKIP system=S why=WORD text...  (a system that did not run, and why)
  META rev=SHORT_SHA dirty=0|1    (the source the driver built)

Rounds (issue 15): scripts/bench.sh runs every system once per round and
tags each RESULT line round=N. A row's ratio is computed per round (our
figure of that round / the best peer's figure of that round); the report
prints the median of those ratios with their min-max and judges targets on
the median. A cell prints the median of a system's per-round figures (with
their min-max when there are several rounds; with the p99 of the one run
otherwise). Raw files without round= count as one round.

Variants of a system, kept apart in the raw data and merged per round by
taking the system's best: BEAM's distribution with default and tuned socket
options (dist_opts=default|tuned; the distribution table shows both), CAF's
default config and 2 work-sharing workers (config=default|w2sharing).
Lines of snowrt with sched=K are the scaling runs (SNOW_SCHEDULERS=K): they
feed the scaling table only.

Lines of system=floor (bench/tools/tcp_floor.c: two C processes echoing
16 bytes over 127.0.0.1, RESULT ... mode=M variant=blocking|busypoll) and of
system=killfloor (bench/tools/kill_floor.c: a plain C process of a node-loss
victim's size SIGKILLed -> EOF, for=snowrt|beam) are references, not
systems: they never enter a ratio, the best peer or the chart, and show
under the distribution table.

The ratio convention (one for every row): ratio = our cost / the best
peer's cost, where cost is the time, the bytes, or for a throughput the time
per item (so ratio = best peer's rate / our rate). Below 1.00x libsnowrt is
better; 0.50x means twice as good. Only the standard library is used.
"""
import argparse
import datetime
import math
import os
import platform
import re
import shutil
import subprocess
import sys

SYSTEMS = ["snowrt", "beam", "caf"]
NAMES = {"snowrt": "libsnowrt", "beam": "BEAM", "caf": "CAF", "floor": "raw TCP floor",
         "beam_tuned": "BEAM tuned", "caf_w2sharing": "CAF 2 sharing"}
# A system's variants (raw system names); per round the best one counts.
VARIANTS = {"snowrt": ["snowrt"], "beam": ["beam", "beam_tuned"], "caf": ["caf", "caf_w2sharing"]}
VARIANT_OF = {"beam": {"dist_opts": {"tuned": "beam_tuned"}}, "caf": {"config": {"w2sharing": "caf_w2sharing"}}}
PEERS = ["beam", "caf"]
# The raw TCP floor under dist_pingpong_rtt: a reference, never a peer.
FLOOR = "floor"
FLOOR_SCENARIO = "dist_pingpong_rtt"
FLOOR_VARIANTS = [("blocking", "blocking"), ("busypoll", "busy-poll")]
# Rows that BEAM also runs with hibernated processes (scenario id + "_hibernated").
HIBERNATED_ROWS = ("idle_spawn_total", "idle_bytes_each")
# The node-loss floor (bench/tools/kill_floor.c): also a reference.
KILLFLOOR = "killfloor"
NODELOSS = ["dist_sigkill_nodedown", "dist_monitors_10k_nodeloss", "dist_links_10k_nodeloss"]
# The scaling table (issue 15): local throughput rows at K schedulers.
SCALING = [("spawn_exit_tput_main", "spawn + run + exit throughput, spawned from main"),
           ("spawn_exit_tput_proc", "spawn + run + exit throughput, spawned from a process"),
           ("send_tput", "one-way send throughput 1 -> 1")]

# Targets from issue 2 ("Speed and memory"). Informational only.
HALF_BEST = ("half_best", "<= 0.5x best peer")
TWICE_BEST = ("half_best", ">= 2x best peer (ratio <= 0.5x)")
HALF_BEAM = ("half_beam", "<= 0.5x BEAM")
IDLE_TIME = ("idle_time", "1M spawned in < 1 s")
IDLE_BYTES = ("idle_bytes", "<= 2.6 KiB (2,662 B) each")
CHECK_NS = ("abs_le_2ns", "<= 2 ns")
# Issue 10: the main thread talks to processes within 2x of what two
# processes cost each other (the row named third).
MAIN_RTT = ("within_2x_of", "<= 2x pingpong_rtt", "pingpong_rtt")
MAIN_CALL = ("within_2x_of", "<= 2x service_call_rtt", "service_call_rtt")

ALL = set(SYSTEMS)
BEAM_SNOW = {"snowrt", "beam"}

# (id, title, unit, systems that express it, target or None, why-it-matters)
LOCAL = [
    ("Spawning", [
        ("spawn_first_instr", "spawn -> first instruction in the child", "ns", BEAM_SNOW, HALF_BEST),
        ("spawn_exit_tput_main", "spawn + run + exit throughput, spawned from main", "per_s",
         {"snowrt", "caf"}, TWICE_BEST),
        ("spawn_exit_tput_proc", "spawn + run + exit throughput, spawned from a process", "per_s", ALL,
         TWICE_BEST),
    ]),
    ("Messages", [
        ("pingpong_rtt", "ping-pong round trip (two spawned processes)", "ns", ALL, HALF_BEST),
        ("main_pingpong_rtt", "ping-pong round trip, main thread <-> spawned process", "ns", {"snowrt"},
         MAIN_RTT),
        ("service_call_rtt", "service call + reply (spawned caller and server)", "ns", {"snowrt"}, None),
        ("main_service_call_rtt", "service call + reply from the main thread", "ns", {"snowrt"}, MAIN_CALL),
        ("send_tput", "one-way send throughput 1 -> 1 (8-byte messages)", "per_s", BEAM_SNOW, None),
    ]),
    ("Monitors and links", [
        ("monitor_kill_down", "monitor: kill target -> DOWN at the monitor", "ns", ALL, HALF_BEST),
        ("monitor_exit_down", "monitor: target exits -> DOWN (one way)", "ns", BEAM_SNOW, None),
        ("link_kill_exit", "link: kill target -> EXIT at the trapping linker", "ns", ALL, HALF_BEST),
        ("link_crash_exit", "link: target crashes -> EXIT (one way)", "ns", BEAM_SNOW, None),
        ("monitor_demonitor_pair", "monitor + demonitor pair", "ns", BEAM_SNOW, HALF_BEAM),
        ("link_unlink_pair", "link + unlink pair", "ns", BEAM_SNOW, HALF_BEAM),
    ]),
    ("Compiled code: the reduction check at every call and back-edge", [
        ("reduction_check_ns", "snow_reduction_check() (out of line, fast path)", "ns", {"snowrt"}, CHECK_NS),
        ("reduction_check_inline_ns", "snow_reduction_check_inline() (snowrt_inline.h)", "ns", {"snowrt"}, None),
    ]),
    ("Idle processes (1M; 100k in quick mode)", [
        ("idle_spawn_total", "spawn until all are parked in receive (whole batch)", "ns", ALL, IDLE_TIME),
        ("idle_bytes_each", "resident bytes per idle process", "bytes", ALL, IDLE_BYTES),
        ("idle_spawn_total_hibernated", "the same against hibernated BEAM processes (erlang:hibernate/3)",
         "ns", BEAM_SNOW, None),
        ("idle_bytes_each_hibernated", "resident bytes per idle process, BEAM hibernated", "bytes", BEAM_SNOW,
         None),
    ]),
    ("Collected heap (issue 11): short-lived 32-byte objects, the last two kept", [
        ("gc_alloc_tput", "allocation throughput in one process, collections included", "per_s", BEAM_SNOW, None),
        ("gc_pause_self", "each collection: pause of the allocating process", "ns", BEAM_SNOW, None),
        ("gc_pause_self_max", "longest such pause", "ns", BEAM_SNOW, None),
        ("gc_pause_pingpong", "ping-pong round trip of an unrelated pair meanwhile", "ns", BEAM_SNOW, None),
        ("gc_pause_pingpong_max", "longest such round trip", "ns", BEAM_SNOW, None),
        ("gc_bytes_after_collect", "heap bytes of a process keeping 512 B after 1 MiB of garbage and a collection",
         "bytes", BEAM_SNOW, None),
        ("gc_scan_stack_ints_per_kib", "a deep stack's cost to a collection, per KiB (frames keep integers)", "ns",
         BEAM_SNOW, None),
        ("gc_scan_stack_refs_per_kib", "the same, each frame keeping a 32-byte object (BEAM: 3x the frames per KiB)",
         "ns", BEAM_SNOW, None),
    ]),
    ("Fan-out: 10,000 observers of one death", [
        ("fanout_monitors_procs", "10k monitoring processes: kill -> last DOWN", "ns", BEAM_SNOW, None),
        ("fanout_monitors_one", "one process holding 10k monitors: kill -> last DOWN", "ns", BEAM_SNOW, None),
        ("fanout_links", "10k trapping linkers: kill -> last EXIT", "ns", BEAM_SNOW, None),
    ]),
]

DIST = [
    ("dist_pingpong_rtt", "remote ping-pong round trip", "ns"),
    ("dist_send_tput_small", "small-message (8-byte binary) throughput 1 -> 1", "per_s"),
    ("dist_send_tput_1k", "1 KiB message throughput 1 -> 1", "per_s"),
    ("dist_monitor_kill_down", "kill remote process -> DOWN back", "ns"),
    ("dist_monitor_exit_down", "remote process exits -> DOWN (one way)", "ns"),
    ("dist_link_kill_exit", "kill remote process -> EXIT back", "ns"),
    ("dist_monitor_pair", "remote monitor + demonitor pair", "ns"),
    ("dist_link_pair", "remote link + unlink pair", "ns"),
    ("dist_spawn_monitor", "remote spawn with monitor -> reply", "ns"),
    ("dist_connect", "connection setup (port mapper + handshake)", "ns"),
    ("dist_sigkill_nodedown", "peer SIGKILLed -> nodedown", "ns"),
    ("dist_sigstop_nodedown", "silent partition (SIGSTOP) -> nodedown", "ns"),
    ("dist_monitors_10k_nodeloss", "10k remote monitors: SIGKILL -> last DOWN noconnection", "ns"),
    ("dist_links_10k_nodeloss", "10k trapping linkers of a remote process: SIGKILL -> last EXIT", "ns"),
]
# Targets for the distribution rows (issues 3 and 15; informational),
# against BEAM's best (default or tuned socket options) per round.
DIST_TARGETS = {
    "dist_pingpong_rtt": ("half_beam_or_floor", "<= 0.5x BEAM or <= 1.5x the TCP floor"),
    "dist_monitor_kill_down": ("half_beam", "<= 0.5x BEAM"),
    "dist_send_tput_small": ("half_beam", ">= 2x BEAM (ratio <= 0.5x)"),
    "dist_send_tput_1k": ("half_beam", ">= 2x BEAM (ratio <= 0.5x)"),
    "dist_monitor_pair": ("half_beam", "<= 0.5x BEAM"),
    "dist_link_pair": ("half_beam", "<= 0.5x BEAM"),
    "dist_sigkill_nodedown": ("abs_lt", "< 1 ms", 1e6),
    "dist_sigstop_nodedown": ("tick", "within 0.75-1.25x tick"),
    "dist_monitors_10k_nodeloss": ("abs_lt", "< 50 ms", 50e6),
    "dist_links_10k_nodeloss": ("abs_lt", "< 50 ms", 50e6),
}
DIST_MODES = [("unpinned", "unpinned"), ("pinned", "both on CPU0")]


# ---------------------------------------------------------------------------
# parsing

def parse_kv(tokens):
    d = {}
    for t in tokens:
        if "=" in t:
            k, v = t.split("=", 1)
            d[k] = v
    return d


def round_of(d):
    try:
        return int(d.get("round", "0") or 0)
    except ValueError:
        return 0


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def figure(d):
    """The median of a RESULT line, or None (error lines, bad lines)."""
    if not d or "error" in d:
        return None
    try:
        return float(d["median"])
    except (KeyError, ValueError):
        return None


class Raw:
    def __init__(self, path):
        # (system, scenario, mode) -> {round: dict}; system is a variant
        # name (beam_tuned, caf_w2sharing, snowrt@K for the scaling runs)
        self.results = {}
        self.floor = {}      # (mode, variant) -> {round: dict}: the raw TCP floor
        self.killfloor = {}  # (mode, for system) -> {round: dict}: the node-loss floor
        self.info = {}     # system -> dict
        self.notes = []
        self.runs = []
        self.skips = {}    # system -> list of (why, text)
        self.meta = {}     # facts the driver recorded at run time (rev, dirty, rounds)
        self.lines = []
        self.rounds = set()
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                word = line.split(" ", 1)[0]
                if word not in ("RESULT", "INFO", "NOTE", "RUN", "SKIP", "META"):
                    continue
                self.lines.append(line)
                toks = line.split()
                if word == "RESULT":
                    self.add_result(parse_kv(toks[1:]))
                elif word == "INFO":
                    d = parse_kv(toks[1:])
                    system = d.get("system", "?")
                    if system == "snowrt" and "sched" in d:
                        continue  # the scaling runs set their own count
                    if system == "caf" and d.get("config", "default") != "default":
                        self.info.setdefault("caf_" + d["config"], d)
                        continue
                    cur = self.info.setdefault(system, {})
                    for k, v in d.items():  # the first (local) run's values win
                        cur.setdefault(k, v)
                elif word == "META":
                    self.meta.update(parse_kv(toks[1:]))
                elif word == "NOTE":
                    self.notes.append(line[5:])
                elif word == "RUN":
                    self.runs.append(parse_kv(toks[1:]))
                elif word == "SKIP":
                    d = parse_kv(toks[1:3])
                    text = line.split(" ", 3)[3] if len(toks) > 3 else ""
                    self.skips.setdefault(d.get("system", "?"), []).append((d.get("why", "skipped"), text))
        if not self.rounds:
            self.rounds = {0}

    @staticmethod
    def keep(table, key, rnd, d):
        per = table.setdefault(key, {})
        # keep a figure over a later error line for the same key and round
        if rnd not in per or "error" in per[rnd]:
            per[rnd] = d

    def add_result(self, d):
        system = d.get("system")
        rnd = round_of(d)
        self.rounds.add(rnd)
        if system == FLOOR:
            self.keep(self.floor, (d.get("mode", ""), d.get("variant", "")), rnd, d)
            return
        if system == KILLFLOOR:
            self.keep(self.killfloor, (d.get("mode", ""), d.get("for", "")), rnd, d)
            return
        if not system or "scenario" not in d:
            return
        if system == "snowrt" and "sched" in d:
            system = "snowrt@" + d["sched"]
        for k, names in VARIANT_OF.get(system, {}).items():
            system = names.get(d.get(k, ""), system)
        self.keep(self.results, (system, d["scenario"], d.get("mode", "")), rnd, d)
        if system == "snowrt" and d["scenario"] in HIBERNATED_ROWS:
            # our idle processes against BEAM's hibernated ones
            self.keep(self.results, (system, d["scenario"] + "_hibernated", d.get("mode", "")), rnd, d)

    def get(self, system, scenario, mode=""):
        """A representative line: the first round's with a figure, else any."""
        per = self.results.get((system, scenario, mode))
        if not per:
            return None
        for r in sorted(per):
            if figure(per[r]) is not None:
                return per[r]
        return per[min(per)]

    def per_round(self, system, scenario, mode=""):
        """{round: figure} of one raw system (a variant)."""
        per = self.results.get((system, scenario, mode), {})
        out = {}
        for r, d in per.items():
            v = figure(d)
            if v is not None:
                out[r] = v
        return out

    def best_per_round(self, system, scenario, unit, mode=""):
        """{round: (cost, variant)}: the system's best variant in each round."""
        out = {}
        for var in VARIANTS.get(system, [system]):
            for r, v in self.per_round(var, scenario, mode).items():
                c = cost(unit, v)
                if c is not None and (r not in out or c < out[r][0]):
                    out[r] = (c, var)
        return out

    def value(self, system, scenario, mode=""):
        """The median over rounds of one raw system's figures."""
        return median(list(self.per_round(system, scenario, mode).values()))

    def floor_per_round(self, mode):
        """{round: the lower of the TCP floor's variants} in one placement."""
        out = {}
        for (m, _v), per in self.floor.items():
            if m != mode:
                continue
            for r, d in per.items():
                v = figure(d)
                if v is not None and (r not in out or v < out[r]):
                    out[r] = v
        return out


# ---------------------------------------------------------------------------
# formatting

def sig3(v):
    """Three significant digits, trailing zeros kept (1.00, 22.7, 702)."""
    a = abs(v)
    if a >= 99.95:
        return "%.0f" % v
    if a >= 9.995:
        return "%.1f" % v
    return "%.2f" % v


def fmt_time(ns):
    if ns < 0:
        return "-" + fmt_time(-ns)
    if ns < 1e3:
        return sig3(ns) + " ns"
    if ns < 1e6:
        return sig3(ns / 1e3) + " us"
    if ns < 1e9:
        return sig3(ns / 1e6) + " ms"
    return sig3(ns / 1e9) + " s"


def fmt_rate(r):
    if r >= 1e6:
        return sig3(r / 1e6) + " M/s"
    if r >= 1e3:
        return sig3(r / 1e3) + " k/s"
    return sig3(r) + " /s"


def fmt_bytes(b):
    return "{:,.0f} B".format(b)


def fmt_value(unit, v):
    if unit == "ns":
        return fmt_time(v)
    if unit == "per_s":
        return fmt_rate(v)
    if unit == "bytes":
        return fmt_bytes(v)
    return sig3(v) + " " + unit


def cost(unit, v):
    """Lower is better for every cost."""
    if v is None or v <= 0:
        return None
    return 1.0 / v if unit == "per_s" else v


SKIP_TEXT = {"not_installed": "not installed", "build_failed": "build failed", "not_built": "not built",
             "disabled": "not run", "no_taskset": "no taskset"}


def fmt_spread(unit, vals):
    """median (min-max) of per-round figures."""
    med = fmt_value(unit, median(vals))
    if len(vals) < 2:
        return med
    lo, hi = min(vals), max(vals)
    return "%s (%s-%s)" % (med, fmt_value(unit, lo), fmt_value(unit, hi))


def cell(raw, system, scenario, unit, mode="", expressed=True, variants=None):
    """A system's figure: the median over rounds of its best variant per
    round (or of the given variants), min-max when several rounds, the p99
    of the one run otherwise."""
    if not expressed:
        return "-"
    names = variants or VARIANTS.get(system, [system])
    lines = [raw.get(v, scenario, mode) for v in names]
    if all(r is None for r in lines):
        for why, _ in raw.skips.get(system, []):
            return SKIP_TEXT.get(why, why.replace("_", " "))
        if variants and any(raw.per_round(v, scenario, m) for v in VARIANTS.get(system, []) for m in ("", mode)):
            return "not run"  # this variant skips the row (bench.sh: dist_ids)
        return "no result"
    best = {}
    for v in names:
        for r, x in raw.per_round(v, scenario, mode).items():
            c = cost(unit, x)
            if c is not None and (r not in best or c < best[r][0]):
                best[r] = (c, v, x)
    if not best:
        r = next(r for r in lines if r is not None)
        if "error" in r:
            if r["error"] == "not_implemented":
                return "not implemented yet"
            return "error: " + r["error"]
        return "bad line"
    vals = [x for _, _, x in best.values()]
    if len(vals) > 1:
        s = fmt_spread(unit, vals)
    else:
        r = raw.get(list(best.values())[0][1], scenario, mode)
        s = fmt_value(unit, vals[0])
        p99 = r.get("p99", "-")
        if p99 not in ("-", "") and r.get("n", "1") != "1":
            try:
                s += " [" + fmt_value(unit, float(p99)) + "]"
            except ValueError:
                pass
    if len(names) > 1:
        won = {}
        for _, v, _ in best.values():
            won[v] = won.get(v, 0) + 1
        if any(v != names[0] for v in won):
            s += " (best: " + ", ".join("%s %d/%d" % (NAMES.get(v, v), k, len(best))
                                        for v, k in sorted(won.items())) + ")"
    for v in names:
        r = raw.get(v, scenario, mode)
        if r and (r.get("mismatched_signals") or r.get("wrong_signals")):
            s += " (wrong signals!)"
            break
    return s


class Ratio:
    """Per-round ratios of one row: median, min, max, and the peer that was
    best in most rounds."""

    def __init__(self, ratios, best_counts):
        self.ratios = ratios
        self.median = median(ratios)
        self.lo = min(ratios)
        self.hi = max(ratios)
        self.peer = max(sorted(best_counts), key=lambda p: best_counts[p])


def ratio_of(raw, scenario, unit, mode="", peers=PEERS, system="snowrt"):
    """The row's Ratio of `system` against the best of `peers`, round by
    round, or None when no round has both."""
    ours = raw.best_per_round(system, scenario, unit, mode)
    theirs = {}
    for p in peers:
        if p == system:
            continue
        for r, (c, _v) in raw.best_per_round(p, scenario, unit, mode).items():
            if r not in theirs or c < theirs[r][0]:
                theirs[r] = (c, p)
    ratios, counts = [], {}
    for r in sorted(set(ours) & set(theirs)):
        ratios.append(ours[r][0] / theirs[r][0])
        counts[theirs[r][1]] = counts.get(theirs[r][1], 0) + 1
    if not ratios:
        return None
    return Ratio(ratios, counts)


def fmt_x(r):
    # three decimals below 1, so that a ratio judged against 0.5 never
    # prints as "0.50x" when it is 0.502
    return ("%.3fx" if r < 1 else "%.2fx") % r


def fmt_ratio(ratio):
    if ratio is None:
        return "-"
    s = "%s (%s)" % (fmt_x(ratio.median), NAMES[ratio.peer])
    if len(ratio.ratios) > 1:
        s += " %s-%s" % (fmt_x(ratio.lo), fmt_x(ratio.hi))
    return s


def verdict(ratio, limit=0.5):
    """met / not met on the median of the per-round ratios."""
    return "met" if ratio.median <= limit else "not met"


def judge(raw, scenario, unit, target, quick):
    """Returns (target text, met text), judged on the median of the
    per-round ratios."""
    if target is None:
        return "", ""
    kind, text = target[0], target[1]
    if kind == "within_2x_of":
        ours, ref = raw.per_round("snowrt", scenario), raw.per_round("snowrt", target[2])
        ratios = [ours[r] / ref[r] for r in sorted(set(ours) & set(ref)) if ref[r] > 0]
        if not ratios:
            return text, "-"
        m = median(ratios)
        return text, "%s (%.2fx)" % ("met" if m <= 2 else "not met", m)
    if kind in ("half_best", "half_beam"):
        peers = PEERS if kind == "half_best" else ["beam"]
        if not any(raw.best_per_round(p, scenario, unit) for p in peers):
            return text, "no peer figure" if kind == "half_best" else "no BEAM figure"
        ratio = ratio_of(raw, scenario, unit, peers=peers)
        return text, "-" if ratio is None else verdict(ratio)
    ours = raw.get("snowrt", scenario)
    v = raw.value("snowrt", scenario)
    if v is None:
        return text, "-"
    count = int(ours.get("count", "0") or 0)
    if kind == "idle_time":
        if count != 1000000:
            return text, "n/a (%s processes in this run)" % "{:,}".format(count)
        return text, "met" if v < 1e9 else "not met"
    if kind == "idle_bytes":
        return text, "met" if v <= 2662.4 else "not met"
    if kind == "abs_le_2ns":
        return text, "met" if v <= 2.0 else "not met"
    return text, ""


def floor_ratio(raw, mode):
    """libsnowrt's remote round trip / the TCP floor (the lower variant) of
    the same placement, per round: a Ratio or None."""
    ours = raw.per_round("snowrt", FLOOR_SCENARIO, mode)
    fl = raw.floor_per_round(mode)
    ratios = [ours[r] / fl[r] for r in sorted(set(ours) & set(fl)) if fl[r] > 0]
    return Ratio(ratios, {FLOOR: 1}) if ratios else None


def judge_dist(raw, sid, unit):
    t = DIST_TARGETS.get(sid)
    if t is None:
        return "", ""
    verdicts = []
    for m, _ in DIST_MODES:
        r = raw.get("snowrt", sid, m)
        v = raw.value("snowrt", sid, m)
        if v is None:
            verdicts.append("-")
            continue
        if t[0] in ("half_beam", "half_beam_or_floor"):
            ratio = ratio_of(raw, sid, unit, m, peers=["beam"])
            ok = ratio is not None and ratio.median <= 0.5
            if t[0] == "half_beam_or_floor":
                fr = floor_ratio(raw, m)
                if fr is not None and fr.median <= 1.5:
                    ok = True
                if ratio is None and fr is None:
                    verdicts.append("-")
                    continue
            elif ratio is None:
                verdicts.append("-")
                continue
            verdicts.append("met" if ok else "not met")
        elif t[0] == "abs_lt":
            verdicts.append("met" if v < t[2] else "not met")
        elif t[0] == "tick":
            try:
                tick_ns = float(r.get("ticktime_s", "0")) * 1e9
                p99 = float(r.get("p99", "nan"))
            except ValueError:
                tick_ns, p99 = 0, float("nan")
            if tick_ns <= 0:
                verdicts.append("-")
            else:
                worst = p99 if p99 == p99 else v
                verdicts.append("met" if 0.75 * tick_ns <= v and worst <= 1.25 * tick_ns else "not met")
    return t[1], " / ".join(verdicts)


# ---------------------------------------------------------------------------
# machine and versions

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def machine_facts():
    facts = []
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    facts.append(("CPU", cpu or platform.processor() or "unknown"))
    facts.append(("cores (online)", str(os.cpu_count())))
    hv = sh("lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p'")
    if hv:
        facts.append(("hypervisor", hv))
    facts.append(("kernel", platform.release()))
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    kb = int(line.split()[1])
                    mem = "%.1f GiB" % (kb / 1024 / 1024)
                    break
    except OSError:
        pass
    facts.append(("memory", mem or "unknown"))
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            facts.append(("vm.max_map_count", f.read().strip()))
    except OSError:
        pass
    osr = sh(". /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\"")
    if osr:
        facts.append(("OS", osr))
    return facts


def versions(raw, root):
    v = []
    v.append(("gcc", sh("gcc --version 2>/dev/null | head -1") or "not found"))
    v.append(("cmake", sh("cmake --version 2>/dev/null | head -1") or "not found"))
    if "rev" in raw.meta:  # recorded by scripts/bench.sh when it built
        commit = raw.meta["rev"] if raw.meta["rev"] != "none" else ""
        dirty = raw.meta.get("dirty", "0") == "1"
    else:
        commit = sh("git -C '%s' rev-parse --short HEAD 2>/dev/null" % root) if root else ""
        dirty = sh("git -C '%s' status --porcelain --untracked-files=no 2>/dev/null | head -1" % root) if root else ""
    v.append(("libsnowrt", (commit or "no commit yet") + (" + uncommitted changes to tracked files" if dirty else "")))
    si = raw.info.get("snowrt")
    if si:
        v.append(("libsnowrt config", "schedulers=%s, ABI %s" % (si.get("schedulers", "?"), si.get("abi", "?"))))
    bi = raw.info.get("beam")
    if bi:
        v.append(("Erlang/OTP", "OTP %s, erts %s, %s schedulers online" % (
            bi.get("otp", "?"), bi.get("erts", "?"), bi.get("schedulers", "?"))))
    else:
        v.append(("Erlang/OTP", "; ".join(t for _, t in raw.skips.get("beam", [])) or "not run"))
    ci = raw.info.get("caf")
    if ci:
        text = "%s, %s workers (default config)" % (ci.get("version", "?"), ci.get("workers", "?"))
        c2 = raw.info.get("caf_w2sharing")
        if c2:
            text += "; also %s workers, policy %s (each row takes CAF's better one per round)" % (
                c2.get("workers", "?"), c2.get("policy", "?"))
        v.append(("CAF", text))
    else:
        v.append(("CAF", "; ".join(t for _, t in raw.skips.get("caf", [])) or "not run"))
    gp = sh("gnuplot --version 2>/dev/null")
    if gp:
        v.append(("gnuplot", gp))
    return v


# ---------------------------------------------------------------------------
# report

def md_table(header, rows, numeric=True):
    align = [("---" if i == 0 or not numeric else "---:") for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    return "\n".join(out)


def reference_cell(per):
    """A reference's figures ({round: dict}): median over rounds, min-max."""
    if not per:
        return "-"
    vals = [v for v in (figure(d) for d in per.values()) if v is not None]
    if not vals:
        d = per[min(per)]
        return ("error: " + d["error"]) if "error" in d else "bad line"
    return fmt_spread("ns", vals)


def floor_cell(raw, mode, variant):
    return reference_cell(raw.floor.get((mode, variant)))


def killfloor_table(raw):
    """The node-loss floor beside the node-loss rows, or None."""
    if not raw.killfloor:
        return None
    rows = []
    for m, label in DIST_MODES:
        for system in ["snowrt", "beam"]:
            per = raw.killfloor.get((m, system))
            if not per:
                continue
            d = next((d for d in per.values() if figure(d) is not None), per[min(per)])
            rss = [float(x.get("victim_rss", 0) or 0) for x in per.values()]
            fl = {r: figure(x) for r, x in per.items() if figure(x) is not None}
            row = [label, NAMES[system], "%.1f MB" % (median(rss) / 1e6), d.get("victim_threads", "?"),
                   reference_cell(per)]
            # each node-loss row minus the floor of the same round
            for sid in NODELOSS:
                fig = raw.per_round(system, sid, m)
                diffs = [fig[r] - fl[r] for r in sorted(set(fig) & set(fl))]
                row.append(fmt_spread("ns", diffs) if diffs else "-")
            rows.append(row)
    if not rows:
        return None
    return md_table(["placement", "victim", "victim RSS", "threads", "SIGKILL -> EOF floor"] +
                    ["`%s` minus floor" % sid for sid in NODELOSS], rows)


def scaling_table(raw):
    """Local throughput at K schedulers (SNOW_SCHEDULERS=K), or None."""
    counts = sorted({int(sys_.split("@", 1)[1]) for (sys_, _sid, _m) in raw.results if sys_.startswith("snowrt@")})
    if not counts:
        return None
    rows = []
    for sid, title in SCALING:
        row = ["%s `%s`" % (title, sid)]
        for k in counts:
            vals = list(raw.per_round("snowrt@%d" % k, sid).values())
            row.append(fmt_spread("per_s", vals) if vals else "-")
        one = raw.per_round("snowrt@1", sid)
        for k in counts[1:]:
            other = raw.per_round("snowrt@%d" % k, sid)
            ratios = [other[r] / one[r] for r in sorted(set(one) & set(other)) if one[r] > 0]
            if not ratios:
                row.append("-")
                continue
            m = median(ratios)
            text = "%.2fx" % m
            if len(ratios) > 1:
                text += " (%.2f-%.2f)" % (min(ratios), max(ratios))
            if k == 2:
                text += ": " + ("met" if m >= 1 else "not met")
            row.append(text)
        rows.append(row)
    header = ["scenario"] + ["%d scheduler%s" % (k, "" if k == 1 else "s") for k in counts] + \
        ["%d vs 1 (target for 2: >= 1.00x)" % k if k == 2 else "%d vs 1" % k for k in counts[1:]]
    return md_table(header, rows)


def floor_note(raw):
    """The raw TCP floor under the distribution table, or None (old raw
    files, --no-dist): medians per variant, unpinned / CPU0."""
    if not raw.floor:
        return None
    parts = []
    for i, (v, label) in enumerate(FLOOR_VARIANTS):
        un, cpu0 = floor_cell(raw, "unpinned", v), floor_cell(raw, "pinned", v)
        if i == 0:
            parts.append("%s %s unpinned / %s on CPU0" % (label, un, cpu0))
        else:
            parts.append("%s %s / %s" % (label, un, cpu0))
    return ("Raw TCP floor (two C processes echoing 16 bytes over 127.0.0.1, `bench/tools/tcp_floor.c`; "
            "median round trip): %s. No runtime's remote round trip (`%s`) can beat the floor of the same "
            "placement (the lower of the two variants). Unpinned, the kernel places the two floor processes: "
            "when it keeps them on one CPU the unpinned floor reads like the CPU0 one."
            % ("; ".join(parts), FLOOR_SCENARIO))


def add_section(lines, title, intro, table):
    """Appends a titled table with its introduction, unless table is None."""
    if table is None:
        return
    lines += [title, "", intro, "", table, ""]


def build(raw, args):
    date = args.date
    lines = []
    mode = "quick" if args.quick else "full"
    lines.append("# libsnowrt bench, %s (%s run)" % (date, mode))
    lines.append("")
    nrounds = len(raw.rounds)
    lines.append("Produced by `scripts/bench.sh%s`, %d round%s: every system runs once per round, "
                 "interleaved (the order reversed every other round). Each program's figure is the median "
                 "over its timed iterations (warm-up excluded). A cell is the median of a system's "
                 "per-round figures with their min-max in parentheses (with one round: the p99 in "
                 "brackets where the scenario has per-iteration samples). **Ratio = libsnowrt's cost / "
                 "the best peer's cost**, computed per round (cost = time, bytes, or time per item for "
                 "throughputs, i.e. best peer's rate / our rate); the table prints the median of the "
                 "per-round ratios, the peer that was best in most rounds, and the min-max of the "
                 "ratios. Below 1.00x libsnowrt is better, 0.50x means twice as good. Targets (issues 2, "
                 "3 and 15) are judged on the median ratio, informational only: nothing here passes or "
                 "fails. A peer with variants (CAF's two configs; BEAM's distribution default and tuned) "
                 "counts with its best variant in each round."
                 % (" --quick" if args.quick else "", nrounds, "" if nrounds == 1 else "s"))
    if args.quick:
        lines.append("")
        lines.append("**Quick run**: far fewer iterations than the full run and 100k instead of 1M idle "
                     "processes; figures are indicative only.")
    lines.append("")
    lines.append("## Machine")
    lines.append("")
    lines.append(md_table(["what", "value"], [[a, b] for a, b in machine_facts()], numeric=False))
    lines.append("")
    lines.append("## Versions")
    lines.append("")
    lines.append(md_table(["what", "version"], [[a, b] for a, b in versions(raw, args.root)], numeric=False))
    lines.append("")
    for section, rows in LOCAL:
        lines.append("## Local: %s" % section)
        lines.append("")
        trs = []
        for sid, title, unit, systems, target in rows:
            t_text, met = judge(raw, sid, unit, target, args.quick)
            trs.append(["%s `%s`" % (title, sid)] +
                       [cell(raw, s, sid, unit, expressed=s in systems) for s in SYSTEMS] +
                       [fmt_ratio(ratio_of(raw, sid, unit)), t_text, met])
        lines.append(md_table(["scenario", "libsnowrt", "BEAM", "CAF", "ratio ours / best peer (median, min-max)",
                               "target", "met? (median)"], trs))
        lines.append("")
    lines.append("## Distribution: two nodes on 127.0.0.1")
    lines.append("")
    lines.append("Run twice: *unpinned* (the kernel places the nodes, usually one per CPU) and "
                 "*both on CPU0* (`taskset -c 0`). BEAM runs with its default distribution socket options "
                 "and tuned (`delay_send` and a 256 KiB buffer on connect and listen); the ratio is "
                 "against BEAM's best of the two in each round (CAF's distribution is not part of this "
                 "bench). The SIGSTOP row depends on the tick time used (shown) and runs in round 1 "
                 "only, with default options, like `dist_connect`. Targets are issues 3 and 15's, "
                 "informational.")
    lines.append("")
    trs = []
    for sid, title, unit in DIST:
        row = ["%s `%s`" % (title, sid)]
        ratios = []
        for m, _ in DIST_MODES:
            if raw.get("snowrt", sid, m) is None:
                row.append("not implemented yet")
            else:
                row.append(cell(raw, "snowrt", sid, unit, m))
            row.append(cell(raw, "beam", sid, unit, m, variants=["beam"]))
            row.append(cell(raw, "beam", sid, unit, m, variants=["beam_tuned"]))
            ratios.append(fmt_ratio(ratio_of(raw, sid, unit, m, peers=["beam"])))
        tick = ""
        for m, _ in DIST_MODES:
            b = raw.get("beam", sid, m)
            if b and b.get("ticktime_s"):
                tick = " (tick %s s)" % b["ticktime_s"]
        row[0] += tick
        t_text, met = judge_dist(raw, sid, unit)
        trs.append(row + ratios + [t_text, met])
    lines.append(md_table(["scenario", "libsnowrt unpinned", "BEAM unpinned", "BEAM tuned unpinned",
                           "libsnowrt CPU0", "BEAM CPU0", "BEAM tuned CPU0",
                           "ratio unpinned (vs BEAM's best)", "ratio CPU0", "target", "met? (unpinned / CPU0)"], trs))
    lines.append("")
    floor = floor_note(raw)
    if floor:
        lines.append(floor)
        lines.append("")
        frs = []
        for m, label in DIST_MODES:
            fr = floor_ratio(raw, m)
            if fr is not None:
                frs.append("%s %s" % (label, fmt_x(fr.median) + (" (%s-%s)" % (fmt_x(fr.lo), fmt_x(fr.hi))
                                                                    if len(fr.ratios) > 1 else "")))
        if frs:
            lines.append("libsnowrt's `%s` / that floor (the lower variant, per round): %s." %
                         (FLOOR_SCENARIO, "; ".join(frs)))
            lines.append("")
    add_section(lines, "### Node loss: the kernel's share",
                "A SIGKILLed node's connections reach EOF only once the kernel has torn the process "
                "down (its memory unmapped, its threads reaped), whatever the runtime. "
                "`bench/tools/kill_floor.c` measures that for a plain C process of each victim's size "
                "(the largest resident size and thread count the node-loss rows saw in the round), "
                "SIGKILL -> EOF at its peer; each node-loss row minus the floor of the same round is "
                "what the runtimes spend.", killfloor_table(raw))
    add_section(lines, "## Scaling: libsnowrt's local throughput at 1, 2 (and N) schedulers",
                "The same programs with `SNOW_SCHEDULERS=K`, every round (issue 15: with 2 schedulers at "
                "least as fast as with 1 on this 2-CPU machine). The ratio is the rate at K / the rate "
                "at 1 per round, median (min-max); above 1.00x more schedulers are faster.", scaling_table(raw))
    if args.png:
        lines.append("## Chart")
        lines.append("")
        lines.append("![cost relative to the best peer](%s)" % os.path.basename(args.png))
        lines.append("")
        lines.append("Each bar is a system's cost divided by the best peer's cost for that row, the median "
                     "over rounds, with the min-max of the rounds as an error bar "
                     "(log scale; bars grow from 1, the best peer's level; below 1 is better than the best "
                     "peer; the dashed line is the 0.5x target).")
        lines.append("")
    lines.append("## Notes from this run")
    lines.append("")
    notes = []
    for s in SYSTEMS:
        for why, text in raw.skips.get(s, []):
            notes.append("%s: %s" % (NAMES[s], text))
    for run in raw.runs:
        if run.get("rc", "0") != "0":
            notes.append("%s program `%s`%s exited with status %s after %s s" % (
                NAMES.get(run.get("system"), run.get("system")), run.get("program"),
                (" (" + run["mode"] + ")") if run.get("mode") else "", run.get("rc"), run.get("secs")))
    known = {sid for _, rows in LOCAL for sid, *_ in rows} | {sid for sid, *_ in DIST}
    for (system, sid, m), per in sorted(raw.results.items()):
        r = per[min(per)]
        if sid not in known and not system.startswith("snowrt@"):
            notes.append("%s: %s%s" % (NAMES.get(system, system), sid,
                                       (" error: " + r["error"]) if "error" in r else " (not in any table)"))
    notes += raw.notes
    if not notes:
        notes = ["none"]
    lines += ["- " + n for n in notes]
    lines.append("")
    secs = sum(float(r.get("secs", "0") or 0) for r in raw.runs)
    lines.append("Programs ran for %.0f s in total." % secs)
    lines.append("")
    lines.append("<details><summary>Raw lines</summary>")
    lines.append("")
    lines.append("```")
    lines += raw.lines
    lines.append("```")
    lines.append("")
    lines.append("</details>")
    lines.append("")
    return "\n".join(lines)


def chart(raw, args):
    """Writes a gnuplot data file and script, then renders the PNG."""
    gp = shutil.which("gnuplot")
    if not gp:
        print("report: gnuplot not found, no chart", file=sys.stderr)
        return False
    rows = []
    for _, srows in LOCAL:
        for sid, _t, unit, _s, _tg in srows:
            rows.append((sid, sid, unit, ""))
    for sid, _t, unit in DIST:
        for m, _ in DIST_MODES:
            rows.append(("%s (%s)" % (sid, "cpu0" if m == "pinned" else m), sid, unit, m))
    data = []
    ratios = []
    for label, sid, unit, m in rows:
        # per round: each system's best variant / the best peer's best variant
        per = {s: raw.best_per_round(s, sid, unit, m) for s in SYSTEMS}
        best = {}
        for p in PEERS:
            for r, (c, _v) in per[p].items():
                best[r] = min(best.get(r, c), c)
        have = sum(1 for s in SYSTEMS if per[s])
        if not best or have < 2:
            continue  # one system alone has nothing to be compared with
        vals = []
        for s in SYSTEMS:
            rs = [per[s][r][0] / best[r] for r in per[s] if r in best]
            if rs:
                vals += ["%.4g" % median(rs), "%.4g" % min(rs), "%.4g" % max(rs)]
                ratios += rs
            else:
                vals += ["-", "-", "-"]
        data.append('"%s" %s' % (label, " ".join(vals)))
    if not data:
        return False
    base = os.path.splitext(args.png)[0]
    dat = base + ".dat"
    gpf = base + ".gp"
    with open(dat, "w") as f:
        f.write("# label, then per system (snowrt beam caf): median, min, max of per-round cost / best peer cost\n")
        f.write("\n".join(data) + "\n")
    have_ours = any(raw.value("snowrt", sid, m) is not None for _, sid, _, m in rows)
    title = ("cost / best peer cost, median of rounds, error bars min-max (bars grow from 1: below 1 = better "
             "than the best peer; dashed = 0.5 target; log scale)")
    if not have_ours:
        title += " - no libsnowrt figures in this run"
    width = max(1200, 40 * len(data) + 300)
    # y range: powers of two around every ratio, at least 1/4 .. 4
    lo_e = min(-2, math.floor(math.log2(min(ratios))))
    hi_e = max(2, math.ceil(math.log2(max(ratios))))
    ytics = ", ".join('"%s" %s' % (("1/%d" % 2 ** -e) if e < 0 else str(2 ** e), repr(2.0 ** e))
                      for e in range(lo_e, hi_e + 1))
    term = "pngcairo size %d,720 noenhanced font 'sans,9'" % width
    if "pngcairo" not in sh("gnuplot -e 'set terminal' 2>&1 | grep -o pngcairo | head -1"):
        term = "png size %d,720 noenhanced" % width
    script = """set terminal {term}
set output '{png}'
set title "{title}"
set datafile missing '-'
set style fill solid 0.85 border -1
set logscale y 2
set yrange [{ylo}:{yhi}]
set ytics ({ytics})
set grid ytics
set xrange [-0.6:{n}-0.4]
set xtics rotate by -50 scale 0 font ',8'
set key outside right top vertical
set ylabel 'cost / best peer cost'
set bmargin 15
lo(v) = v < 1 ? v : 1
hi(v) = v < 1 ? 1 : v
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb '#333333' front
set arrow from graph 0, first 0.5 to graph 1, first 0.5 nohead dt 2 lc rgb '#2ca02c' front
plot '{dat}' using ($0-0.27):(1):($0-0.39):($0-0.15):(lo($2)):(hi($2)):xtic(1) with boxxyerror title 'libsnowrt' lc rgb '#d62728', \\
     '' using ($0):(1):($0-0.12):($0+0.12):(lo($5)):(hi($5)) with boxxyerror title 'BEAM' lc rgb '#1f77b4', \\
     '' using ($0+0.27):(1):($0+0.15):($0+0.39):(lo($8)):(hi($8)) with boxxyerror title 'CAF' lc rgb '#ff7f0e', \\
     '' using ($0-0.27):2:3:4 with yerrorbars notitle lc rgb '#000000' pt 0 ps 0, \\
     '' using ($0):5:6:7 with yerrorbars notitle lc rgb '#000000' pt 0 ps 0, \\
     '' using ($0+0.27):8:9:10 with yerrorbars title 'min-max over rounds' lc rgb '#000000' pt 0 ps 0
""".format(term=term, png=args.png, title=title, dat=dat, n=len(data), ylo=repr(2.0 ** lo_e / 1.2),
               yhi=repr(2.0 ** hi_e * 1.2), ytics=ytics)
    with open(gpf, "w") as f:
        f.write(script)
    r = subprocess.run([gp, gpf], capture_output=True, text=True)
    if r.returncode != 0:
        print("report: gnuplot failed: " + r.stderr.strip(), file=sys.stderr)
        return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--png")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    ap.add_argument("--root", default="")
    args = ap.parse_args()
    raw = Raw(args.raw)
    if args.png and not chart(raw, args):
        args.png = None
    text = build(raw, args)
    with open(args.md, "w") as f:
        f.write(text)
    # stdout: the report without the raw lines (they stay in the file)
    print(text.split("<details>", 1)[0].rstrip())


if __name__ == "__main__":
    main()
