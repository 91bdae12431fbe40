#!/usr/bin/env python3
"""Drives the two-node Snow-style IR programs (tests/codegen/snow/dist_*.ll).

Each program is run as two (or three) OS processes on 127.0.0.1, in the
roles its header describes, under node names unique to this run:

  dist_driver.py <scenario> <program>

  scenario: dist_monitor_down | dist_node_down_up | dist_link_crash |
            dist_partition | dist_spawn_monitor

The driver waits for the lines it needs with deadlines (never fixed
sleeps), sends SIGKILL / SIGSTOP / SIGCONT to the processes it started, by
pid, and finally compares each role's whole stdout with
<scenario>.<role>.expected. Prints "ok"/"FAIL" per scenario and exits 1 on
failure (the process logs are kept then; see tests/dist/nodelib.py).

Environment: SNOW_TEST_TIMEOUT_SCALE scales every deadline (sanitizer
builds), SNOW_TEST_TICK_MS the partition's tick time (default 600).
"""

import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "dist"))

from nodelib import HOST, TSCALE, Fail, Proc, Runner, check, tmo  # noqa: E402
import subprocess  # noqa: E402

TICK_MS = int(os.environ.get("SNOW_TEST_TICK_MS", "600"))


class Role(Proc):
    """One OS process of the program: argv = role, own name, peer name."""

    def __init__(self, ctx, role, own, peer, extra=()):
        self.role = role
        super().__init__(ctx, own, [ctx.binary, role, own, peer] + [str(e) for e in extra], tag=role)

    def says(self, text, timeout=None):
        """Waits for the exact line `text`; returns when it was read."""
        ln = self.wait_line(lambda l: l.raw == text, timeout or tmo(15), repr(text))
        return ln.seen_ns

    def ends(self, timeout=None):
        """Waits for the process to exit by itself with status 0."""
        try:
            rc = self.p.wait(timeout=timeout or tmo(30))
        except subprocess.TimeoutExpired:
            raise Fail("%s did not end within %.0fs" % (self.tag, timeout or tmo(30)))
        check(rc == 0, "%s exited with status %s" % (self.tag, rc))
        self.reader.join(timeout=5)

    def output_is(self, scenario):
        """Its stdout so far equals <scenario>.<role>.expected."""
        with open(os.path.join(HERE, "%s.%s.expected" % (scenario, self.role))) as f:
            want = f.read().splitlines()
        with self.cond:
            got = [l.raw for l in self.lines]
        check(got == want, "%s's output differs:\n  got:  %s\n  want: %s" %
              (self.tag, "\n        ".join(got), "\n        ".join(want)))


def names(ctx):
    return ctx.uname("cga") + "@" + HOST, ctx.uname("cgb") + "@" + HOST


def start_role(ctx, role, own, peer, extra=(), ready=None):
    """Starts a role; with `ready`, waits for that line, retrying while the
    port mapper still holds the name of a node killed just before."""
    deadline = time.monotonic() + tmo(10)
    while True:
        p = Role(ctx, role, own, peer, extra)
        if ready is None:
            return p
        ln = p.wait_line(lambda l: l.raw == ready or "node start failed" in l.raw, tmo(15), repr(ready))
        if ln.raw == ready:
            return p
        p.p.wait(timeout=tmo(10))
        p.killed = True  # it exited by itself with status 2: no complaint
        p.close()
        check(time.monotonic() < deadline, "%s could not start: %s" % (role, ln.raw))
        time.sleep(0.05)  # the port mapper drops a dead node's name on its own


def t_two_roles(ctx, scenario):
    """b starts and says it is ready, a runs its scenario; both end by
    themselves (a tells b when it is done) with the expected output."""
    na, nb = names(ctx)
    b = start_role(ctx, "b", nb, na, ready="b: ready")
    a = start_role(ctx, "a", na, nb)
    a.ends()
    b.ends()
    a.output_is(scenario)
    b.output_is(scenario)


def t_node_down_up(ctx, scenario):
    """a monitors node b; b is SIGKILLed: NODEDOWN; b runs again under the
    same name and connects: NODEUP; a then tells the new b it is done."""
    na, nb = names(ctx)
    b = start_role(ctx, "b", nb, na, ready="b: ready")
    a = start_role(ctx, "a", na, nb)
    a.says("a: monitoring b")
    b.kill(signal.SIGKILL)
    a.says("a: NODEDOWN for b (name: yes)")
    r = start_role(ctx, "r", nb, na)
    a.ends()
    r.ends()
    for p in (a, b, r):
        p.output_is(scenario)


def t_partition(ctx, scenario):
    """b is frozen with SIGSTOP (its socket stays open): a learns it from
    the tick alone, between 0.75 and 1.25 tick times (plus slack for
    scheduling and pipes), then b resumes with SIGCONT and ends."""
    na, nb = names(ctx)
    b = start_role(ctx, "b", nb, na, extra=[TICK_MS], ready="b: ready")
    a = start_role(ctx, "a", na, nb, extra=[TICK_MS])
    a.says("a: ready for the partition")
    t0 = time.monotonic_ns()
    b.kill(signal.SIGSTOP)
    seen = a.says("a: monitor of the remote partner: DOWN, reason tag 6", timeout=tmo(TICK_MS / 1000 * 1.25 + 5))
    ms = (seen - t0) / 1e6
    ctx.note("tick %d ms, partition seen after %.0f ms" % (TICK_MS, ms))
    lo, hi = 0.75 * TICK_MS, 1.25 * TICK_MS + 250 * max(1.0, TSCALE)
    check(lo <= ms <= hi, "partition seen after %.0f ms, outside [%.0f, %.0f]" % (ms, lo, hi))
    a.ends()
    b.kill(signal.SIGCONT)
    b.ends()
    a.output_is(scenario)
    b.output_is(scenario)


SCENARIOS = {
    "dist_monitor_down": t_two_roles,
    "dist_node_down_up": t_node_down_up,
    "dist_link_crash": t_two_roles,
    "dist_partition": t_partition,
    "dist_spawn_monitor": t_two_roles,
}


def main(argv):
    if len(argv) != 3 or argv[1] not in SCENARIOS:
        sys.stderr.write("usage: dist_driver.py {%s} <program>\n" % "|".join(SCENARIOS))
        return 64
    scenario, program = argv[1], argv[2]
    runner = Runner("codegen-" + scenario, program)
    runner.add(scenario, SCENARIOS[scenario], scenario)
    return runner.run([])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
