#!/usr/bin/env python3
"""Multi-node tests of libsnowrt's distribution layer (ABI.md sections 3-5).

One file on purpose (over 800 lines): the cases share the node launcher and
the port-mapper handling, and ctest runs them as one suite.

Every test starts real node OS processes (tests/dist/snow_node.c) on
127.0.0.1, registered with the port mapper under names unique to this run,
drives them over stdin/stdout and checks what their processes observe.

  test_dist.py <path to snow_node> [name filters...] [--exclude=NAME...]

Prints one line per test ("ok"/"FAIL", time, measurements), the failing
nodes' last lines and stderr, then "N passed, N failed"; exits 1 on failure.
Node stderr logs stay in the printed directory.

Environment: SNOW_TEST_SCALE (work sizes, default 1), SNOW_TEST_TIMEOUT_SCALE
(deadlines, default 1), SNOW_TEST_VERBOSE=1 (echo every line),
SNOW_TEST_TICK_MS (partition tick, default 400), and SNOW_DIST_TRACE=1 is
passed through to the nodes (their stderr logs).

Scenarios: monitor_down, node_down_up, link_exit, partition (both
directions); wrong_cookie; remote_spawn, named_send, unlink, demonitor,
disconnect, signal_order (both directions); partition_200ms;
nodeup_first_nodedown_last; node_stop_start; big_messages; explicit_port;
duplicate_name; sigterm; program_with_a_node_ends; raw_pid_names_no_process;
bad_input (a raw protocol client); connect_timeout
and peer_closes_mid_handshake (peers that give up mid-handshake);
custom_reason_names; oversized_exit_reason; send_latency (a busy sender does not hold its messages);
node_monitor_unreachable, node_monitor_connects,
simultaneous_connect, simultaneous_send, hub_and_leaves (12 nodes),
reconnect_storm; many_monitors_and_links (10,000 each) and ordering
(1,000,000 messages).

Directions: the four scenarios of the distribution issue run both ways.
"A->B" means the watching/acting node is A and it opens the connection;
"B->A" swaps the roles (the watcher is B) and the connection is opened by the
other node, so each role is tested on both the connecting and the accepting
side of a connection and on both sides of the simultaneous-connect order.
"""

import socket
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nodelib import (SCALE, TSCALE, Runner, check, describe_pid, pid_of, tmo)  # noqa: E402

PANIC_RE = re.compile(r"snow_node\.c:\d+: (.*)$")


def hx(s):
    return s.encode().hex()


def check_pid(got, want, what):
    check(pid_of(got) == pid_of(want), "%s: pid %s, expected %s" % (what, describe_pid(got), describe_pid(want)))
    check(got == want, "%s: pid encodings differ: %s vs %s" % (what, got, want))


def check_reason(ev, reason, text=None, what="event"):
    check(ev.reason() == reason, "%s: reason %s (%s), expected %s" % (what, ev.reason(), ev.rtext(), reason))
    if text is not None:
        check(ev.rtext() == text, "%s: reason text %r, expected %r" % (what, ev.rtext(), text))


def check_panic(ev, msg, what):
    """A snow_panic crash: error "file:line: msg"."""
    check(ev.reason() == "error", "%s: reason %s (%r), expected error" % (what, ev.reason(), ev.rtext()))
    m = PANIC_RE.search(ev.rtext() or "")
    check(m and m.group(1) == msg, "%s: error text %r is not 'snow_node.c:LINE: %s'" % (what, ev.rtext(), msg))


_seq = [0]


def sync(x, xlabel, y, ylabel, ypid):
    """x's worker sends a message to y's worker and we wait until it arrives:
    every signal x's worker sent to it before (link, monitor, ...) has been
    applied (per-pair ordering, ABI section 3)."""
    _seq[0] += 1
    data = hx("sync%d" % _seq[0])
    x.cmd("send", xlabel, ypid, data)
    y.event(ylabel, "MSG", lambda l: l.kv.get("data") == data, desc="sync message %s" % data)


def pair(ctx, direction, tick=None, env=None):
    """Starts A and B; returns (X, Y): X the watcher/actor, Y the other,
    connected as described in the module docstring. Each has worker 'ctl'."""
    a = ctx.node("a", tick=tick, env=env)
    b = ctx.node("b", tick=tick, env=env)
    x, y = (a, b) if direction == "A->B" else (b, a)
    x.spawn("ctl", trap=True)
    y.spawn("ctl", trap=True)
    opener, other = (x, y) if direction == "A->B" else (y, x)
    ln = opener.cmd("connect", "ctl", other.name)
    check(ln.args[0] == "0", "connect returned %s" % ln.raw)
    return x, y


def elapsed_ms(ev, t0_ns):
    return (ev.t - t0_ns) / 1e6


# ---------------------------------------------------------------- (a) remote monitor -> DOWN


def t_monitor_down(ctx, direction):
    x, y = pair(ctx, direction)
    x.spawn("w")
    # A crash (snow_panic) arrives with its reason, ref and pid.
    p = y.spawn("p")
    ref = x.cmd("monitor", "w", p).args[0]
    check(ref != "0", "monitor returned 0")
    sync(x, "w", y, "p", p)
    y.cmd("crash", "p", "boom_a")
    y.event("p", "DIED")
    down = x.event("w", "DOWN")
    check(down.kv.get("ref") == ref, "DOWN ref %s, expected %s" % (down.kv.get("ref"), ref))
    check_pid(down.kv.get("pid"), p, "DOWN")
    check_panic(down, "boom_a", "DOWN after crash")
    # Other reasons keep their identity across the wire.
    cases = [("custom", ("exit", "custom_reason_1"), "custom", "custom_reason_1"),
             ("normal", ("exit", "normal"), "normal", None),
             ("shutdown", ("exit", "shutdown"), "shutdown", None),
             ("killed", None, "killed", None)]
    for i, (label, how, reason, text) in enumerate(cases):
        q = y.spawn("q%d" % i)
        r = x.cmd("monitor", "w", q).args[0]
        sync(x, "w", y, "q%d" % i, q)
        if how:
            y.cmd(how[0], "q%d" % i, how[1])
        else:
            y.cmd("kill", "q%d" % i)
        d = x.event("w", "DOWN", desc="DOWN for %s" % label)
        check(d.kv.get("ref") == r, "%s: DOWN ref %s, expected %s" % (label, d.kv.get("ref"), r))
        check_pid(d.kv.get("pid"), q, "DOWN %s" % label)
        check_reason(d, reason, text, "DOWN %s" % label)
    # A monitor of a remote process that is already dead: DOWN noproc.
    r = x.cmd("monitor", "w", p).args[0]
    d = x.event("w", "DOWN", desc="DOWN noproc")
    check(d.kv.get("ref") == r, "noproc: ref %s, expected %s" % (d.kv.get("ref"), r))
    check_pid(d.kv.get("pid"), p, "DOWN noproc")
    check_reason(d, "noproc", None, "DOWN for a dead pid")
    # Exactly one DOWN per ref.
    x.expect_none("w", "DOWN", desc="second DOWN")


# ---------------------------------------------------------------- (b) node monitor, SIGKILL, restart


def restart(ctx, old):
    """Starts a node with old's name again (the port mapper may take a moment
    to drop the killed node's registration: retried until a deadline)."""
    from nodelib import SnowNode
    deadline = time.monotonic() + tmo(10)
    tries = 0
    while True:
        tries += 1
        n = SnowNode(ctx, old.tag, cookie=old.cookie, tick=old.tick, expect_ready=False)
        ln = n.wait_line(lambda l: l.kind in ("ready", "startfail"), tmo(15), "ready")
        if ln.kind == "ready":
            if tries > 1:
                ctx.note("restart needed %d tries" % tries)
            return n
        n.killed = True  # exited by itself with status 2
        n.close()
        check(time.monotonic() < deadline, "restart of %s failed: %s" % (old.name, ln.raw))
        time.sleep(0.05)


def t_node_down_up(ctx, direction):
    """X monitors node Y; Y is SIGKILLed: NODEDOWN (and DOWN noconnection);
    Y restarts under the same name. A node monitor does not reconnect by
    itself (ABI section 4 only promises NODEUP "when it is (re)established";
    docs/distribution.md: "the next send, link, monitor or connect does"), so
    the connection is re-established explicitly: by X in A->B, by the new Y
    in B->A; either way X's monitor gets NODEUP, once."""
    x, y = pair(ctx, direction)
    x.spawn("w", trap=True)
    p = y.spawn("p")
    # In B->A, Y's connect returns when Y has the handshake's last message,
    # and X may mark the connection up a moment later (its loop thread can be
    # preempted between writing that message and going up); a monitor set
    # in between rightly gets NODEUP. X's frames leave only once X is up, so
    # a message from X arriving at Y proves the node monitor below is set
    # while connected.
    sync(x, "w", y, "p", p)
    mid = x.cmd("nodemon", "w", y.name).args[0]
    ref = x.cmd("monitor", "w", p).args[0]
    sync(x, "w", y, "p", p)
    check(not x.pending("w", "NODEUP"), "NODEUP from a monitor set while connected: %s" % x.pending("w", "NODEUP"))
    t0 = time.monotonic_ns()
    y.kill(signal.SIGKILL)
    nd = x.event("w", "NODEDOWN")
    check(nd.kv.get("node") == y.name, "NODEDOWN for %s, expected %s" % (nd.kv.get("node"), y.name))
    d = x.event("w", "DOWN")
    check(d.kv.get("ref") == ref, "DOWN ref mismatch")
    check_reason(d, "noconnection", None, "DOWN on node loss")
    ctx.note("SIGKILL->NODEDOWN %.1f ms" % elapsed_ms(nd, t0))
    # Same name again: a new incarnation.
    y2 = restart(ctx, y)
    y2.spawn("ctl", trap=True)
    if direction == "A->B":
        ln = x.cmd("connect", "w", y2.name)  # the watcher reconnects itself
    else:
        ln = y2.cmd("connect", "ctl", x.name)  # the restarted node connects
    check(ln.args[0] == "0", "reconnect returned %s" % ln.raw)
    up = x.event("w", "NODEUP")
    check(up.kv.get("node") == y.name, "NODEUP for %s" % up.kv.get("node"))
    x.expect_none("w", "NODEUP", desc="second NODEUP")
    x.expect_none("w", "NODEDOWN", desc="second NODEDOWN")
    # Old-incarnation handles never alias the new node's processes.
    p2 = y2.spawn("p")
    check(pid_of(p2)[3] != pid_of(p)[3], "same creation after restart: %s %s" % (describe_pid(p), describe_pid(p2)))
    r_old = x.cmd("monitor", "w", p).args[0]
    d = x.event("w", "DOWN", lambda l: l.kv.get("ref") == r_old, desc="DOWN for an old-incarnation pid")
    check_reason(d, "noproc", None, "monitor of an old-incarnation pid")
    x.cmd("send", "w", p, hx("to-the-old-one"))
    r_new = x.cmd("monitor", "w", p2).args[0]
    sync(x, "w", y2, "p", p2)
    check(not y2.pending("p", "MSG", lambda l: l.kv.get("data") == hx("to-the-old-one")),
          "a message to the old incarnation's pid reached the new one")
    y2.cmd("crash", "p", "second_life")
    d = x.event("w", "DOWN", lambda l: l.kv.get("ref") == r_new, desc="DOWN from the new incarnation")
    check_pid(d.kv.get("pid"), p2, "DOWN from the new incarnation")
    check_panic(d, "second_life", "DOWN from the new incarnation")
    # The node monitor still works for the new incarnation, and stops when cancelled.
    x.cmd("nodedemon", "w", mid)
    y2.kill(signal.SIGKILL)
    x.expect_none("w", "NODEDOWN", desc="NODEDOWN after snow_node_demonitor", window=0.3)


