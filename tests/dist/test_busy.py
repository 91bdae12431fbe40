#!/usr/bin/env python3
"""The send-side busy limit (docs/distribution.md, "Limits"), with real
node OS processes (tests/dist/snow_node.c) on 127.0.0.1: node B is frozen
with SIGSTOP (by its pid) while a process of node A sends it large
messages.

  test_busy.py <path to snow_node> [name filters...] [--exclude=NAME...]

Cases:
  frozen_peer_suspends_sender   the sender stops after the kernel buffers
      and the 1 MiB limit are full and shows as waiting; A's memory stays
      bounded; a plain thread gets SNOW_EBUSY; another process's link and
      monitor calls return at once; after SIGCONT every message arrives,
      in order, and the link and monitor made during the freeze work.
  peer_death_wakes_sender       the frozen peer is killed: the suspended
      sender resumes, its remaining sends behave as sends to a lost node,
      and the monitor across the connection fires noconnection.
  small_limit_from_environment  SNOW_DIST_BUF_BUSY_LIMIT=65536 suspends
      the sender after far fewer bytes than the default.

Environment: SNOW_TEST_SCALE scales the message count (at least what fills
the kernel's socket buffers several times over), SNOW_TEST_TIMEOUT_SCALE
the deadlines.
"""

import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nodelib import (SCALE, Runner, check, proc_rss_kb, tmo)  # noqa: E402

MIB = 1 << 20
SNOW_PROC_WAITING = 1
SNOW_EBUSY = -20


def sent_count(node, label):
    """How many sends the worker's bigseqsend has completed (SENT events)."""
    evs = node.history(label, ("SENT",))
    return max([int(e.kv["k"]) for e in evs] or [0])


def wait_for_stall(node, label, quiet_s, deadline_s):
    """Waits until the worker's SENT count has not moved for quiet_s;
    returns it. Fails if it never settles or the sender finished."""
    end = time.monotonic() + deadline_s
    last, since = -1, time.monotonic()
    while time.monotonic() < end:
        k = sent_count(node, label)
        if node.history(label, ("BIGDONE",)):
            return k
        if k != last:
            last, since = k, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return k
        time.sleep(0.05)
    check(False, "the sender never stalled (still at %d sends)" % last)


def frozen_pair(ctx, env=None):
    """A (sender side, with workers s, w, wt) connected to B (receiver r,
    processes p and q to link and monitor); B not yet frozen."""
    ctx.new_sessions = True  # B is stopped: see Ctx.new_sessions
    a = ctx.node("a", env=env)
    b = ctx.node("b")
    r = b.spawn("r")
    p = b.spawn("p")
    q = b.spawn("q")
    a.spawn("s")
    a.spawn("w", trap=True)
    ln = a.cmd("connect", "w", b.name)
    check(ln.args[0] == "0", "connect returned %s" % ln.raw)
    return a, b, r, p, q


def start_flood(ctx, a, b, r, n, size):
    b.cmd("seqrecv", "r", n)
    b.kill(signal.SIGSTOP)
    rss0 = proc_rss_kb(a.pid)
    a.cmd("bigseqsend", "s", r, n, size)
    return rss0


