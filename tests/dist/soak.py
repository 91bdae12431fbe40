#!/usr/bin/env python3
"""Soak: node loss and restart, over and over, between nodes that hold
thousands of remote links and monitors (issue 9, "Keep it fixed").

  soak.py <path to snow_node> [minutes]      (default 10; fractions allowed)

Nodes: one survivor (snow_node) that lives the whole run, and victims: two
snow_node nodes and, when erl and erlc are installed, an Erlang node running
tests/interop/snowpeer.erl (SNOW_SOAK_ERL=0 leaves it out). All use a short
tick time (SNOW_SOAK_TICK_MS, default 1500 ms; erl: net_ticktime 2 s), so a
frozen node is noticed within about two seconds.

One cycle, for each victim X:
  setup    X runs a fresh process p. The survivor sets up N monitors of p
           (one process: snow_node mmon), N linked helper processes (mlink),
           and a worker w with one link and one monitor that print the full
           reason. In the other direction X holds N monitors and N links to a
           fresh survivor process sp (erl: one of each).
           N = SNOW_SOAK_LINKS (default 2000).
  action   rotating per victim and cycle:
             kill  SIGKILL;
             stop  SIGSTOP (a partition only the survivor's ticks notice);
                   once the survivor has seen everything, SIGCONT, X sees the
                   connection gone, then SIGKILL;
             halt  orderly stop (snow_rt_halt; erl halt(0));
             exit  no node loss: p exits with a custom reason naming the cycle.
  checks   on the survivor, every event exactly once:
             node loss: N DOWN and N link EXIT noconnection (an orderly halt
             may let some processes' shutdown through first: each is
             noconnection or shutdown), w's EXIT and DOWN likewise, N EXIT at
             sp from N distinct processes of X (erl: 1), one NODEDOWN for X
             (and one NODEUP when the restarted X is connected again);
             exit: N DOWN and N EXIT with the custom reason, w's with its
             text, no NODEDOWN.
           After a short window and a barrier through each worker's mailbox
           nothing else is pending on the survivor (no duplicate, no stray
           event).
  cleanup  the survivor's processes of the cycle exit normally; a victim
           that is still up sees DOWN normal for its N monitors exactly once.
           Victims that went away restart under the same name (a new
           incarnation).
After each cycle the survivor's RSS (VmRSS) and open descriptors are printed:
  cycle 12  t=38.1s  v1=kill v2=stop e=halt  rss=14240 KiB fds=14  (2.9s)

Plateau. After each cycle the survivor's RSS, descriptor count and its own
resource counters (snow_rt_stats: processes alive, node-table entries,
remote pid handles, stack slots, heap bytes) are sampled. The samples are
split in thirds by time; the first third is warm-up. Three judgements:
- Counters: the largest value of each counter in the last third may exceed
  its largest value before it by at most 25 % + a small constant (one
  cycle's worth: the remote pid handles of a victim that died less than the
  10 s grace ago are still held). These count the runtime's own resources
  exactly, so a leak of node entries, pid handles, processes, stacks or heap
  shows in any run length, independent of the allocator.
- Descriptors: exact; one more than before is a connection caught
  mid-setup, more is a leak.
- RSS: the allocators (mimalloc for signals, glibc for containers) keep
  growing their footprint for the first ~10 minutes of this workload while
  every counter above is flat (measured: 15 MB at start, 38 MB at 10 min,
  flat to 30 min), and one cycle's RSS varies by several MB. So a run that
  lasts at least 12 minutes is judged on the first rule below, a shorter one
  only on the second:
    long:  the largest RSS of the last third exceeds the largest of the
           middle third by more than 2 MiB + 3 % (a leak of L bytes per
           cycle raises it by L times the ~80 cycles of a third);
    short: the median RSS of the last third exceeds twice the first sample
           plus 4 MiB (a gross leak: megabytes per cycle).
Runs shorter than three cycles per third cannot judge a plateau and fail.
Under ASan or TSan the curve is printed but not judged (freed memory waits
in a quarantine).

Exit status 0 when every check passed and both plateaus hold, else 1. Every
OS process the script started is stopped by pid when it ends, also on
SIGINT, SIGTERM and SIGHUP.
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))

from nodelib import (Ctx, Fail, Runner, check, epmd_port, pid_of, proc_fd_count, proc_rss_kb, sanitized,
                     tmo)  # noqa: E402
from test_dist import restart  # noqa: E402

N = int(os.environ.get("SNOW_SOAK_LINKS", "2000"))
TICK_MS = int(os.environ.get("SNOW_SOAK_TICK_MS", "1500"))
KINDS = ("kill", "stop", "halt", "exit")


def hx(s):
    return s.encode().hex()


class Interrupted(BaseException):
    """SIGINT/SIGTERM/SIGHUP: stop, clean up, report."""


def on_signal(signum, frame):
    raise Interrupted("signal %d" % signum)


def parse_reasons(text):
    """'noconnection:1995,shutdown:5' -> {'noconnection': 1995, 'shutdown': 5}."""
    out = {}
    for part in (text or "").split(","):
        if ":" in part:
            k, v = part.split(":")
            out[k] = int(v)
    return out


def wait_unregistered(name, timeout):
    """The port mapper has dropped a dead node's name (a restart under the
    same name needs it free)."""
    deadline = time.monotonic() + timeout
    while epmd_port(name) is not None:
        check(time.monotonic() < deadline, "the port mapper still lists %s %.0fs after it died" % (name, timeout))
        time.sleep(0.05)


# ---------------------------------------------------------------- victims


class Victim:
    """A victim node and what the survivor holds on it in the current cycle."""

    erl = False

    def __init__(self, ctx, label):
        self.ctx = ctx
        self.label = label
        self.node = None
        self.fresh = False  # (re)started this cycle: its NODEUP is due

    @property
    def name(self):
        return self.node.name

    def ensure_started(self):
        if self.node is not None and self.node.alive():
            self.fresh = False
            return
        if self.node is not None:
            self.node.close()
            wait_unregistered(self.node.name, tmo(15))
        self.node = self.start()
        self.fresh = True


class SnowVictim(Victim):
    def start(self):
        if self.node is None:
            return self.ctx.node(self.label, tick=TICK_MS)
        return restart(self.ctx, self.node)

    def hold_reverse(self, sp):
        """N monitors and N links from this node to the survivor's sp."""
        x = self.node
        x.spawn("rm")
        x.spawn("rl")
        ln = x.cmd("mmon", "rm", sp, N, timeout=tmo(60))
        check(ln.kv.get("zero") == "0" and ln.kv.get("duprefs") == "0", "%s mmon: %s" % (x.tag, ln.raw))
        ln = x.cmd("mlink", "rl", sp, N, timeout=tmo(60))
        check(ln.kv.get("failed") == "0", "%s mlink: %s" % (x.tag, ln.raw))
        x.event("rl", "MLINKED", timeout=tmo(60))
        return "rm", N

    def exit_p(self, text):
        self.node.cmd("exit", "p", "custom", text)

    def reconnect(self, node):
        ln = self.node.cmd("connect", "rm", node, timeout=tmo(30))
        check(ln.args[0] == "0", "%s: connect to %s: %s" % (self.node.tag, node, ln.raw))

    def check_reverse_gone(self, reason):
        """This node's N monitors of sp fired once with `reason`."""
        md = self.node.event("rm", "MDOWN", timeout=tmo(30))
        check(md.kv.get("dups") == "0" and parse_reasons(md.kv.get("reasons")) == {reason: N},
              "%s: its monitors of the survivor's process: %s" % (self.node.tag, md.raw))

    def end_reverse(self):
        for lbl in ("rm", "rl"):
            self.node.cmd("exit", lbl, "normal")
            self.node.event(lbl, "DIED")