# ---------------------------------------------------------------- (c) links across nodes


def t_link_exit(ctx, direction):
    x, y = pair(ctx, direction)
    # X's process crashes: its links on Y exit (or trap).
    x.spawn("p1")
    p2 = y.spawn("p2")
    p3 = y.spawn("p3", trap=True)
    p1 = x.cmd("pid", "p1").args[0]
    x.cmd("link", "p1", p2)
    x.cmd("link", "p1", p3)
    sync(x, "p1", y, "p2", p2)
    sync(x, "p1", y, "p3", p3)
    x.cmd("crash", "p1", "boom_c1")
    died = y.event("p2", "DIED", desc="linked non-trapping process exits")
    check_panic(died, "boom_c1", "linked p2's exit reason")
    ex = y.event("p3", "EXIT", desc="EXIT at the trapping linked process")
    check_pid(ex.kv.get("from"), p1, "EXIT from")
    check_panic(ex, "boom_c1", "EXIT reason")
    # The reverse: Y's process crashes, X's linked processes react.
    x.spawn("q1")
    x.spawn("q1t", trap=True)
    q2 = y.spawn("q2")
    x.cmd("link", "q1", q2)
    x.cmd("link", "q1t", q2)
    sync(x, "q1", y, "q2", q2)
    sync(x, "q1t", y, "q2", q2)
    y.cmd("crash", "q2", "boom_c2")
    died = x.event("q1", "DIED", desc="X's non-trapping process exits")
    check_panic(died, "boom_c2", "q1's exit reason")
    ex = x.event("q1t", "EXIT")
    check_pid(ex.kv.get("from"), q2, "EXIT from")
    check_panic(ex, "boom_c2", "q1t's EXIT reason")
    # Link made from Y's side, X's process killed: killed travels.
    k1 = x.spawn("k1")
    y.spawn("k2", trap=True)
    y.cmd("link", "k2", k1)
    sync(y, "k2", x, "k1", k1)
    x.cmd("kill", "k1")
    ex = y.event("k2", "EXIT")
    check_pid(ex.kv.get("from"), k1, "EXIT from a killed process")
    check_reason(ex, "killed", None, "EXIT of a killed linked process")
    # Custom reason through a link.
    c1 = x.spawn("c1")
    y.spawn("c2", trap=True)
    y.cmd("link", "c2", c1)
    sync(y, "c2", x, "c1", c1)
    x.cmd("exit", "c1", "my_custom")
    ex = y.event("c2", "EXIT")
    check_reason(ex, "custom", "my_custom", "custom reason through a link")
    # Normal exit through a link: no effect on a non-trapping process.
    n1 = x.spawn("n1")
    y.spawn("n2")
    y.cmd("link", "n2", n1)
    sync(y, "n2", x, "n1", n1)
    x.cmd("exit", "n1", "normal")
    x.event("n1", "DIED")
    y.expect_none("n2", "DIED", desc="exit of a process linked to one that exited normally")
    # exit/2 across nodes: trapping target gets EXIT from the sender; kill is untrappable.
    e1 = x.spawn("e1")
    y.cmd("sendexit", "c2", e1, "custom", "go_away")  # c2 is alive (trapping)
    died = x.event("e1", "DIED")
    check_reason(died, "custom", "go_away", "exit/2 across nodes")
    t1 = x.spawn("t1", trap=True)
    c2 = y.cmd("pid", "c2").args[0]
    y.cmd("sendexit", "c2", t1, "custom", "trapped_one")
    ex = x.event("t1", "EXIT")
    check_pid(ex.kv.get("from"), c2, "exit/2 EXIT from the sender")
    check_reason(ex, "custom", "trapped_one", "exit/2 to a trapping process")
    y.cmd("sendexit", "c2", t1, "killed")
    died = x.event("t1", "DIED")
    check_reason(died, "killed", None, "remote kill of a trapping process")
    # Links are idempotent: linked twice from one side and once from the other, one EXIT.
    d1 = x.spawn("d1", trap=True)
    d2 = y.spawn("d2")
    x.cmd("link", "d1", d2)
    x.cmd("link", "d1", d2)
    y.cmd("link", "d2", d1)
    sync(x, "d1", y, "d2", d2)
    sync(y, "d2", x, "d1", d1)
    y.cmd("crash", "d2", "once")
    ex = x.event("d1", "EXIT")
    check_panic(ex, "once", "EXIT of a doubly linked process")
    x.expect_none("d1", "EXIT", desc="second EXIT for one link")
    # Linking to a dead remote process: EXIT noproc (trapping).
    y.spawn("z", trap=True)
    y.cmd("link", "z", p1)
    ex = y.event("z", "EXIT")
    check_pid(ex.kv.get("from"), p1, "noproc EXIT from")
    check_reason(ex, "noproc", None, "link to a dead remote process")


# ---------------------------------------------------------------- (d) partition (SIGSTOP)


def t_partition(ctx, direction, tick_ms):
    """Y frozen with SIGSTOP (no close): X's linked processes get
    noconnection (exit / EXIT), its monitor DOWN noconnection, its node
    monitor NODEDOWN, each at least 0.75x the tick time after the last
    frame from Y (bounded below by the start of the last sync) and at most
    1.25x (+ slack) after the freeze (event times are the node's
    CLOCK_MONOTONIC stamps).
    After SIGCONT, Y's process linked to X's exits with noconnection too."""
    x, y = pair(ctx, direction, tick=tick_ms)
    p2 = y.spawn("p2")
    x.spawn("p1")
    x.spawn("p1t", trap=True)
    x.spawn("w", trap=True)
    x.cmd("link", "p1", p2)
    x.cmd("link", "p1t", p2)
    ref = x.cmd("monitor", "w", p2).args[0]
    x.cmd("nodemon", "w", y.name)
    for lbl in ("p1", "p1t", "w"):
        # The last frame X receives from Y before the freeze arrives during
        # the last sync, so X's silence starts after t_sync and at most at
        # t0: the lower bound is judged from t_sync, the upper one from t0.
        t_sync = time.monotonic_ns()
        sync(x, lbl, y, "p2", p2)
    t0 = time.monotonic_ns()
    y.kill(signal.SIGSTOP)
    wait = tmo(tick_ms / 1000 * 1.25 + 5)
    evs = {
        "p1 exit": x.event("p1", "DIED", timeout=wait),
        "p1t EXIT": x.event("p1t", "EXIT", timeout=wait),
        "w DOWN": x.event("w", "DOWN", timeout=wait),
        "w NODEDOWN": x.event("w", "NODEDOWN", timeout=wait),
    }
    check_reason(evs["p1 exit"], "noconnection", None, "linked non-trapping process")
    check_reason(evs["p1t EXIT"], "noconnection", None, "linked trapping process")
    check_pid(evs["p1t EXIT"].kv.get("from"), p2, "noconnection EXIT from")
    check_reason(evs["w DOWN"], "noconnection", None, "monitor")
    check(evs["w DOWN"].kv.get("ref") == ref, "DOWN ref mismatch")
    lo = 0.75 * tick_ms
    slack = 100 * max(1.0, TSCALE)  # ms: scheduling, pipes, loaded machines
    hi = 1.25 * tick_ms + slack
    times = {k: elapsed_ms(v, t0) for k, v in evs.items()}
    ctx.note("tick %d ms, detected after %s ms" % (tick_ms, "/".join("%.0f" % times[k] for k in sorted(times))))
    for k, ms in times.items():
        since_sync = elapsed_ms(evs[k], t_sync)
        check(lo <= since_sync, "%s %.0f ms after the last sync began, before %.0f (tick %d ms)" % (k, since_sync, lo, tick_ms))
        check(ms <= hi, "%s after %.0f ms, past %.0f (tick %d ms)" % (k, ms, hi, tick_ms))
    # Y wakes up: its side of the links fires too (p2 was linked to p1 and p1t).
    y.kill(signal.SIGCONT)
    died = y.event("p2", "DIED", timeout=tmo(tick_ms / 1000 * 1.25 + 5), desc="p2 exit after resuming")
    check_reason(died, "noconnection", None, "p2 on the frozen node after it resumes")
    x.expect_none("w", "DOWN", desc="second DOWN")
    x.expect_none("p1t", "EXIT", desc="second EXIT")


# ---------------------------------------------------------------- wrong cookie