def t_frozen_peer_suspends_sender(ctx):
    n = max(40, int(400 * SCALE))
    a, b, r, p, q = frozen_pair(ctx)
    rss0 = start_flood(ctx, a, b, r, n, MIB)
    k = wait_for_stall(a, "s", 1.0, tmo(30))
    rss = proc_rss_kb(a.pid)
    ctx.note("%d of %d MiB sent before the stall, RSS %d -> %d MiB" % (k, n, rss0 // 1024, rss // 1024))
    # What the kernel buffers (a few MiB each way on loopback) plus the 1
    # MiB limit and the one message that crossed it.
    check(k < n and k <= 32, "the sender was not suspended: %d of %d sends done" % (k, n))
    check(not a.history("s", ("BIGDONE",)), "the sender finished while the peer was frozen")
    st = a.cmd("pstatus", "s")
    check(st.kv.get("status") == str(SNOW_PROC_WAITING), "the suspended sender's status: %s" % st.raw)
    check(rss - rss0 < 64 * 1024, "RSS grew by %d MiB while the peer was frozen" % ((rss - rss0) // 1024))

    # A thread outside a process is refused, not suspended: nothing is sent.
    a.cmd("psend", r, "73656e74", 0)
    ev = a.event("thread", "SENT", timeout=tmo(10))
    check(ev.kv.get("rc") == str(SNOW_EBUSY), "a plain thread's send to the busy node: %s" % ev.raw)

    # Control signals are not held: another process's link and monitor
    # calls return at once (the frames queue behind the messages).
    t0 = time.monotonic()
    a.cmd("link", "w", q, timeout=tmo(5))
    ref = a.cmd("monitor", "w", p, timeout=tmo(5)).args[0]
    check(ref != "0", "monitor returned 0")
    ctx.note("link and monitor answered in %.0f ms while busy" % ((time.monotonic() - t0) * 1000))
    check(sent_count(a, "s") == k, "the sender moved while the peer was frozen")

    b.kill(signal.SIGCONT)
    done = a.event("s", "BIGDONE", timeout=tmo(120))
    check(done.kv.get("errors") == "0", "sends failed: %s" % done.raw)
    seq = b.event("r", "SEQ", timeout=tmo(120))
    check(seq.kv.get("ok") == "1" and seq.kv.get("n") == str(n) and seq.kv.get("bytes") == str(n * MIB),
          "the receiver: %s" % seq.raw)
    # The link and the monitor set up during the freeze hold.
    b.cmd("kill", "p")
    down = a.event("w", "DOWN", timeout=tmo(10))
    check(down.kv.get("ref") == ref and down.reason() == "killed", "DOWN after the freeze: %s" % down.raw)
    b.cmd("kill", "q")
    ex = a.event("w", "EXIT", timeout=tmo(10))
    check(ex.reason() == "killed", "EXIT after the freeze: %s" % ex.raw)


def t_peer_death_wakes_sender(ctx):
    n = max(40, int(400 * SCALE))
    a, b, r, p, q = frozen_pair(ctx)
    ref = a.cmd("monitor", "w", p).args[0]
    start_flood(ctx, a, b, r, n, MIB)
    k = wait_for_stall(a, "s", 1.0, tmo(30))
    check(k < n, "the sender was not suspended: %d of %d sends done" % (k, n))
    b.kill(signal.SIGKILL)
    # The connection is gone: the sender resumes, and what it still sends
    # goes to a lost node (dropped, as any send to a dead process).
    done = a.event("s", "BIGDONE", timeout=tmo(60))
    check(done.kv.get("errors") == "0", "sends to the lost node failed: %s" % done.raw)
    down = a.event("w", "DOWN", timeout=tmo(10))
    check(down.kv.get("ref") == ref and down.reason() == "noconnection", "DOWN: %s" % down.raw)
    ctx.note("stalled at %d of %d, resumed when the peer died" % (k, n))


def t_small_limit_from_environment(ctx):
    """With a 64 KiB limit the sender of 64 KiB messages stops at what the
    kernel buffers plus one message."""
    size = 64 * 1024
    n = max(400, int(2000 * SCALE))
    a, b, r, p, q = frozen_pair(ctx, env={"SNOW_DIST_BUF_BUSY_LIMIT": str(size)})
    start_flood(ctx, a, b, r, n, size)
    k = wait_for_stall(a, "s", 1.0, tmo(30))
    check(k < n, "the sender was not suspended: %d of %d sends done" % (k, n))
    st = a.cmd("pstatus", "s")
    check(st.kv.get("status") == str(SNOW_PROC_WAITING), "the suspended sender's status: %s" % st.raw)
    b.kill(signal.SIGCONT)
    a.event("s", "BIGDONE", timeout=tmo(120))
    seq = b.event("r", "SEQ", timeout=tmo(120))
    check(seq.kv.get("ok") == "1" and seq.kv.get("n") == str(n), "the receiver: %s" % seq.raw)
    ctx.note("stalled at %d x 64 KiB" % k)


def main():
    if len(sys.argv) < 2:
        print("usage: test_busy.py <snow_node binary> [filters...]")
        return 2
    runner = Runner("busy", os.path.abspath(sys.argv[1]))
    runner.add("frozen_peer_suspends_sender", t_frozen_peer_suspends_sender)
    runner.add("peer_death_wakes_sender", t_peer_death_wakes_sender)
    runner.add("small_limit_from_environment", t_small_limit_from_environment)
    return runner.run(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