class ErlVictim(Victim):
    erl = True

    def start(self):
        from test_interop import ErlNode
        return ErlNode(self.ctx, self.ctx.uname(self.label))

    def hold_reverse(self, sp):
        x = self.node
        x.spawn("rw", trap=True)
        x.cmd("link", "rw", sp)
        x.cmd("monitor", "rw", sp)
        return "rw", 1

    def exit_p(self, text):
        self.node.cmd("exit", "p", text)

    def reconnect(self, node):
        ln = self.node.cmd("ping", "rw", node, timeout=tmo(30))
        check(ln.args[0] == "pong", "%s: ping %s: %s" % (self.node.tag, node, ln.raw))

    def check_reverse_gone(self, reason):
        for what in ("EXIT", "DOWN"):
            ev = self.node.event("rw", what, timeout=tmo(30))
            check(ev.kv.get("ra") == reason, "%s: %s of the survivor's process: %s" % (self.node.tag, what, ev.raw))

    def end_reverse(self):
        self.node.cmd("exit", "rw", "normal")
        self.node.event("rw", "DIED")


# ---------------------------------------------------------------- one cycle


class Soak:
    def __init__(self, ctx, minutes, use_erl):
        self.ctx = ctx
        self.minutes = minutes
        self.s = ctx.node("surv", tick=TICK_MS)
        self.s.spawn("nm", trap=True)
        self.s.cmd("nodemonall", "nm", 1)
        self.victims = [SnowVictim(ctx, "v1"), SnowVictim(ctx, "v2")]
        if use_erl:
            self.victims.append(ErlVictim(ctx, "e"))
        self.samples = []  # (seconds since start, rss KiB, fds, {counter: value})
        self.cycle = 0

    def setup(self, v):
        s, x, lab = self.s, v.node, v.label
        p = x.spawn("p")
        sp = s.spawn("sp" + lab, trap=True)
        s.spawn("w" + lab, trap=True)
        s.spawn("m" + lab)
        s.spawn("l" + lab)
        ln = s.cmd("mmon", "m" + lab, p, N, timeout=tmo(60))
        check(ln.kv.get("zero") == "0" and ln.kv.get("duprefs") == "0", "mmon: %s" % ln.raw)
        ln = s.cmd("mlink", "l" + lab, p, N, timeout=tmo(60))
        check(ln.kv.get("failed") == "0", "mlink: %s" % ln.raw)
        s.event("l" + lab, "MLINKED", timeout=tmo(60))
        s.cmd("link", "w" + lab, p)
        v.wref = s.cmd("monitor", "w" + lab, p).args[0]
        v.reverse_label, v.reverse_n = v.hold_reverse(sp)
        # Everything the survivor sent X is applied at p once this arrives
        # (one connection, frames in order), and the other way round.
        data = hx("sync %d %s" % (self.cycle, lab))
        s.cmd("send", "w" + lab, p, data)
        x.event("p", "MSG", lambda l: l.kv.get("data") == data, desc="sync at p", timeout=tmo(30))
        x.cmd("send", v.reverse_label, sp, data)
        s.event("sp" + lab, "MSG", lambda l: l.kv.get("data") == data, desc="sync at sp", timeout=tmo(30))
        if v.fresh:
            s.event("nm", "NODEUP", lambda l: l.kv.get("node") == x.name, desc="NODEUP for %s" % x.name)

    def act(self, v, kind):
        if kind == "kill":
            v.node.kill(signal.SIGKILL)
        elif kind == "stop":
            v.node.kill(signal.SIGSTOP)
        elif kind == "halt":
            complaint = v.node.close()
            check(complaint is None, "halt: %s" % complaint)
        else:
            v.exit_p("cycle%d" % self.cycle)

    def check_multi(self, ev, allowed, what):
        reasons = parse_reasons(ev.kv.get("reasons"))
        check(ev.kv.get("n") == str(N) and sum(reasons.values()) == N and set(reasons) <= allowed,
              "%s: %s (expected %d, each one of %s)" % (what, ev.raw, N, "/".join(sorted(allowed))))
        for k in ("dups", "badpid", "badfrom"):
            check(ev.kv.get(k, "0") == "0", "%s: %s" % (what, ev.raw))

    def check_survivor(self, v, kind):
        s, lab, name = self.s, v.label, v.node.name
        loss = kind != "exit"
        allowed = {"noconnection", "shutdown"} if kind == "halt" else {"noconnection"} if loss else {"custom"}
        text = None if loss else "cycle%d" % self.cycle
        deadline = tmo(TICK_MS * 2.5 / 1000 + 30)
        self.check_multi(s.event("m" + lab, "MDOWN", timeout=deadline), allowed, "%s: DOWNs of %s's p" % (kind, lab))
        self.check_multi(s.event("l" + lab, "MLINK", timeout=deadline), allowed, "%s: link EXITs from %s's p" % (kind, lab))
        for what in ("EXIT", "DOWN"):
            ev = s.event("w" + lab, what, timeout=deadline)
            check(ev.reason() in allowed and (text is None or ev.rtext() == text),
                  "%s: %s from %s's p: %s" % (kind, what, lab, ev.raw))
        if not loss:
            return
        s.event("nm", "NODEDOWN", lambda l: l.kv.get("node") == name, timeout=deadline, desc="NODEDOWN for %s" % name)
        # X's N links to sp: N EXITs, one from each of N distinct processes of X.
        want = v.reverse_n
        end = time.monotonic() + deadline
        while len(s.pending("sp" + lab, "EXIT")) < want and time.monotonic() < end:
            time.sleep(0.05)
        exits = s.pending("sp" + lab, "EXIT")
        for ev in exits:
            ev.used = True
        froms = {ev.kv.get("from") for ev in exits}
        bad = [ev.raw for ev in exits if ev.reason() not in allowed or pid_of(ev.kv.get("from"))[0] != name]
        check(len(exits) == want and len(froms) == want and not bad,
              "%s: sp got %d EXITs from %d processes of %s, expected %d from %d (bad: %s)" %
              (kind, len(exits), len(froms), lab, want, want, bad[:2]))

    def nothing_else(self):
        """No event on the survivor beyond those consumed: a window, then a
        barrier through every worker of the cycle."""
        time.sleep(tmo(0.3))  # the only fixed wait: an absence check needs a window
        labels = ["nm"] + [p + v.label for v in self.victims for p in ("m", "l", "w", "sp")]
        for lbl in labels:
            self.s.barrier(lbl)
        stray = self.s.pending()
        check(not stray, "unexpected events on the survivor: %s" % "; ".join(l.pretty() for l in stray[:5]))

    def heal_and_kill(self, v):
        """The partitioned node wakes up: it sees the connection gone (its
        monitors of sp fire noconnection once) and connects again (its
        processes' exit signals may already be doing so); the survivor sees
        NODEUP once. Then it dies: NODEDOWN once."""
        s, name = self.s, v.node.name
        v.node.kill(signal.SIGCONT)
        v.check_reverse_gone("noconnection")
        v.reconnect(s.name)
        s.event("nm", "NODEUP", lambda l: l.kv.get("node") == name, timeout=tmo(30),
                desc="NODEUP for %s after the partition healed" % name)
        v.node.kill(signal.SIGKILL)
        s.event("nm", "NODEDOWN", lambda l: l.kv.get("node") == name, timeout=tmo(30),
                desc="NODEDOWN for %s killed after the partition healed" % name)
        time.sleep(tmo(0.3))  # an absence check needs a window
        s.barrier("nm")
        extra = s.pending("nm", None, lambda l: l.kv.get("node") == name)
        check(not extra, "extra node events for %s: %s" % (name, "; ".join(l.pretty() for l in extra)))

    def cleanup(self, v, kind):
        s, lab = self.s, v.label
        for lbl in ("m", "l", "w", "sp"):
            s.cmd("exit", lbl + lab, "normal")
            s.event(lbl + lab, "DIED")
        if kind == "exit":
            v.check_reverse_gone("normal")
            v.end_reverse()
        v.node.drop_consumed()

    def run_cycle(self):
        kinds = {v.label: KINDS[(self.cycle + i) % len(KINDS)] for i, v in enumerate(self.victims)}
        for v in self.victims:
            v.ensure_started()
        for v in self.victims:
            self.setup(v)
        for v in self.victims:
            self.act(v, kinds[v.label])
        for v in self.victims:
            self.check_survivor(v, kinds[v.label])
        self.nothing_else()
        for v in self.victims:
            if kinds[v.label] == "stop":
                self.heal_and_kill(v)
        for v in self.victims:
            self.cleanup(v, kinds[v.label])
        self.s.drop_consumed()
        return kinds

    def run(self):
        t0 = time.monotonic()
        end = t0 + self.minutes * 60
        while time.monotonic() < end:
            c0 = time.monotonic()
            kinds = self.run_cycle()
            rss, fds = proc_rss_kb(self.s.pid), proc_fd_count(self.s.pid)
            t = time.monotonic() - t0
            kv = self.s.cmd("stats").kv
            counters = {name: int(kv[name]) for name, _ in self.COUNTERS}
            self.samples.append((t, rss, fds, counters))
            print("cycle %-4d t=%6.1fs  %s  rss=%d KiB fds=%d  (%.1fs)  %s" %
                  (self.cycle, t, " ".join("%s=%-4s" % kv for kv in kinds.items()), rss, fds,
                   time.monotonic() - c0, " ".join("%s=%d" % c for c in counters.items())), flush=True)
            self.cycle += 1

    # (counter name in the stats answer, slack beyond +25 %): one cycle's
    # worth of each (see the module docstring).
    COUNTERS = (("alive", 8), ("node_entries", 4), ("remote_pids", 4 * N + 100), ("stacks", 8),
                ("heap", 1 << 20))
    LONG_RUN_S = 12 * 60

    def plateau(self):
        """Returns a list of complaints (empty: everything plateaus)."""
        if not self.samples:
            return ["no cycle completed"]
        span = self.samples[-1][0]
        before = [s for s in self.samples if s[0] < 2 * span / 3]
        middle = [s for s in before if s[0] >= span / 3]
        last = [s for s in self.samples if s[0] >= 2 * span / 3]
        if len(middle) < 3 or len(last) < 3:
            return ["too few cycles to judge a plateau (%d in the middle third, %d in the last)" % (len(middle), len(last))]
        out = []
        first = self.samples[0]
        rss_mid, rss_last = max(s[1] for s in middle), max(s[1] for s in last)
        rss_last_median = statistics.median(s[1] for s in last)
        print("survivor RSS: first %d KiB, max of middle third %d KiB, max of last third %d KiB (%+d KiB), "
              "median of last third %d KiB" % (first[1], rss_mid, rss_last, rss_last - rss_mid, rss_last_median))
        if span >= self.LONG_RUN_S:
            rss_allow = 2048 + rss_mid * 3 // 100
            if rss_last > rss_mid + rss_allow:
                out.append("RSS does not plateau: %d KiB at most in the last third, %d KiB in the middle third "
                           "(allowed +%d)" % (rss_last, rss_mid, rss_allow))
        else:
            bound = 2 * first[1] + 4096
            print("survivor RSS judged on the gross bound (run shorter than %d min): median of last third <= %d KiB" %
                  (self.LONG_RUN_S // 60, bound))
            if rss_last_median > bound:
                out.append("RSS grows grossly: median %d KiB in the last third, first sample %d KiB (bound %d)" %
                           (rss_last_median, first[1], bound))
        fd_mid, fd_last = max(s[2] for s in middle), max(s[2] for s in last)
        print("survivor fds: first %d, max of middle third %d, max of last third %d" % (first[2], fd_mid, fd_last))
        if fd_last > fd_mid + 1:
            out.append("descriptors do not plateau: %d at most in the last third, %d in the middle third" %
                       (fd_last, fd_mid))
        for name, slack in self.COUNTERS:
            top_before = max(s[3][name] for s in before)
            top_last = max(s[3][name] for s in last)
            allow = top_before // 4 + slack
            print("survivor %s: max before the last third %d, max of last third %d (allowed +%d)" %
                  (name, top_before, top_last, allow))
            if top_last > top_before + allow:
                out.append("%s does not plateau: %d at most in the last third, %d before it (allowed +%d)" %
                           (name, top_last, top_before, allow))
        return out


def stop_everything(ctx):
    """Every OS process this script started, by pid: resumed if stopped,
    asked to halt, killed if it does not."""
    for p in ctx.procs:
        if p.p.poll() is None:
            try:
                p.close()
            except Exception:  # noqa: BLE001 (cleanup must reach every process)
                if p.p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
                    p.p.wait()


def compile_snowpeer(runner):
    runner.beamdir = tempfile.mkdtemp(prefix="snow-soak-beam-")
    r = subprocess.run(["erlc", "-o", runner.beamdir, os.path.join(HERE, "..", "interop", "snowpeer.erl")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Fail("erlc failed:\n" + r.stdout + r.stderr)


def main():
    if len(sys.argv) < 2:
        print("usage: soak.py <snow_node binary> [minutes]")
        return 2
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    use_erl = os.environ.get("SNOW_SOAK_ERL", "1") != "0" and shutil.which("erl") and shutil.which("erlc")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    # erl ticks every net_ticktime/4 seconds; the survivor must hear from it
    # within its own (short) tick time.
    os.environ["ERL_AFLAGS"] = (os.environ.get("ERL_AFLAGS", "") + " -kernel net_ticktime 2").strip()
    runner = Runner("soak", os.path.abspath(sys.argv[1]))
    ctx = Ctx(runner, 0, runner.binary)
    ctx.new_sessions = True  # a stopped victim must outlive a parent shell that exits (see nodelib.Ctx)
    print("soak: %.1f min, %d links and %d monitors each way per victim, tick %d ms, victims: 2 snow_node%s" %
          (minutes, N, N, TICK_MS, " + erl" if use_erl else " (no erl)"), flush=True)
    soak = None
    failure = None
    try:
        if use_erl:
            compile_snowpeer(runner)
        soak = Soak(ctx, minutes, use_erl)
        soak.run()
    except Fail as e:
        failure = "cycle %s: %s" % (soak.cycle if soak else "-", e)
    except Interrupted as e:
        failure = "interrupted (%s)" % e
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if failure:
            for p in ctx.procs[-8:]:
                out, err = p.tail(15)
                print("--- %s (pid %d, exit %s) last lines:" % (p.tag, p.pid, p.p.poll()))
                for ln in out + ["stderr:"] + err:
                    print("    " + ln)
        stop_everything(ctx)
        if getattr(runner, "beamdir", None):
            shutil.rmtree(runner.beamdir, ignore_errors=True)
    complaints = [failure] if failure else []
    if soak and not failure:
        judged = soak.plateau()
        if sanitized(runner.binary):
            for c in judged:
                print("not judged under a sanitizer: " + c)
        else:
            complaints += judged
    for c in complaints:
        print("FAIL " + c)
    print("soak: %d cycles, %s; node logs: %s" % (soak.cycle if soak else 0, "FAILED" if complaints else "ok",
                                                 runner.logdir))
    return 1 if complaints else 0


if __name__ == "__main__":
    sys.exit(main())