def t_wrong_cookie(ctx):
    a = ctx.node("a", cookie="cookie_one")
    b = ctx.node("b", cookie="cookie_two")
    a.spawn("w", trap=True)
    a.cmd("nodemonall", "w", 1)
    pb = b.spawn("nb", trap=True)
    b.cmd("nodemonall", "nb", 1)
    ln = a.cmd("connect", "w", b.name, ok=False)
    check(ln.what == "err" and ln.args and ln.args[0] == "-9", "connect with the wrong cookie: %s (want -9 EAUTH)" % ln.raw)
    ln = b.cmd("connect", "nb", a.name, ok=False)
    check(ln.what == "err" and ln.args and ln.args[0] == "-9", "reverse connect: %s (want -9 EAUTH)" % ln.raw)
    # Nothing gets through: messages, named sends, links.
    a.cmd("send", "w", pb, hx("should-not-arrive"))
    a.cmd("sendnamed", "w", "nb", b.name, hx("nor-this"))
    a.cmd("link", "w", pb)
    ex = a.event("w", "EXIT", desc="EXIT noconnection for a link to an unreachable node")
    check_reason(ex, "noconnection", None, "link to a node that refuses us")
    r = a.cmd("monitor", "w", pb).args[0]
    d = a.event("w", "DOWN", desc="DOWN for a monitor of a process on an unreachable node")
    check(d.kv.get("ref") == r, "DOWN ref")
    check_reason(d, "noconnection", None, "monitor of a process on a node that refuses us")
    b.expect_none("nb", "MSG", desc="message across a refused connection")
    b.expect_none("nb", "NODEUP", desc="NODEUP for a refused node")
    a.expect_none("w", "NODEUP", desc="NODEUP for a refused node")
    ln = a.cmd("nodes", "w")
    check(ln.args[0] == "-", "connected nodes after refused connects: %s" % ln.raw)


# ---------------------------------------------------------------- host names


def t_host_names(ctx):
    """A node named with a host name (not an address) is reached through the
    resolver; a host that does not resolve fails the connect with ENONODE."""
    host = socket.gethostname()
    try:
        addr = socket.gethostbyname(host)
    except OSError:
        addr = None
    check(addr is not None, "this machine's host name %r does not resolve to IPv4 (see /etc/hosts)" % host)
    a = ctx.node("a")
    b = ctx.node("b", host=host)
    a.spawn("w", trap=True)
    a.cmd("nodemonall", "w", 1)
    pb = b.spawn("nb", trap=True)
    a.cmd("connect", "w", b.name)
    up = a.event("w", "NODEUP", desc="NODEUP for the node named by host name")
    check(up.kv.get("node") == b.name, "NODEUP node %s, want %s" % (up.kv.get("node"), b.name))
    a.cmd("send", "w", pb, hx("by-host-name"))
    m = b.event("nb", "MSG", desc="message to a node named by host name")
    check(m.kv.get("data") == hx("by-host-name"), "message bytes: %s" % m.raw)
    ln = a.cmd("connect", "w", "x@no-such-host.invalid", ok=False)
    check(ln.what == "err" and ln.args and ln.args[0] == "-7",
          "connect to an unresolvable host: %s (want -7 ENONODE)" % ln.raw)


# ---------------------------------------------------------------- service calls


def t_service_call(ctx, direction):
    """snow_service_call to a server on the other node: the server sees the
    caller as a pid of the caller's node, its reply reaches the call; a call
    to a dead remote server fails with ENOPROC."""
    x, y = pair(ctx, direction)
    pc = x.spawn("c")
    ps = y.spawn("srv")
    ln = x.cmd("call", "c", ps, hx("hello"), 10000)
    check(ln.args and ln.args[0] == hx("re:hello"), "reply to a remote call: %s" % ln.raw)
    ev = y.event("srv", "CALLED")
    check(ev.kv.get("rc") == "0", "snow_service_reply on the server: %s" % ev.raw)
    check(pid_of(ev.kv.get("caller")) == pid_of(pc),
          "the server saw caller %s, not %s" % (describe_pid(ev.kv.get("caller")), describe_pid(pc)))
    # Twice more: each reply belongs to its own call.
    for text in ("second", "third"):
        ln = x.cmd("call", "c", ps, hx(text), 10000)
        check(ln.args and ln.args[0] == hx("re:" + text), "reply to call %r: %s" % (text, ln.raw))
    # The server's DIED comes from its terminate callback, before its exit
    # is done; a monitor's DOWN on the caller's node comes after it.
    x.spawn("w")
    x.cmd("monitor", "w", ps)
    y.cmd("exit", "srv", "normal")
    y.event("srv", "DIED")
    x.event("w", "DOWN", desc="DOWN of the exited server")
    ln = x.cmd("call", "c", ps, hx("nobody"), 10000, ok=False)
    check(ln.what == "err" and ln.args and ln.args[0] == "-3", "call to a dead remote server: %s (want -3 ENOPROC)" % ln.raw)


# ---------------------------------------------------------------- node monitors across a restart


def t_node_monitor_survives_restart(ctx):
    """A node monitor set before snow_node_stop stays active until cancelled:
    NODEDOWN at the stop, NODEUP when the restarted node reconnects, NODEDOWN
    again when the peer dies."""
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("w")
    a.cmd("nodemon", "w", b.name)
    a.cmd("connect", "w", b.name)
    a.event("w", "NODEUP")
    a.cmd("nodestop", "w")
    a.event("w", "NODEDOWN")
    a.cmd("nodestart", "w", a.name, a.cookie)
    a.cmd("connect", "w", b.name)
    up = a.event("w", "NODEUP", desc="NODEUP after the node restarted")
    check(up.kv.get("node") == b.name, "NODEUP node %s" % up.kv.get("node"))
    b.kill(signal.SIGKILL)
    a.event("w", "NODEDOWN", desc="NODEDOWN when the peer dies after the restart")


# ---------------------------------------------------------------- remote spawn


def t_remote_spawn_monitor(ctx, direction):
    """snow_node_spawn_opts with the monitor option: one spawn request; the
    monitor is in place when the call returns (a child that returns at once
    is still seen), its DOWN carries the ref the call gave and the child's
    reason, and node loss gives DOWN noconnection with that ref."""
    x, y = pair(ctx, direction)
    x.spawn("w")
    pid, ref = x.cmd("rspawnmon", "w", y.name, "worker", "sm1").args[:2]
    check(pid != "0" and ref != "0", "snow_node_spawn_opts with monitor: pid %s ref %s" % (pid, ref))
    y.event("sm1", "STARTED")
    y.cmd("exit", "sm1", "spawn_monitor_reason")
    d = x.event("w", "DOWN")
    check(d.kv.get("ref") == ref, "DOWN ref %s, expected the spawn's %s" % (d.kv.get("ref"), ref))
    check_pid(d.kv.get("pid"), pid, "DOWN pid")
    check_reason(d, "custom", "spawn_monitor_reason", "DOWN of the monitored spawn")
    # A child that returns at once: its DOWN normal still arrives.
    pq, rq = x.cmd("rspawnmon", "w", y.name, "quick", "q").args[:2]
    check(pq != "0", "spawn of quick returned 0")
    d = x.event("w", "DOWN", desc="DOWN of a monitored child that returns at once")
    check(d.kv.get("ref") == rq, "DOWN ref %s, expected %s" % (d.kv.get("ref"), rq))
    check_reason(d, "normal", None, "monitored child returning at once")
    # An unknown function: 0 and no monitor (no DOWN).
    pu, ru = x.cmd("rspawnmon", "w", y.name, "no_such_function", "u").args[:2]
    check(pu == "0" and ru == "0", "spawn of an unknown function: pid %s ref %s" % (pu, ru))
    x.expect_none("w", "DOWN", desc="DOWN after a failed spawn")
    # Node loss: DOWN noconnection with the spawn's ref.
    pn, rn = x.cmd("rspawnmon", "w", y.name, "worker", "sm2").args[:2]
    y.event("sm2", "STARTED")
    y.kill(signal.SIGKILL)
    d = x.event("w", "DOWN", desc="DOWN of a monitored spawn on node loss")
    check(d.kv.get("ref") == rn, "DOWN ref %s, expected %s" % (d.kv.get("ref"), rn))
    check_reason(d, "noconnection", None, "monitored spawn on node loss")


def t_remote_spawn(ctx, direction):
    x, y = pair(ctx, direction)
    x.spawn("w", trap=True)
    pid = x.cmd("rspawn", "w", y.name, "worker", 1, "rs1").args[0]
    check(pid != "0", "snow_node_spawn returned 0")
    st = y.event("rs1", "STARTED")
    check_pid(st.kv.get("pid"), pid, "spawned process's own pid")
    check(pid_of(pid)[0] == y.name, "spawned pid's node is %s" % pid_of(pid)[0])
    x.cmd("send", "w", pid, hx("hello-rs1"))
    y.event("rs1", "MSG", lambda l: l.kv.get("data") == hx("hello-rs1"))
    y.cmd("crash", "rs1", "rs1_down")
    ex = x.event("w", "EXIT", desc="EXIT from the linked remotely spawned process")
    check_pid(ex.kv.get("from"), pid, "EXIT from")
    check_panic(ex, "rs1_down", "linked spawn's crash")
    # Parent crash kills a linked remotely spawned child.
    x.spawn("parent")
    child = x.cmd("rspawn", "parent", y.name, "worker", 1, "rs3").args[0]
    check(child != "0", "spawn rs3")
    y.event("rs3", "STARTED")
    x.cmd("crash", "parent", "parent_gone")
    died = y.event("rs3", "DIED")
    check_panic(died, "parent_gone", "linked child of a crashed parent")
    # The link is in place before the child runs: a child that crashes or
    # returns at once is still seen (EXIT error / EXIT normal when trapping).
    pc = x.cmd("rspawn", "w", y.name, "crasher", 1, "c").args[0]
    check(pc != "0", "spawn of crasher returned 0")
    ex = x.event("w", "EXIT", desc="EXIT from a child that crashes at once")
    check_pid(ex.kv.get("from"), pc, "EXIT from")
    check_panic(ex, "crasher", "child crashing at once")
    pq = x.cmd("rspawn", "w", y.name, "quick", 1, "q").args[0]
    check(pq != "0", "spawn of quick returned 0")
    ex = x.event("w", "EXIT", desc="EXIT normal from a child that returns at once")
    check_pid(ex.kv.get("from"), pq, "EXIT from")
    check_reason(ex, "normal", None, "child returning at once")
    x.spawn("nt")
    x.send_line("%d rspawn nt %s crasher 1 c2" % (x.next_id, y.name))  # nt may die before it can answer
    x.next_id += 1
    died = x.event("nt", "DIED", desc="a non-trapping parent dies with its crashing linked child")
    check_panic(died, "crasher", "parent of a crashing linked child")
    # snow_node_spawn on the caller's own node spawns locally.
    pl = x.cmd("rspawn", "w", x.name, "worker", 1, "local1").args[0]
    st = x.event("local1", "STARTED")
    check_pid(st.kv.get("pid"), pl, "local snow_node_spawn")
    # Without link: no EXIT.
    pid2 = x.cmd("rspawn", "w", y.name, "worker", 0, "rs2").args[0]
    check(pid2 != "0", "spawn without link returned 0")
    y.event("rs2", "STARTED")
    y.cmd("crash", "rs2", "unlinked")
    y.event("rs2", "DIED")
    x.expect_none("w", "EXIT", desc="EXIT from an unlinked spawn")
    # A node that does not exist: 0, promptly.
    ln = x.cmd("rspawn", "w", "ghost%d@127.0.0.1" % os.getpid(), "worker", 1, "rsg", timeout=tmo(20))
    check(ln.args[0] == "0", "spawn on a missing node returned %s" % ln.args[0])
    # Unknown function: 0, and nothing runs.
    ln = x.cmd("rspawn", "w", y.name, "no_such_function", 1, "rs9")
    check(ln.args[0] == "0", "spawn of an unknown function returned %s" % ln.args[0])
    x.expect_none("w", "EXIT", desc="EXIT after a failed spawn")
    check(not y.pending("rs9"), "something ran for an unknown function")


# ---------------------------------------------------------------- named send


def t_named_send(ctx, direction):
    x, y = pair(ctx, direction)
    x.spawn("w")
    y.spawn("target")
    x.cmd("sendnamed", "w", "target", y.name, hx("by-name"))
    m = y.event("target", "MSG")
    check(m.kv.get("data") == hx("by-name"), "named message bytes %s" % m.kv.get("data"))
    payload = bytes(range(256)) * 3
    x.cmd("sendnamed", "w", "target", y.name, payload.hex())
    m = y.event("target", "MSG")
    check(m.kv.get("data") == payload.hex(), "768 binary bytes arrive intact")
    x.cmd("sendnamed", "w", "target", y.name, "-")
    m = y.event("target", "MSG")
    check(m.kv.get("len") == "0", "empty named message: %s" % m.raw)
    ln = x.cmd("sendnamed", "w", "nobody_here", y.name, hx("lost"))
    check(ln.args[0] == "0", "named send to an unknown name returns %s" % ln.raw)
    x.cmd("sendnamed", "w", "w", "-", hx("local"))
    x.event("w", "MSG", lambda l: l.kv.get("data") == hx("local"))
    # A named send to an unknown node is dropped without harm.
    ln = x.cmd("sendnamed", "w", "target", "nosuchnode%d@127.0.0.1" % os.getpid(), hx("void"))
    check(ln.what == "ok", "named send to an unknown node: %s" % ln.raw)
    x.cmd("sendnamed", "w", "target", y.name, hx("after"))
    y.event("target", "MSG", lambda l: l.kv.get("data") == hx("after"))
    y.expect_none("target", "MSG", desc="extra message")


# ---------------------------------------------------------------- many monitors, many links


def t_many_monitors(ctx, n):
    a = ctx.node("a")
    b = ctx.node("b")
    p = b.spawn("p")
    a.spawn("m")
    ln = a.cmd("mmon", "m", p, n, timeout=tmo(60))
    check(ln.kv.get("zero") == "0" and ln.kv.get("duprefs") == "0", "mmon: %s" % ln.raw)
    sync(a, "m", b, "p", p)
    a.spawn("l")
    a.cmd("mlink", "l", p, n, timeout=tmo(60))
    a.event("l", "MLINKED", timeout=tmo(60))
    sync(a, "l", b, "p", p)
    t0 = time.monotonic_ns()
    b.kill(signal.SIGKILL)
    md = a.event("m", "MDOWN", timeout=tmo(30))
    ml = a.event("l", "MLINK", timeout=tmo(30))
    check(md.kv.get("dups") == "0" and md.kv.get("badpid") == "0", "monitors: %s" % md.raw)
    check(md.kv.get("reasons") == "noconnection:%d" % n, "monitor reasons: %s" % md.kv.get("reasons"))
    check(ml.kv.get("badfrom") == "0" and ml.kv.get("reasons") == "noconnection:%d" % n, "links: %s" % ml.raw)
    ctx.note("%d DOWN in %.1f ms (last %.1f ms after SIGKILL), %d EXIT last %.1f ms after" %
             (n, (int(md.t) - int(md.kv["first"])) / 1e6, elapsed_ms(md, t0), n, elapsed_ms(ml, t0)))
    a.expect_none("m", "MDUP", desc="duplicate DOWN")


# ---------------------------------------------------------------- reclaiming remote pids


def remote_pids(node):
    ln = node.cmd("stats")
    return int(ln.kv["remote_pids"]), int(ln.kv["node_entries"])


def t_remote_pids_reclaimed(ctx, n):
    """A's handles for n processes of B that linked to A's worker and then
    exited are reclaimed (snow_rt_stats counts them; ticks sweep them)."""
    a = ctx.node("a", tick=400)
    b = ctx.node("b", tick=400)
    x = a.spawn("x", trap=True)
    b.spawn("l")
    b.cmd("mlink", "l", x, n, timeout=tmo(60))
    b.event("l", "MLINKED", timeout=tmo(60))
    deadline = time.monotonic() + tmo(20)
    while remote_pids(a)[0] < n:
        check(time.monotonic() < deadline, "A holds %d remote pids, expected at least %d" % (remote_pids(a)[0], n))
        time.sleep(0.02)
    held = remote_pids(a)[0]
    # x dies: its exit reaches every linked helper, which then exits.
    a.cmd("kill", "x")
    ml = b.event("l", "MLINK", timeout=tmo(30))
    check(ml.kv.get("reasons") == "killed:%d" % n, "helpers' EXIT reasons: %s" % ml.kv.get("reasons"))
    deadline = time.monotonic() + tmo(10)
    while True:
        pids, entries = remote_pids(a)
        if pids <= 2:
            break
        check(time.monotonic() < deadline, "A still holds %d remote pids (%d rows) after their processes exited"
              % (pids, entries))
        time.sleep(0.05)
    ctx.note("%d remote pids held while linked, %d after the processes exited" % (held, pids))



def t_dead_pids_named_late(ctx, _n):
    """An EXIT and a DOWN from remote processes that died still name them
    when the receiver takes them seconds later, after several ticks swept
    A's node table: the pid in the message encodes (it was reclaimed at
    the first sweep, so the soak printed from=0)."""
    a = ctx.node("a", tick=400)
    b = ctx.node("b", tick=400)
    a.spawn("x", trap=True)
    a.spawn("w")
    y = b.spawn("y")
    z = b.spawn("z")
    a.cmd("link", "x", y)
    ref = a.cmd("monitor", "w", z).args[0]
    sync(a, "x", b, "y", y)
    sync(a, "w", b, "z", z)
    spin_ms = 3000  # more than five ticks of 400 ms, each a full sweep
    a.cmd("spin", "x", spin_ms)
    a.cmd("spin", "w", spin_ms)
    b.cmd("exit", "y", "custom", "late")
    b.cmd("crash", "z", "late")
    for label in ("x", "w"):
        a.event(label, "SPUN", timeout=tmo(30))
    ex = a.event("x", "EXIT")
    check(pid_of(ex.kv.get("from")) == pid_of(y), "EXIT applied late names %s, expected %s" % (ex.kv.get("from"), y))
    check_reason(ex, "custom", "late", "late EXIT")
    d = a.event("w", "DOWN", lambda l: l.kv.get("ref") == ref)
    check(pid_of(d.kv.get("pid")) == pid_of(z), "DOWN applied late names %s, expected %s" % (d.kv.get("pid"), z))


# ---------------------------------------------------------------- ordering


def t_ordering(ctx, n):
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("s")
    r = b.spawn("r")
    b.cmd("seqrecv", "r", n)
    t0 = time.monotonic()
    ln = a.cmd("seqsend", "s", r, n, timeout=tmo(30 + n / 10000))
    check(ln.kv.get("errors") == "0", "send errors: %s" % ln.raw)
    res = b.event("r", "SEQ", lambda l: "ok" in l.kv or "bad" in l.args or l.kv.get("expected"),
                  timeout=tmo(30 + n / 10000))
    dt = time.monotonic() - t0
    bad = b.pending("r", "SEQ")
    check(res.kv.get("ok") == "1", "sequence broken: %s %s" % (res.raw, "; ".join(l.raw for l in bad)))
    check(res.kv.get("n") == str(n), "received %s of %d" % (res.kv.get("n"), n))
    ctx.note("%d messages in %.2fs (%.0f/s), send took %s ms" % (n, dt, n / dt, ln.kv.get("ms")))


# ---------------------------------------------------------------- unlink, demonitor


def t_unlink(ctx, direction):
    x, y = pair(ctx, direction)
    # Unlink, then the other side crashes: nothing.
    x.spawn("u1", trap=True)
    u2 = y.spawn("u2")
    x.cmd("link", "u1", u2)
    sync(x, "u1", y, "u2", u2)
    x.cmd("unlink", "u1", u2)
    y.cmd("crash", "u2", "after_unlink")
    y.event("u2", "DIED")
    x.expect_none("u1", "EXIT", desc="EXIT after unlink")
    # Unlink is bidirectional: the unlinker crashes, the other side lives.
    v1 = x.spawn("v1")
    v2 = y.spawn("v2")
    y.cmd("link", "v2", v1)
    sync(y, "v2", x, "v1", v1)
    x.cmd("unlink", "v1", v2)
    sync(x, "v1", y, "v2", v2)  # the unlink reached v2
    x.cmd("crash", "v1", "unlinked_crash")
    x.event("v1", "DIED")
    y.expect_none("v2", "DIED", desc="exit of a process unlinked from the crashed one")
    # Unlink then crash at once: the unlink reaches the peer first, nothing fires.
    x.spawn("i1")
    i2 = y.spawn("i2")
    x.cmd("link", "i1", i2)
    sync(x, "i1", y, "i2", i2)
    x.cmd("unlink", "i1", i2)
    x.cmd("crash", "i1", "right_after_unlink")
    x.event("i1", "DIED")
    y.expect_none("i2", "DIED", desc="exit through a link removed before the crash")
    # An exit signal already in flight when unlink is called has no effect
    # once unlink returns (trapping: no EXIT; not trapping: no exit).
    for trap in (True, False):
        s1 = "s1t" if trap else "s1"
        x.spawn(s1, trap=trap)
        s2 = y.spawn("s2" + s1)
        x.cmd("link", s1, s2)
        sync(x, s1, y, "s2" + s1, s2)
        x.cmd("spinunlink", s1, s2, int(600 * max(1, min(3, tmo(1)))))
        y.cmd("crash", "s2" + s1, "in_flight")
        y.event("s2" + s1, "DIED")
        un = x.event(s1, "UNLINKED", timeout=tmo(10))
        check(un.kv.get("rc") == "0", "unlink rc %s" % un.raw)
        x.expect_none(s1, "EXIT", desc="EXIT delivered after unlink returned")
        check(not x.pending(s1, "DIED"), "%s exited from a link it had removed: %s" % (s1, x.pending(s1, "DIED")))
    # Relinking after an unlink works again.
    x.spawn("r1", trap=True)
    r2 = y.spawn("r2")
    x.cmd("link", "r1", r2)
    x.cmd("unlink", "r1", r2)
    x.cmd("link", "r1", r2)
    sync(x, "r1", y, "r2", r2)
    y.cmd("crash", "r2", "relinked")
    ex = x.event("r1", "EXIT")
    check_panic(ex, "relinked", "EXIT after relink")


def t_demonitor(ctx, direction):
    x, y = pair(ctx, direction)
    x.spawn("w")
    p = y.spawn("p")
    ref = x.cmd("monitor", "w", p).args[0]
    sync(x, "w", y, "p", p)
    ln = x.cmd("demonitor", "w", ref)
    check(ln.args[0] == "0", "demonitor of an active monitor returned %s" % ln.args[0])
    ln = x.cmd("demonitor", "w", ref)
    check(ln.args[0] == "1", "second demonitor returned %s" % ln.args[0])
    y.cmd("crash", "p", "after_demonitor")
    y.event("p", "DIED")
    x.expect_none("w", "DOWN", desc="DOWN after demonitor")
    # A DOWN in flight when demonitor is called never shows up.
    x.spawn("w2")
    p2 = y.spawn("p2")
    ref2 = x.cmd("monitor", "w2", p2).args[0]
    sync(x, "w2", y, "p2", p2)
    x.cmd("spindemonitor", "w2", ref2, int(600 * max(1, min(3, tmo(1)))))
    y.cmd("crash", "p2", "in_flight")
    y.event("p2", "DIED")
    x.event("w2", "DEMONITORED", timeout=tmo(10))
    x.expect_none("w2", "DOWN", desc="DOWN delivered after demonitor returned")
    # Other monitors of the same process are unaffected.
    x.spawn("w3")
    p3 = y.spawn("p3")
    ra = x.cmd("monitor", "w3", p3).args[0]
    rb = x.cmd("monitor", "w3", p3).args[0]
    x.cmd("demonitor", "w3", ra)
    sync(x, "w3", y, "p3", p3)
    y.cmd("exit", "p3", "custom", "only_b")
    d = x.event("w3", "DOWN")
    check(d.kv.get("ref") == rb, "DOWN for ref %s, expected the remaining %s" % (d.kv.get("ref"), rb))
    check_reason(d, "custom", "only_b")
    x.expect_none("w3", "DOWN", desc="DOWN for the cancelled ref")


# ---------------------------------------------------------------- disconnect


def t_disconnect(ctx, direction):
    x, y = pair(ctx, direction)
    x.cmd("nodemonall", "ctl", 1)
    y.cmd("nodemonall", "ctl", 1)
    p1 = x.spawn("p1", trap=True)
    p2 = y.spawn("p2", trap=True)
    x.cmd("link", "p1", p2)
    sync(x, "p1", y, "p2", p2)
    x.spawn("wx")
    qy = y.spawn("qy")
    rx = x.cmd("monitor", "wx", qy).args[0]
    sync(x, "wx", y, "qy", qy)
    y.spawn("wy")
    qx = x.spawn("qx")
    ry = y.cmd("monitor", "wy", qx).args[0]
    sync(y, "wy", x, "qx", qx)
    ln = x.cmd("disconnect", "ctl", y.name)
    check(ln.args[0] == "0", "disconnect returned %s" % ln.raw)
    # This side.
    ex = x.event("p1", "EXIT")
    check_pid(ex.kv.get("from"), p2, "EXIT from")
    check_reason(ex, "noconnection", None, "disconnecting side's link")
    d = x.event("wx", "DOWN")
    check(d.kv.get("ref") == rx, "DOWN ref")
    check_reason(d, "noconnection", None, "disconnecting side's monitor")
    nd = x.event("ctl", "NODEDOWN")
    check(nd.kv.get("node") == y.name, "NODEDOWN node")
    # The other side.
    ex = y.event("p2", "EXIT")
    check_pid(ex.kv.get("from"), p1, "EXIT from")
    check_reason(ex, "noconnection", None, "other side's link")
    d = y.event("wy", "DOWN")
    check(d.kv.get("ref") == ry, "DOWN ref")
    check_reason(d, "noconnection", None, "other side's monitor")
    nd = y.event("ctl", "NODEDOWN")
    check(nd.kv.get("node") == x.name, "NODEDOWN node")
    for node, lbl, what in ((x, "p1", "EXIT"), (y, "p2", "EXIT"), (x, "wx", "DOWN"), (y, "wy", "DOWN"),
                            (x, "ctl", "NODEDOWN"), (y, "ctl", "NODEDOWN")):
        node.expect_none(lbl, what, desc="second %s" % what, window=0.1)
    # Sending to a pid of the disconnected node connects again (on demand).
    x.cmd("send", "p1", p2, hx("after disconnect"))
    y.event("p2", "MSG", lambda l: l.kv.get("data") == hx("after disconnect"), desc="message that reconnects")
    x.event("ctl", "NODEUP")
    y.event("ctl", "NODEUP")
    ln = x.cmd("disconnect", "ctl", "nosuch%d@127.0.0.1" % os.getpid(), ok=False)
    check(ln.what == "err", "disconnect of an unknown node: %s" % ln.raw)


# ---------------------------------------------------------------- node monitor details


def t_node_monitor_unreachable(ctx):
    a = ctx.node("a")
    a.spawn("w")
    ghost = "ghost%d@127.0.0.1" % os.getpid()
    a.cmd("nodemon", "w", ghost)
    nd = a.event("w", "NODEDOWN", desc="NODEDOWN at once for a node that cannot be connected")
    check(nd.kv.get("node") == ghost, "NODEDOWN node %s" % nd.kv.get("node"))
    ln = a.cmd("connect", "w", ghost, ok=False)
    check(ln.what == "err" and ln.args[0] in ("-7", "-8"), "connect to a missing node: %s" % ln.raw)
    # A node that does not listen any more (killed) is unreachable too.
    b = ctx.node("b")
    b.kill(signal.SIGKILL)
    ln = a.cmd("connect", "w", b.name, ok=False)
    check(ln.what == "err", "connect to a killed node: %s" % ln.raw)


def t_node_monitor_connects(ctx):
    """snow_node_monitor of a reachable, unconnected node: NODEUP when the
    connection it triggers is up (ABI: 'NODEUP when it is established')."""
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("w")
    b.spawn("all")
    b.cmd("nodemonall", "all", 1)
    a.cmd("nodemon", "w", b.name)
    up = a.event("w", "NODEUP", desc="NODEUP after monitoring a reachable node")
    check(up.kv.get("node") == b.name, "NODEUP node")
    up = b.event("all", "NODEUP")
    check(up.kv.get("node") == a.name, "monitor_all NODEUP node")
    a.expect_none("w", "NODEDOWN")


def t_simultaneous_connect(ctx):
    """Both nodes connect to each other at the same moment: both calls
    succeed, one connection survives, signals flow."""
    for round_ in range(3):
        a = ctx.node("a%d" % round_)
        b = ctx.node("b%d" % round_)
        a.spawn("w", trap=True)
        pb = b.spawn("w", trap=True)
        ida = str(a.next_id)
        a.next_id += 1
        idb = str(b.next_id)
        b.next_id += 1
        a.send_line("%s connect w %s" % (ida, b.name))
        b.send_line("%s connect w %s" % (idb, a.name))
        ra = a.wait_line(lambda l: l.kind == "R" and l.label == ida, tmo(20), "connect answer")
        rb = b.wait_line(lambda l: l.kind == "R" and l.label == idb, tmo(20), "connect answer")
        check(ra.what == "ok" and ra.args[0] == "0", "A's connect: %s" % ra.raw)
        check(rb.what == "ok" and rb.args[0] == "0", "B's connect: %s" % rb.raw)
        a.cmd("link", "w", pb)
        sync(a, "w", b, "w", pb)
        b.cmd("crash", "w", "simul")
        ex = a.event("w", "EXIT")
        check_panic(ex, "simul", "EXIT after a simultaneous connect")


# ---------------------------------------------------------------- ordering of messages and signals


def seq_of(ev):
    d = bytes.fromhex(ev.kv.get("data", ""))
    return int.from_bytes(d[8:16], "little") if len(d) == 16 else None


def t_signal_order(ctx, direction):
    """ABI 3: messages from one sender arrive in send order together with
    that sender's exit signals; a DOWN comes after the dead process's
    messages."""
    x, y = pair(ctx, direction)
    k = 200
    # Messages, then the link's exit signal.
    x.spawn("p")
    q = y.spawn("q", trap=True)
    x.cmd("link", "p", q)
    x.cmd("seqsend", "p", q, k)
    x.cmd("exit", "p", "custom", "last_words")
    ex = y.event("q", "EXIT")
    check_reason(ex, "custom", "last_words", "EXIT after messages")
    hist = y.history("q", ("MSG", "EXIT"))
    seqs = [seq_of(l) for l in hist if l.what == "MSG"]
    check(hist[-1].what == "EXIT", "a message arrived after the sender's EXIT: %s" % hist[-1].raw)
    check(seqs == list(range(k)), "messages before EXIT: %d, in order: %s" % (len(seqs), seqs == sorted(seqs)))
    # Messages, then DOWN (the watcher is the receiver).
    w = x.spawn("w")
    y.spawn("r")
    ref = x.cmd("monitor", "w", y.cmd("pid", "r").args[0]).args[0]
    sync(x, "w", y, "r", y.cmd("pid", "r").args[0])
    y.cmd("seqsend", "r", w, k)
    y.cmd("crash", "r", "after_messages")
    d = x.event("w", "DOWN", lambda l: l.kv.get("ref") == ref)
    hist = x.history("w", ("MSG", "DOWN"))
    seqs = [seq_of(l) for l in hist if l.what == "MSG" and seq_of(l) is not None]
    check(hist[-1].what == "DOWN", "a message arrived after the DOWN: %s" % hist[-1].raw)
    check(seqs == list(range(k)), "messages before DOWN: %d" % len(seqs))
    check_panic(d, "after_messages", "DOWN")


def t_nodeup_first(ctx):
    """NODEUP precedes any message from the node; NODEDOWN follows the last."""
    a = ctx.node("a")
    b = ctx.node("b")
    w = b.spawn("w")
    b.cmd("nodemonall", "w", 1)
    a.spawn("s")
    a.cmd("send", "s", w, hx("first"))  # connects on demand
    b.event("w", "MSG", lambda l: l.kv.get("data") == hx("first"))
    hist = b.history("w", ("MSG", "NODEUP"))
    check(hist[0].what == "NODEUP", "the node's first message came before its NODEUP: %s" % hist[0].raw)
    a.cmd("seqsend", "s", w, 500)
    a.kill(signal.SIGKILL)
    b.event("w", "NODEDOWN")
    b.barrier("w")
    hist = b.history("w", ("MSG", "NODEDOWN"))
    after = hist[[l.what for l in hist].index("NODEDOWN") + 1:]
    check(not after, "messages after NODEDOWN: %s" % after[:3])
    ctx.note("%d of 500 messages arrived before the SIGKILL" % sum(1 for l in hist if seq_of(l) is not None))


# ---------------------------------------------------------------- node stop and start


def t_node_stop_start(ctx):
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("ctl")
    wa = a.spawn("w", trap=True)
    b.spawn("watch")
    b.cmd("nodemonall", "watch", 1)
    p = b.spawn("p")
    a.cmd("link", "w", p)
    sync(a, "w", b, "p", p)
    rb = b.cmd("monitor", "watch", wa).args[0]
    sync(b, "watch", a, "w", wa)
    b.event("watch", "NODEUP")
    ln = a.cmd("nodestop", "ctl")
    check(ln.args[0] == "0", "snow_node_stop: %s" % ln.raw)
    ex = a.event("w", "EXIT")
    check_reason(ex, "noconnection", None, "link on the stopping node")
    died = b.event("p", "DIED")
    check_reason(died, "noconnection", None, "linked process on the peer")
    d = b.event("watch", "DOWN")
    check(d.kv.get("ref") == rb, "DOWN ref")
    check_reason(d, "noconnection", None, "peer's monitor")
    b.event("watch", "NODEDOWN")
    ln = b.cmd("connect", "watch", a.name, ok=False)
    check(ln.what == "err", "connect to a stopped node succeeded: %s" % ln.raw)
    ln = a.cmd("nodes", "ctl")
    check(ln.args[0] == "-", "nodes after stop: %s" % ln.raw)
    # Start again under the same name: a new creation, reachable again.
    ln = a.cmd("nodestart", "ctl", a.name, a.cookie)
    check(ln.args[0] == "0", "snow_node_start after stop: %s" % ln.raw)
    ln = b.cmd("connect", "watch", a.name)
    check(ln.args[0] == "0", "connect after restart: %s" % ln.raw)
    b.event("watch", "NODEUP")
    w2 = a.spawn("w2")
    check(w2 != wa and pid_of(w2)[3] != pid_of(wa)[3], "same creation after restart")
    b.cmd("send", "watch", w2, hx("hello again"))
    a.event("w2", "MSG", lambda l: l.kv.get("data") == hx("hello again"))
    # The old pid of w (previous incarnation) is not w2 or anyone else.
    r = b.cmd("monitor", "watch", wa).args[0]
    d = b.event("watch", "DOWN", lambda l: l.kv.get("ref") == r)
    check_reason(d, "noproc", None, "monitor of a pid of the stopped incarnation")


# ---------------------------------------------------------------- sizes


def t_big_messages(ctx):
    a = ctx.node("a")
    b = ctx.node("b")
    b.spawn("bigs")
    a.spawn("all")
    a.cmd("nodemonall", "all", 1)
    r = b.spawn("r")
    for size in (65536 * 4 + 3, 5 << 20):
        ln = b.cmd("sendbig", "bigs", r, size, timeout=tmo(60))  # local first: the reference sum
        want = ln.kv["sum"]
        b.event("r", "MSG", lambda l: l.kv.get("len") == str(size), timeout=tmo(30))
        ln = a.cmd("sendbig", "all", r, size, timeout=tmo(60))
        check(ln.args[0] == "0" and ln.kv["sum"] == want, "sendbig: %s" % ln.raw)
        m = b.event("r", "MSG", lambda l: l.kv.get("len") == str(size), timeout=tmo(60))
        check(m.kv.get("sum") == want, "%d-byte message: checksum %s, expected %s" % (size, m.kv.get("sum"), want))
    # Beyond the runtime's 64 MiB frame limit but far below SNOW_MAX_MSG_SIZE:
    # either delivered or refused at the sender (EMSGSIZE); never a torn-down
    # connection (which would fire noconnection for every link to the node).
    p = b.spawn("linked")
    a.spawn("lw", trap=True)
    a.cmd("link", "lw", p)
    sync(a, "lw", b, "linked", p)
    size = 70 << 20
    ln = a.cmd("sendbig", "all", r, size, timeout=tmo(120))
    if ln.args[0] == "0":
        # Whichever comes first: the message, or the connection's loss.
        deadline = time.monotonic() + tmo(60)
        got = lost = []
        while time.monotonic() < deadline:
            got = b.pending("r", "MSG", lambda l: l.kv.get("len") == str(size))
            lost = a.pending("all", "NODEDOWN")
            if got or lost:
                break
            time.sleep(0.05)
        check(not lost, "a 70 MiB message (send returned 0) tore the connection down: %s; link EXIT: %s" %
              (lost[0].raw if lost else "", [l.raw for l in a.pending("lw", "EXIT")]))
        check(got, "a 70 MiB message (send returned 0) never arrived")
        check(got[0].kv.get("sum") == ln.kv["sum"], "70 MiB message corrupted")
    else:
        check(ln.args[0] == "-13", "70 MiB send returned %s" % ln.raw)
    a.expect_none("all", "NODEDOWN", desc="NODEDOWN caused by a large message")
    a.expect_none("lw", "EXIT", desc="link EXIT caused by a large message")


# ---------------------------------------------------------------- names, ports, signals


def t_explicit_port(ctx):
    """name@host:port connects without the port mapper lookup."""
    from nodelib import epmd_port
    a = ctx.node("a")
    b = ctx.node("b")
    port = epmd_port(b.name)
    check(port, "no port for %s in the port mapper" % b.name)
    a.spawn("w")
    pb = b.spawn("t")
    ln = a.cmd("connect", "w", "%s:%d" % (b.name, port))
    check(ln.args[0] == "0", "connect %s:%d: %s" % (b.name, port, ln.raw))
    ln = a.cmd("nodes", "w")
    check(ln.args[0] == b.name, "connected node list: %s (the port must not be part of the name)" % ln.raw)
    a.cmd("send", "w", pb, hx("via port"))
    b.event("t", "MSG", lambda l: l.kv.get("data") == hx("via port"))
    ln = a.cmd("connect", "w", "%s:%d" % (b.name, 1), ok=False)
    check(ln.what == "ok" or ln.args[0] in ("-7", "-8"), "connect to an already connected node at a bad port: %s" % ln.raw)


def t_duplicate_name(ctx):
    a = ctx.node("a")
    a.spawn("w")
    from nodelib import SnowNode
    dup = SnowNode(ctx, a.tag, expect_ready=False)
    ln = dup.wait_line(lambda l: l.kind in ("ready", "startfail"), tmo(15), "ready or startfail")
    check(ln.kind == "startfail", "a second node with the same name started: %s" % ln.raw)
    dup.killed = True  # exits with status 2 by design
    ctx.note(ln.raw)
    b = ctx.node("b")
    b.spawn("w")
    ln = b.cmd("connect", "w", a.name)
    check(ln.args[0] == "0", "the first node is still reachable: %s" % ln.raw)


def t_sigterm(ctx):
    """SIGTERM halts a node (status 143); peers see NODEDOWN and one EXIT."""
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("w", trap=True)
    a.cmd("nodemonall", "w", 1)
    p = b.spawn("p")
    a.cmd("link", "w", p)
    sync(a, "w", b, "p", p)
    a.event("w", "NODEUP")
    b.kill(signal.SIGTERM)
    ex = a.event("w", "EXIT")
    check(ex.reason() in ("shutdown", "noconnection"), "EXIT reason %s" % ex.raw)
    a.event("w", "NODEDOWN")
    b.p.wait(timeout=tmo(10))
    check(b.p.returncode == 143, "exit status after SIGTERM: %s" % b.p.returncode)
    b.killed = True
    a.expect_none("w", "EXIT", desc="second EXIT")
    ctx.note("peer saw %s" % ex.reason())


def t_program_with_a_node_ends(ctx):
    """ABI v2 section 2: a started node does not keep a program alive. A's
    only process is a server; while it waits, A stays up (a message from B
    reaches it); once it returns, run_scheduler stops the node, B sees
    NODEDOWN, and A exits 0."""
    b = ctx.node("b")
    b.spawn("w")
    a = ctx.node("a", env={"SNOW_NODE_SERVE_ONCE": "1"})
    a.event("srv", "STARTED")
    b.cmd("nodemon", "w", a.name)
    b.event("w", "NODEUP")
    b.cmd("sendnamed", "w", "srv", a.name, hx("last one"))
    a.event("srv", "MSG", lambda l: l.kv.get("data") == hx("last one"))
    nd = b.event("w", "NODEDOWN", desc="NODEDOWN once A's last process ended")
    check(nd.kv.get("node") == a.name, "NODEDOWN node %s" % nd.kv.get("node"))
    a.wait_line(lambda l: l.kind == "bye", tmo(10), "A's run_scheduler to return")
    a.p.wait(timeout=tmo(10))
    check(a.p.returncode == 0, "A exited with status %s" % a.p.returncode)


def t_raw_pid_names_no_process(ctx):
    """ABI v2: a pid value sent as raw bytes (as Snow does) is unknown on
    another node, never one of its processes: two nodes that spawned the
    same sequence of processes give them different values; on B, A's raw
    value gets DOWN noproc, an EXIT noproc for a link, and a send is dropped.
    As a term, the same pid reaches A's process."""
    a = ctx.node("a")
    b = ctx.node("b")
    pa = a.spawn("w", trap=True)
    b.spawn("w", trap=True)
    raw_a = a.cmd("rawpid", "w").args[0]
    raw_b = b.cmd("rawpid", "w").args[0]
    check(raw_a != raw_b, "both nodes' first workers have the pid value %s" % raw_a)
    ref = b.cmd("monitor", "w", raw_a).args[0]
    down = b.event("w", "DOWN", desc="DOWN noproc for a foreign raw pid")
    check_reason(down, "noproc", what="DOWN")
    check(down.kv.get("ref") == ref, "DOWN ref %s, monitor ref %s" % (down.kv.get("ref"), ref))
    b.cmd("link", "w", raw_a)
    ex = b.event("w", "EXIT", desc="EXIT noproc for a link to a foreign raw pid")
    check_reason(ex, "noproc", what="EXIT")
    b.cmd("send", "w", raw_a, hx("raw"))
    b.cmd("send", "w", pa, hx("as a term"))
    a.event("w", "MSG", lambda l: l.kv.get("data") == hx("as a term"))
    b.expect_none("w", "MSG", desc="a message sent to a raw foreign pid arriving here")
    a.expect_none("w", "MSG", pred=lambda l: l.kv.get("data") == hx("raw"), desc="a raw-pid message arriving")


# ---------------------------------------------------------------- bad input from a peer


def t_bad_input(ctx):
    """Malformed traffic closes that connection only; the node keeps serving
    others. Uses a raw protocol client (nodelib.RawPeer)."""
    from nodelib import RawPeer, epmd_port, etf_binary_body, etf_pid_body, etf_small_int, etf_atom_body
    b = ctx.node("b")
    a = ctx.node("a")
    t = b.spawn("t")
    b.spawn("all")
    b.cmd("nodemonall", "all", 1)
    a.spawn("w")
    port = epmd_port(b.name)
    check(port, "no port")
    silent = RawPeer(port)  # says nothing: must not block anyone
    cases = [
        ("garbage before the handshake", lambda r: r.send_raw(b"\x00\x05hello")),
        ("a bad name message", lambda r: r.send_hs(b"N" + b"\xff" * 14)),
        ("an over-long handshake frame", lambda r: r.send_raw(b"\xff\xff" + b"N" * 100)),
        ("a version 5 handshake", lambda r: r.send_hs(b"n\x00\x05\x00\x00\x00\x00rawpeer@127.0.0.1")),
    ]
    for what, act in cases:
        r = RawPeer(port)
        act(r)
        check(r.closed_within(tmo(6)), "the node did not close a connection after %s" % what)
        r.close()
    # After a proper handshake: one good message (the raw client works), then bad frames.
    fake = "raw%d@127.0.0.1" % os.getpid()
    frames = [
        ("a frame without the pass-through byte", b"\x01\x02\x03"),
        ("truncated control term", b"\x70\x83\x68\x03\x61"),
        ("control message that is not a tuple", b"\x70\x83" + etf_small_int(5)),
        # A frame length over the per-message limit no longer closes the
        # connection: the frame is refused alone (tests/unit
        # dist_fragments_test.cpp, test_hostile.py fragments cases).
        ("an atom with a length beyond the frame", b"\x70\x83\x68\x04\x61\x06\x77\xff" + b"x" * 10),
        ("a binary length beyond the frame", b"\x70\x83\x68\x04" + etf_small_int(6) + etf_pid_body(fake, 1, 0, 0x1234)
         + etf_atom_body("") + etf_atom_body("t") + b"\x83\x6d\xff\xff\xff\xff" + b"z" * 8),
        ("deeply nested tuples", b"\x70\x83" + b"\x68\x01" * 100000 + etf_small_int(1)),
        ("deeply nested lists", b"\x70\x83" + b"\x6c\x00\x00\x00\x01" * 100000 + b"\x6a" + b"\x6a" * 0),
    ]
    for i, (what, body) in enumerate(frames):
        r = RawPeer(port)
        r.handshake(fake, b.cookie)
        up = b.event("all", "NODEUP", desc="NODEUP for the raw peer (%s)" % what)
        check(up.kv.get("node") == fake, "NODEUP node %s" % up.kv.get("node"))
        if i == 0:
            # REG_SEND {6, From, '', t} + binary: a positive control.
            r.send_frame(b"\x70\x83\x68\x04" + etf_small_int(6) + etf_pid_body(fake, 1, 0, 0x1234) + etf_atom_body("")
                         + etf_atom_body("t") + b"\x83" + etf_binary_body(b"from the raw peer"))
            b.event("t", "MSG", lambda l: l.kv.get("data") == hx("from the raw peer"), desc="message from the raw peer")
        if body is None:
            r.send_raw(b"\x7f\xff\xff\xff" + b"\x70" * 1000)
        else:
            r.send_frame(body)
        check(r.closed_within(tmo(6)), "the node did not close the connection after %s" % what)
        b.event("all", "NODEDOWN", desc="NODEDOWN after %s" % what)
        r.close()
        check(b.alive(), "the node died after %s" % what)
    # Meanwhile (and with the silent client still connected) real peers work.
    ln = a.cmd("connect", "w", b.name)
    check(ln.args[0] == "0", "connect while a silent client hangs: %s" % ln.raw)
    a.cmd("send", "w", t, hx("still fine"))
    b.event("t", "MSG", lambda l: l.kv.get("data") == hx("still fine"))
    check(silent.closed_within(tmo(8)), "a silent client was never timed out")
    silent.close()


# ---------------------------------------------------------------- peers that go away mid-handshake


def t_connect_timeout(ctx):
    """Connecting to a frozen node (the kernel accepts, nobody answers) fails
    with SNOW_ETIMEDOUT after the handshake timeout (5 s) while the caller's
    node keeps running; the frozen node, once resumed, survives the
    connection its peer gave up on and can be reached."""
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("w")
    a.spawn("other")
    pb = b.spawn("p")
    b.kill(signal.SIGSTOP)
    t0 = time.monotonic()
    cid = str(a.next_id)
    a.next_id += 1
    a.send_line("%s connect w %s" % (cid, b.name))
    a.barrier("other")  # other processes are not blocked by a pending connect
    check(time.monotonic() - t0 < 2, "a pending connect blocked other processes")
    ln = a.wait_line(lambda l: l.kind == "R" and l.label == cid, tmo(20), "connect answer")
    dt = time.monotonic() - t0
    check(ln.what == "err" and ln.args[0] == "-10", "connect to a frozen node: %s (want -10 ETIMEDOUT)" % ln.raw)
    check(3.5 <= dt <= 8 * max(1, ctx.runner.tscale), "ETIMEDOUT after %.1fs (docs: 5 s)" % dt)
    ctx.note("ETIMEDOUT after %.2fs" % dt)
    b.kill(signal.SIGCONT)
    b.barrier("p")
    time.sleep(tmo(0.3))  # the resumed node answers the dead connection now
    check(b.alive(), "the resumed node died (exit status %s) answering a connection its peer had closed" %
          b.p.poll())
    ln = a.cmd("connect", "w", b.name)
    check(ln.args[0] == "0", "connect after resume: %s" % ln.raw)
    a.cmd("send", "w", pb, hx("after resume"))
    b.event("p", "MSG", lambda l: l.kv.get("data") == hx("after resume"))


def t_peer_closes_mid_handshake(ctx):
    """A peer that sends its name and closes before the answer (a normal
    close) must not take the node down."""
    from nodelib import RAW_FLAGS, RawPeer, epmd_port
    b = ctx.node("b")
    b.spawn("t")
    port = epmd_port(b.name)
    check(port, "no port")
    b.kill(signal.SIGSTOP)  # so the close is queued before the node reads the name
    r = RawPeer(port)
    name = ("raw%d@127.0.0.1" % os.getpid()).encode()
    r.send_hs(b"N" + RAW_FLAGS.to_bytes(8, "big") + (7).to_bytes(4, "big") + len(name).to_bytes(2, "big") + name)
    r.close()
    b.kill(signal.SIGCONT)
    b.barrier("t")
    time.sleep(tmo(0.3))
    check(b.alive(), "the node died (exit status %s) when a peer closed during the handshake" % b.p.poll())
    a = ctx.node("a")
    a.spawn("w")
    ln = a.cmd("connect", "w", b.name)
    check(ln.args[0] == "0", "connect afterwards: %s" % ln.raw)


def t_custom_reason_names(ctx):
    """A custom reason keeps its meaning across the wire even when its text
    is the name of another reason: custom "normal" still kills a linked
    process on the other node, as it does on the same node."""
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("w", trap=True)
    for i, text in enumerate(("normal", "killed", "shutdown", "noconnection", "noproc", "kill")):
        lbl = "p%d" % i
        p = b.spawn(lbl)
        b.spawn("l%d" % i, trap=True)
        b.cmd("link", "l%d" % i, p)
        a.cmd("monitor", "w", p)
        a.cmd("link", "w", p)
        sync(a, "w", b, lbl, p)
        sync(b, "l%d" % i, b, lbl, p)
        b.cmd("exit", lbl, "custom", text)
        ref = b.event("l%d" % i, "EXIT")  # the same exit seen on the same node: the reference
        check_reason(ref, "custom", text, "local link")
        d = a.event("w", "DOWN")
        ex = a.event("w", "EXIT")
        check_reason(d, "custom", text, "DOWN across nodes for custom %r" % text)
        check_reason(ex, "custom", text, "EXIT across nodes for custom %r" % text)


def t_oversized_exit_reason(ctx):
    """A process may exit with a reason larger than one frame can carry (70
    MiB of error text here): its remote monitor and link still get `error`,
    with the text cut to fit, and the connection stays up (a frame that big
    would make the peer close it and fire noconnection everywhere)."""
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("w", trap=True)
    p = b.spawn("p")
    other = b.spawn("other")
    a.cmd("nodemon", "w", b.name)
    a.cmd("monitor", "w", p)
    a.cmd("link", "w", p)
    a.cmd("monitor", "w", other)
    sync(a, "w", b, "p", p)
    b.cmd("bigexit", "p", 70 << 20)
    d = a.event("w", "DOWN", timeout=tmo(60))
    ex = a.event("w", "EXIT", timeout=tmo(60))
    for ev, what in ((d, "DOWN"), (ex, "EXIT")):
        check(ev.reason() == "error" and ev.rtext().startswith("zzzz"), "%s: %s" % (what, ev.raw[:200]))
    a.cmd("send", "w", other, hx("still connected"))
    b.event("other", "MSG", lambda l: l.kv.get("data") == hx("still connected"))
    a.expect_none("w", "NODEDOWN")
    a.expect_none("w", "DOWN", desc="DOWN of the process that is still alive")


# ---------------------------------------------------------------- more nodes, more connections


def t_simultaneous_send(ctx):
    """Both nodes send to each other at once without a connection: both
    connect on demand at the same moment; no message is lost or reordered."""
    k = 50
    for r in range(8):
        a = ctx.node("a%d" % r)
        b = ctx.node("b%d" % r)
        pa = a.spawn("w")
        pb = b.spawn("w")
        a.send_line("%d seqsend w %s %d" % (a.next_id, pb, k))
        a.next_id += 1
        b.send_line("%d seqsend w %s %d" % (b.next_id, pa, k))
        b.next_id += 1
        for n in (a, b):
            for i in range(k):
                n.event("w", "MSG", lambda l, i=i: seq_of(l) == i, desc="message %d of %d (round %d)" % (i, k, r))
            seqs = [seq_of(l) for l in n.history("w", ("MSG",))]
            check(seqs == list(range(k)), "%s received %s" % (n.tag, seqs))


def t_hub_and_leaves(ctx):
    """Twelve nodes link to one process of a hub; all are killed: the hub's
    process gets twelve EXIT noconnection and its monitor twelve NODEDOWN."""
    hub = ctx.node("hub")
    hub.spawn("all")
    hub.cmd("nodemonall", "all", 1)
    hp = hub.spawn("t", trap=True)
    leaves = [ctx.node("leaf%d" % i) for i in range(12)]
    for leaf in leaves:
        leaf.spawn("w", trap=True)
        leaf.cmd("link", "w", hp)
    for leaf in leaves:
        sync(leaf, "w", hub, "t", hp)
    ups = {hub.event("all", "NODEUP").kv["node"] for _ in leaves}
    check(ups == {leaf.name for leaf in leaves}, "NODEUP for %s" % sorted(ups))
    for leaf in leaves:
        leaf.kill(signal.SIGKILL)
    downs = {hub.event("all", "NODEDOWN").kv["node"] for _ in leaves}
    check(downs == ups, "NODEDOWN for %s" % sorted(downs))
    froms = set()
    for _ in leaves:
        ex = hub.event("t", "EXIT")
        check_reason(ex, "noconnection", None, "EXIT from a killed leaf")
        froms.add(pid_of(ex.kv["from"])[0])
    check(froms == ups, "EXIT from %s" % sorted(froms))
    hub.expect_none("t", "EXIT", desc="extra EXIT")


def t_reconnect_storm(ctx):
    """Forty rounds of link, disconnect (alternating sides), reconnect on
    demand: each round fires exactly one noconnection on each side."""
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("w", trap=True)
    a.cmd("nodemonall", "w", 1)
    pb = b.spawn("p", trap=True)
    for i in range(40):
        a.cmd("link", "w", pb)
        sync(a, "w", b, "p", pb)
        a.event("w", "NODEUP", desc="NODEUP in round %d" % i)
        if i % 2:
            a.cmd("disconnect", "w", b.name)
        else:
            b.cmd("disconnect", "p", a.name)
        check_reason(a.event("w", "EXIT"), "noconnection", None, "round %d, A" % i)
        check_reason(b.event("p", "EXIT"), "noconnection", None, "round %d, B" % i)
        a.event("w", "NODEDOWN", desc="NODEDOWN in round %d" % i)
    a.expect_none("w", "EXIT", desc="extra EXIT")
    b.expect_none("p", "EXIT", desc="extra EXIT")


# ---------------------------------------------------------------- latency of a send


def t_send_latency(ctx):
    """A message to a remote process leaves at once, whatever the sender does
    next: a process that computes without yielding, an attached thread or a
    plain thread that sleeps outside the runtime (ABI 3: send "copies the
    bytes and delivers them"; any thread may send)."""
    a = ctx.node("a")
    b = ctx.node("b")
    a.spawn("s")
    r = b.spawn("r")
    a.cmd("connect", "s", b.name)
    sync(a, "s", b, "r", r)
    busy_ms = int(1500 * max(1.0, TSCALE))
    bound_ms = busy_ms / 5
    lat = {}
    for how in ("process", "attached thread", "plain thread"):
        data = hx("latency " + how)
        t0 = time.monotonic_ns()
        if how == "process":
            a.send_line("%d send s %s %s" % (a.next_id, r, data))
            a.send_line("%d spin s %d" % (a.next_id + 1, busy_ms))
            a.next_id += 2
        elif how == "attached thread":
            a.send_line("%d tsend %s %s" % (a.next_id, r, data))
            a.send_line("%d tsleep %d" % (a.next_id + 1, busy_ms))
            a.next_id += 2
        else:
            a.cmd("psend", r, data, busy_ms)
        m = b.event("r", "MSG", lambda l: l.kv.get("data") == data, timeout=tmo(10))
        lat[how] = (m.t - t0) / 1e6
        if how == "process":
            a.event("s", "SPUN", timeout=tmo(10))
        elif how == "attached thread":
            a.cmd("pid", "s", timeout=tmo(10))  # the reader thread is back
    ctx.note(", ".join("%s %.1f ms" % kv for kv in lat.items()))
    for how, ms in lat.items():
        check(ms < bound_ms, "a message sent by a %s arrived after %.0f ms (the sender was busy for %d ms after "
              "sending; bound %.0f ms)" % (how, ms, busy_ms, bound_ms))


def main():
    if len(sys.argv) < 2:
        print("usage: test_dist.py <snow_node binary> [filters...]")
        return 2
    runner = Runner("dist", os.path.abspath(sys.argv[1]))
    tick = int(os.environ.get("SNOW_TEST_TICK_MS", "400"))
    for d in ("A->B", "B->A"):
        runner.add("monitor_down[%s]" % d, t_monitor_down, d)
        runner.add("node_down_up[%s]" % d, t_node_down_up, d)
        runner.add("link_exit[%s]" % d, t_link_exit, d)
        runner.add("partition[%s]" % d, t_partition, d, tick)
    runner.add("wrong_cookie", t_wrong_cookie)
    runner.add("host_names", t_host_names)
    runner.add("node_monitor_survives_restart", t_node_monitor_survives_restart)
    for d in ("A->B", "B->A"):
        runner.add("service_call[%s]" % d, t_service_call, d)
    for d in ("A->B", "B->A"):
        runner.add("remote_spawn[%s]" % d, t_remote_spawn, d)
        runner.add("remote_spawn_monitor[%s]" % d, t_remote_spawn_monitor, d)
        runner.add("named_send[%s]" % d, t_named_send, d)
        runner.add("unlink[%s]" % d, t_unlink, d)
        runner.add("demonitor[%s]" % d, t_demonitor, d)
        runner.add("disconnect[%s]" % d, t_disconnect, d)
    runner.add("partition_200ms[A->B]", t_partition, "A->B", 200)
    for d in ("A->B", "B->A"):
        runner.add("signal_order[%s]" % d, t_signal_order, d)
    runner.add("nodeup_first_nodedown_last", t_nodeup_first)
    runner.add("node_stop_start", t_node_stop_start)
    runner.add("big_messages", t_big_messages)
    runner.add("explicit_port", t_explicit_port)
    runner.add("duplicate_name", t_duplicate_name)
    runner.add("sigterm", t_sigterm)
    runner.add("program_with_a_node_ends", t_program_with_a_node_ends)
    runner.add("raw_pid_names_no_process", t_raw_pid_names_no_process)
    runner.add("bad_input", t_bad_input)
    runner.add("connect_timeout", t_connect_timeout)
    runner.add("peer_closes_mid_handshake", t_peer_closes_mid_handshake)
    runner.add("custom_reason_names", t_custom_reason_names)
    runner.add("oversized_exit_reason", t_oversized_exit_reason)
    runner.add("send_latency", t_send_latency)
    runner.add("node_monitor_unreachable", t_node_monitor_unreachable)
    runner.add("node_monitor_connects", t_node_monitor_connects)
    runner.add("simultaneous_connect", t_simultaneous_connect)
    runner.add("simultaneous_send", t_simultaneous_send)
    runner.add("hub_and_leaves", t_hub_and_leaves)
    runner.add("reconnect_storm", t_reconnect_storm)
    runner.add("many_monitors_and_links", t_many_monitors, max(10, int(10000 * SCALE)))
    runner.add("remote_pids_reclaimed", t_remote_pids_reclaimed, max(300, int(3000 * SCALE)))
    runner.add("dead_pids_named_late", t_dead_pids_named_late, 0)
    runner.add("ordering", t_ordering, max(1000, int(1000000 * SCALE)))
    return runner.run(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
