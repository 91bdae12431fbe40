#!/usr/bin/env python3
"""Interop tests: a libsnowrt node (tests/dist/snow_node.c) and a real Erlang
node (erl, with tests/interop/snowpeer.erl compiled at test time) connect,
link, monitor and exchange messages both ways (ABI.md section 5).

  test_interop.py <path to snow_node> [name filters...]

Skips (prints "SKIP interop: ...", then "0 passed, 0 failed, 1 skipped",
exit 0) when erl/erlc are not installed. Same environment and output as
tests/dist/test_dist.py.

Scenarios: connect_erl_to_snow (net_adm:ping), connect_snow_to_erl
(snow_node_connect), wrong_cookie, erl_monitors_and_links_snow (panic ->
{error,<<"file:line: msg">>}, kill -> killed, custom, normal, shutdown, by
registered name, demonitor, exit/2 to erl), snow_monitors_and_links_erl
(exit(foo) -> custom "foo", killed, normal, shutdown, error -> term reason,
exit/2 and kill from erl, noproc, demonitor), messages (binaries both ways,
TERM with a decodable pid, send_term, named sends, order),
erl_monitor_nodes (nodeup, nodedown on SIGKILL and on halt),
disconnect (either side), erl_spawns_on_snow (spawn_request with link and
monitor), old_incarnation_pid, odd_reasons_round_trip and
odd_reasons_from_erl_processes (non-UTF-8 binaries and Latin-1 atoms as exit
reasons, the connection stays up), non_ascii_registered_name (erl monitors
and sends to 'caf\u00e9' by name), latin1_terms_echoed_verbatim
(a raw protocol client: our DOWN, spawn and net_kernel replies carry its
terms byte for byte).

One file on purpose (over 800 lines): the cases share the erl peer, the
node launcher and the port-mapper handling.
"""

import os
import re
import socket
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "dist"))

from nodelib import (HOST, Fail, Proc, Runner, check, describe_pid, payload_is, pid_of, tmo)  # noqa: E402

PANIC_RE = re.compile(r'^\{error,<<"(.*snow_node\.c):(\d+): (.*)">>\}$')


def hx(s):
    return s.encode().hex()


def rp(ev):
    """The Erlang-printed reason (~0p) of an erl-side event."""
    return bytes.fromhex(ev.kv.get("rp", "")).decode("utf-8", "replace")


class ErlNode(Proc):
    def __init__(self, ctx, short, cookie="snowcookie", sname=False, env=None, args=()):
        """sname: erl -sname, named short@<this host's name> (what most
        people type), instead of -name short@127.0.0.1. env: added to
        erl's environment. args: more erl arguments (-proto_dist ...)."""
        if sname:
            name = "%s@%s" % (short, socket.gethostname().split(".")[0])
        else:
            name = "%s@%s" % (short, HOST)
        argv = ["erl", "-sname" if sname else "-name", name, "-setcookie", cookie, "-noshell",
                "-pa", ctx.runner.beamdir] + list(args) + ["-s", "snowpeer", "main"]
        super().__init__(ctx, name, argv, env=env, tag=short)
        self.cookie = cookie
        ln = self.wait_line(lambda l: l.kind == "ready", tmo(30), "erl ready")
        check(ln.label == name, "erl says it is %s" % ln.label)

    def spawn(self, label, trap=False):
        ln = self.cmd("spawn", label, "trap" if trap else "")
        pid = ln.args[0]
        self.event(label, "STARTED")
        return pid


def nodes(ctx, snow_cookie="snowcookie"):
    e = ErlNode(ctx, ctx.uname("e"))
    s = ctx.node("s", cookie=snow_cookie)
    return e, s


def same_process(a_hex, b_hex, what):
    """Two hex ETF pids (possibly encoded differently: erl may use ATOM_EXT
    for the node name) denote the same process."""
    check(pid_of(a_hex) == pid_of(b_hex), "%s: %s is not %s" % (what, describe_pid(a_hex), describe_pid(b_hex)))


def snow_proc_watched_by_erl(e, s, label):
    """Spawns libsnowrt worker `label`, linked to and monitored by erl's w
    (both in place on return): (pid, monitor ref)."""
    p = s.spawn(label)
    ref = e.cmd("monitor", "w", p).args[0]
    e.cmd("link", "w", p)
    s.cmd("echo", label)
    # A barrier through erl -> snow: a message from w after its link.
    e.cmd("send", "w", p, hx("sync"))
    s.event(label, "MSG", lambda l: l.kv.get("data") == hx("sync"))
    return p, ref


def erl_proc_watched_by_snow(e, s, watcher, label):
    """Spawns erl worker `label`, linked to and monitored by libsnowrt's
    `watcher` (both in place on return): (pid, monitor ref)."""
    pe = e.spawn(label)
    ref = s.cmd("monitor", watcher, pe).args[0]
    s.cmd("link", watcher, pe)
    s.cmd("send", watcher, pe, hx("sync"))
    e.event(label, "MSG", lambda l: l.kv.get("data") == hx("sync"))
    return pe, ref


def down_and_exit(node, watcher, label, ref):
    """The DOWN (for monitor `ref`) and the EXIT that `watcher` gets when
    `label` dies."""
    down = node.event(watcher, "DOWN", desc="DOWN for %s" % label)
    ex = node.event(watcher, "EXIT", desc="EXIT for %s" % label)
    check(down.kv.get("ref") == ref, "DOWN ref %s, expected %s" % (down.kv.get("ref"), ref))
    return down, ex


# ---------------------------------------------------------------- connect both ways


def t_connect_erl_to_snow(ctx):
    e, s = nodes(ctx)
    s.spawn("all")
    s.cmd("nodemonall", "all", 1)
    e.spawn("w")
    e.cmd("monitor_nodes", "w")
    ln = e.cmd("ping", "w", s.name)
    check(ln.args[0] == "pong", "net_adm:ping(%s) = %s" % (s.name, ln.args[0]))
    up = s.event("all", "NODEUP")
    check(up.kv.get("node") == e.name, "NODEUP node %s" % up.kv.get("node"))
    up = e.event("w", "NODEUP")
    check(up.kv.get("node") == s.name, "erl nodeup %s" % up.kv.get("node"))
    ln = s.cmd("nodes", "all")
    check(e.name in ln.args[0].split(","), "snow_node_list: %s" % ln.raw)
    ln = e.cmd("nodes", "w")
    check(s.name in ln.args[0].split(","), "erl nodes(): %s" % ln.raw)


def t_connect_snow_to_erl(ctx):
    e, s = nodes(ctx)
    e.spawn("w")
    e.cmd("monitor_nodes", "w")
    s.spawn("c")
    s.cmd("nodemon", "c", e.name)
    ln = s.cmd("connect", "c", e.name)
    check(ln.args[0] == "0", "snow_node_connect(erl) = %s" % ln.raw)
    up = e.event("w", "NODEUP")
    check(up.kv.get("node") == s.name, "erl nodeup %s" % up.kv.get("node"))
    # The connection is usable right away, and stays up (erl does not drop us).
    pe = e.spawn("target")
    s.cmd("send", "c", pe, hx("after-connect"))
    m = e.event("target", "MSG")
    check(m.kv.get("data") == hx("after-connect"), "message bytes")
    ln = e.cmd("ping", "w", s.name)
    check(ln.args[0] == "pong", "ping back: %s" % ln.args[0])
    check(not s.pending("c", "NODEDOWN"), "NODEDOWN: %s" % s.pending("c", "NODEDOWN"))


def t_short_names(ctx):
    """erl -sname short@host and a libsnowrt node named s@host (the host's own
    name, resolved through the resolver) connect both ways and exchange
    messages."""
    host = socket.gethostname().split(".")[0]
    e = ErlNode(ctx, ctx.uname("e"), sname=True)
    s = ctx.node("s", host=host)
    e.spawn("w")
    e.cmd("monitor_nodes", "w")
    s.spawn("c")
    s.cmd("nodemonall", "c", 1)
    ln = s.cmd("connect", "c", e.name)
    check(ln.args[0] == "0", "snow_node_connect(%s) = %s" % (e.name, ln.raw))
    up = e.event("w", "NODEUP")
    check(up.kv.get("node") == s.name, "erl nodeup %s" % up.kv.get("node"))
    pe = e.spawn("target")
    s.cmd("send", "c", pe, hx("short-names"))
    m = e.event("target", "MSG")
    check(m.kv.get("data") == hx("short-names"), "message bytes")
    # And from erl's side, over the same connection and after a fresh one.
    ln = e.cmd("ping", "w", s.name)
    check(ln.args[0] == "pong", "net_adm:ping(%s) = %s" % (s.name, ln.args[0]))
    s.cmd("disconnect", "c", e.name)
    s.event("c", "NODEDOWN")
    ln = e.cmd("ping", "w", s.name)
    check(ln.args[0] == "pong", "ping after disconnect: %s" % ln.args[0])
    up = s.event("c", "NODEUP")
    check(up.kv.get("node") == e.name, "NODEUP node %s" % up.kv.get("node"))


def t_wrong_cookie(ctx):
    e, s = nodes(ctx, snow_cookie="not_the_cookie")
    s.spawn("c")
    s.cmd("nodemonall", "c", 1)
    e.spawn("w")
    ln = s.cmd("connect", "c", e.name, ok=False)
    check(ln.what == "err" and ln.args[0] == "-9", "connect to erl with a wrong cookie: %s (want -9)" % ln.raw)
    ln = e.cmd("ping", "w", s.name)
    check(ln.args[0] == "pang", "erl ping with a wrong cookie: %s" % ln.args[0])
    s.expect_none("c", "NODEUP")


# ---------------------------------------------------------------- global and visibility


def t_visibility(ctx):
    """A libsnowrt node is hidden by default (erl lists it in
    nodes(hidden), not nodes(), and reports it as hidden), visible with
    SNOW_DIST_VISIBLE=1, in either connect direction."""
    e = ErlNode(ctx, ctx.uname("e"))
    e.spawn("w")
    e.cmd("monitor_nodes", "w")
    hidden = ctx.node("h")
    visible = ctx.node("v", env={"SNOW_DIST_VISIBLE": "1"})
    check(e.cmd("ping", "w", hidden.name).args[0] == "pong", "ping the hidden node")
    up = e.event("w", "NODEUP", lambda l: l.kv.get("node") == hidden.name)
    check(up.kv.get("type") == "hidden", "erl sees the default node as %s" % up.kv.get("type"))
    visible.spawn("c")
    check(visible.cmd("connect", "c", e.name).args[0] == "0", "connect the visible node")
    up = e.event("w", "NODEUP", lambda l: l.kv.get("node") == visible.name)
    check(up.kv.get("type") == "visible", "erl sees the SNOW_DIST_VISIBLE=1 node as %s" % up.kv.get("type"))
    vis = e.cmd("visible", "w").args[0].split(",")
    hid = e.cmd("hidden", "w").args[0].split(",")
    check(visible.name in vis and hidden.name not in vis, "nodes() = %s" % vis)
    check(hidden.name in hid and visible.name not in hid, "nodes(hidden) = %s" % hid)
    bad = ctx.node("bad", env={"SNOW_DIST_VISIBLE": "maybe"}, expect_ready=False)
    ln = bad.wait_line(lambda l: l.kind in ("ready", "startfail"), tmo(15), "startfail")
    bad.killed = True  # exits with status 2 by design
    check(ln.kind == "startfail" and ln.label == "-1", "SNOW_DIST_VISIBLE=maybe: %s (want SNOW_EINVAL)" % ln.raw)


def t_global_with_snow_nodes(ctx):
    """Three erl nodes and two libsnowrt nodes, connected in both directions
    (erl to us, us to erl, us to us): global:sync() returns promptly on every
    erl node, global names and locks work among the erl nodes, and links and
    monitors between erl and libsnowrt processes keep working."""
    es = [ErlNode(ctx, ctx.uname("e%d" % i)) for i in (1, 2, 3)]
    s1, s2 = ctx.node("s1"), ctx.node("s2")
    for e in es:
        e.spawn("w", trap=True)
    for e in es[1:]:
        check(es[0].cmd("ping", "w", e.name).args[0] == "pong", "erl mesh: ping %s" % e.name)
    check(es[0].cmd("ping", "w", s1.name).args[0] == "pong", "erl pings s1")
    check(es[2].cmd("ping", "w", s2.name).args[0] == "pong", "erl pings s2")
    s1.spawn("c", trap=True)
    s2.spawn("c", trap=True)
    check(s1.cmd("connect", "c", es[1].name).args[0] == "0", "s1 connects to e2")
    check(s2.cmd("connect", "c", es[0].name).args[0] == "0", "s2 connects to e1")
    check(s1.cmd("connect", "c", s2.name).args[0] == "0", "s1 connects to s2")
    for e in es:
        ln = e.cmd("gsync", "w", timeout=tmo(10))
        check(ln.args[0] == "ok", "%s: global:sync() = %s" % (e.tag, ln.raw))
        ctx.note("%s global:sync %s ms" % (e.tag, ln.args[1]))
    ln = es[0].cmd("gregister", "w", "snowglobal")
    check(ln.args[0] == "yes", "global:register_name = %s" % ln.raw)
    wpid = es[0].cmd("pid", "w").args[0]
    for e in es:
        ln = e.cmd("gwhereis", "w", "snowglobal")
        check(ln.args[0] != "undefined", "%s: global:whereis_name = undefined" % e.tag)
        same_process(ln.args[0], wpid, "%s: global:whereis_name" % e.tag)
    for e in es:
        ln = e.cmd("gtrans", "w", timeout=tmo(15))
        check(ln.args[0] == "done", "%s: global:trans = %s" % (e.tag, ln.raw))
    # Links and monitors over the hidden connections, both ways.
    pe, ref = erl_proc_watched_by_snow(es[1], s1, "c", "t1")
    es[1].cmd("kill", "t1")
    down, ex = down_and_exit(s1, "c", "t1", ref)
    check(down.kv.get("reason") == "killed" and ex.kv.get("reason") == "killed",
          "snow saw %s / %s" % (down.raw, ex.raw))
    p, ref = snow_proc_watched_by_erl(es[2], s2, "p2")
    s2.cmd("kill", "p2")
    down, ex = down_and_exit(es[2], "w", "p2", ref)
    check(rp(down) == "killed" and rp(ex) == "killed", "erl saw %s / %s" % (rp(down), rp(ex)))
    # A libsnowrt node leaving and coming back does not disturb global.
    s1.cmd("disconnect", "c", es[1].name)
    check(s1.cmd("connect", "c", es[1].name).args[0] == "0", "s1 reconnects to e2")
    for e in es:
        ln = e.cmd("gsync", "w", timeout=tmo(10))
        check(ln.args[0] == "ok", "%s: global:sync() after a reconnect = %s" % (e.tag, ln.raw))


# ---------------------------------------------------------------- port mapper restarts


class Epmd:
    """A port mapper of the test's own (`epmd -port P` in the foreground, so
    the test knows its pid), on a free port: nodes reach it through
    ERL_EPMD_PORT."""

    def __init__(self, ctx, port):
        self.port = port
        self.log = open(os.path.join(ctx.logdir, "epmd.%d.%d.stderr" % (port, len(ctx.procs))), "wb")
        self.p = subprocess.Popen(["epmd", "-port", str(port)], stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=self.log)
        deadline = time.monotonic() + tmo(10)
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.p.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise Fail("epmd -port %d did not start" % port)
                time.sleep(0.02)

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()  # by pid: only the port mapper this test started
        self.p.wait()
        self.log.close()


def free_port():
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def t_epmd_restart(ctx):
    """The port mapper restarts (killed, then started again on its port):
    the libsnowrt node registers again, on the dynamic port it listens on,
    and an erl node started afterwards reaches it by name."""
    from nodelib import epmd_port
    port = free_port()
    env = {"ERL_EPMD_PORT": str(port)}
    epmd = Epmd(ctx, port)
    try:
        s = ctx.node("s", env=env)
        s.spawn("w")
        dist_port = epmd_port(s.name, epmd=port)
        check(dist_port, "%s is not registered with the port mapper" % s.name)
        epmd.stop()
        epmd = Epmd(ctx, port)
        deadline = time.monotonic() + tmo(15)
        got = None
        while time.monotonic() < deadline:
            got = epmd_port(s.name, epmd=port)
            if got:
                break
            time.sleep(0.05)
        check(got == dist_port, "after the port mapper restarted: %s registered at %s (listens on %d)" %
              (s.name, got, dist_port))
        e = ErlNode(ctx, ctx.uname("e"), env=env)
        e.spawn("w")
        ln = e.cmd("ping", "w", s.name)
        check(ln.args[0] == "pong", "net_adm:ping after the port mapper restarted: %s" % ln.args[0])
        with open(s.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        check("registered %s (port %d) with the port mapper again" % (s.name, dist_port) in log,
              "no re-registration line in the node's log")
    finally:
        epmd.stop()


def t_epmd_starts_late(ctx):
    """No port mapper when the node starts (and none can be started): the
    node starts anyway and registers, on its listening port, once one
    runs."""
    from nodelib import epmd_port, proc_tcp_sockets
    port = free_port()
    s = ctx.node("s", env={"ERL_EPMD_PORT": str(port), "PATH": "/nonexistent"})
    listening = [local[1] for state, local, _ in proc_tcp_sockets(s.pid) if state == "LISTEN"]
    check(len(listening) == 1, "listening sockets: %s" % listening)
    epmd = Epmd(ctx, port)
    try:
        deadline = time.monotonic() + tmo(15)
        got = None
        while time.monotonic() < deadline and not got:
            got = epmd_port(s.name, epmd=port)
            if not got:
                time.sleep(0.05)
        check(got == listening[0], "%s registered at %s once a port mapper runs (listens on %d)" %
              (s.name, got, listening[0]))
    finally:
        epmd.stop()


# ---------------------------------------------------------------- seq_trace tokens and aliases


def t_seq_trace_sends(ctx):
    """Sends, named sends, exit signals (exit/2 and a linked process's
    death) and spawn requests from an erl process with a seq_trace token
    (the _TT control messages) are delivered as without one."""
    e = ErlNode(ctx, ctx.uname("e"))
    s = ctx.node("s", env={"SNOW_DIST_TRACE": "1"})
    e.spawn("w")
    r = s.spawn("r", trap=True)
    e.cmd("ttsend", "w", r, hx("token-send"))
    m = s.event("r", "MSG")
    check(m.kv.get("data") == hx("token-send"), "SEND_TT bytes: %s" % m.raw)
    e.cmd("ttsendnamed", "w", "r", s.name, hx("token-named"))
    m = s.event("r", "MSG")
    check(m.kv.get("data") == hx("token-named"), "REG_SEND_TT bytes: %s" % m.raw)
    e.cmd("ttsendexit", "w", r, "token_exit")
    ex = s.event("r", "EXIT")
    check(ex.kv.get("reason") == "custom" and ex.kv.get("rtext") == hx("token_exit"), "EXIT2_TT: %s" % ex.raw)
    _, ref = erl_proc_watched_by_snow(e, s, "r", "d")
    e.cmd("ttexit", "d", "token_death")
    down, ex = down_and_exit(s, "r", "d", ref)
    for ev in (down, ex):
        check(ev.kv.get("reason") == "custom" and ev.kv.get("rtext") == hx("token_death"), "EXIT_TT: %s" % ev.raw)
    ln = e.cmd("ttrspawn", "w", s.name, "worker", 0, "spawned")
    check(ln.args[0] != "0", "SPAWN_REQUEST_TT: %s" % ln.raw)
    s.event("spawned", "STARTED")
    # The node's trace shows the _TT opcodes arrived (SEND_TT 12 or
    # SEND_SENDER_TT 23, REG_SEND_TT 16, PAYLOAD_EXIT_TT 25,
    # SPAWN_REQUEST_TT 30), so the test does not pass on plain forms. (OTP
    # 25 sends exit/2 without the token: PAYLOAD_EXIT2 26.)
    with open(s.log_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    ops = set(int(x) for x in re.findall(r"<- \S+ op (\d+)", log))
    check({16, 25, 30} <= ops and ops & {12, 23}, "opcodes seen: %s" % sorted(ops))


def t_alias_sends_counted(ctx):
    """A send to a reference of our node (ALIAS_SEND: no libsnowrt process
    has an alias) is dropped and counted in snow_rt_stats; the connection
    stays up."""
    e = ErlNode(ctx, ctx.uname("e"))
    s = ctx.node("s")
    e.spawn("w")
    r = s.spawn("r")
    e.cmd("send", "w", r, hx("before"))
    s.event("r", "MSG")
    check(s.cmd("stats").kv.get("alias_drops") == "0", "alias drops before any alias send")
    creation = pid_of(r)[3]
    e.cmd("aliassend", "w", s.name, creation, hx("to-an-alias"))
    e.cmd("send", "w", r, hx("after"))  # behind the alias send on the same connection
    m = s.event("r", "MSG")
    check(m.kv.get("data") == hx("after"), "the message after the alias send: %s" % m.raw)
    ln = s.cmd("stats")
    check(ln.kv.get("alias_drops") == "1", "alias drops after one alias send: %s" % ln.raw)
    check(s.cmd("nodes", "r").args[0] == e.name, "still connected")


# ---------------------------------------------------------------- erl watches a libsnowrt process


def t_erl_monitors_snow(ctx):
    e, s = nodes(ctx)
    e.spawn("w", trap=True)
    s.spawn("ctl")
    cases = [("crash", "boom_interop"), ("kill", None), ("exit", "custom_foo"), ("exit", "normal"),
             ("exit", "shutdown")]
    for i, (how, arg) in enumerate(cases):
        label = "p%d" % i
        p, ref = snow_proc_watched_by_erl(e, s, label)
        if how == "kill":
            s.cmd("kill", label)
        else:
            s.cmd(how, label, arg)
        down, ex = down_and_exit(e, "w", label, ref)
        same_process(down.kv.get("pid"), p, "DOWN pid")
        same_process(ex.kv.get("from"), p, "EXIT from")
        for ev, kind in ((down, "DOWN"), (ex, "EXIT")):
            r = rp(ev)
            if how == "crash":
                m = PANIC_RE.match(r)
                check(m and m.group(3) == arg, "%s reason %s, expected {error,<<\"...snow_node.c:LINE: %s\">>}" %
                      (kind, r, arg))
            elif how == "kill":
                check(r == "killed", "%s reason %s, expected killed" % (kind, r))
            else:
                check(r == arg, "%s reason %s, expected %s" % (kind, r, arg))
    # Monitor by registered name: DOWN names the process.
    s.spawn("named")
    e.cmd("monitorname", "w", "named", s.name)
    e.cmd("sendnamed", "w", "named", s.name, hx("sync"))  # the monitor has arrived when this has
    s.event("named", "MSG")
    s.cmd("exit", "named", "by_name")
    down = e.event("w", "DOWN")
    check(down.kv.get("pid") == "name:named@" + s.name, "DOWN object %s" % down.kv.get("pid"))
    check(rp(down) == "by_name", "DOWN reason %s" % rp(down))
    # Monitor of an unknown name: DOWN noproc at once.
    e.cmd("monitorname", "w", "nobody", s.name)
    down = e.event("w", "DOWN")
    check(rp(down) == "noproc", "DOWN for an unknown name: %s" % rp(down))
    # Demonitor from erl: no DOWN afterwards.
    p = s.spawn("dm")
    ref = e.cmd("monitor", "w", p).args[0]
    e.cmd("demonitor", "w", ref)
    s.cmd("crash", "dm", "after_demonitor")
    s.event("dm", "DIED")
    e.expect_none("w", "DOWN", desc="DOWN after demonitor")
    # A non-trapping erl process linked to a crashing libsnowrt process dies with the reason.
    e.spawn("victim")
    p = s.spawn("killer")
    e.cmd("link", "victim", p)
    e.cmd("send", "victim", p, hx("sync2"))
    s.event("killer", "MSG")
    s.cmd("exit", "killer", "contagious")
    died = e.event("victim", "DIED")
    check(rp(died) == "contagious", "linked erl process died with %s" % rp(died))
    # exit/2 from libsnowrt to an erl process (trapping: an EXIT from the sender).
    pw = e.cmd("pid", "w").args[0]
    sender = s.cmd("pid", "ctl").args[0]
    s.cmd("sendexit", "ctl", pw, "custom", "from_snow")
    ex = e.event("w", "EXIT")
    same_process(ex.kv.get("from"), sender, "exit/2 sender")
    check(rp(ex) == "from_snow", "exit/2 reason %s" % rp(ex))


# ---------------------------------------------------------------- a libsnowrt process watches an erl process


def t_snow_monitors_erl(ctx):
    e, s = nodes(ctx)
    s.spawn("w", trap=True)
    # exit(kill) is no kill: links get a plain (trappable) `kill`, monitors DOWN `kill`.
    cases = [("exit", "foo", "custom", "foo"), ("kill", None, "killed", None), ("exit", "normal", "normal", None),
             ("exit", "shutdown", "shutdown", None), ("error", "badarg", "term", None), ("exit", "kill", "custom", "kill")]
    for i, (how, arg, reason, text) in enumerate(cases):
        label = "e%d" % i
        pe, ref = erl_proc_watched_by_snow(e, s, "w", label)
        if how == "kill":
            e.cmd("kill", label)
        else:
            e.cmd(how, label, arg)
        down, ex = down_and_exit(s, "w", label, ref)
        same_process(down.kv.get("pid"), pe, "DOWN pid")
        same_process(ex.kv.get("from"), pe, "EXIT from")
        for ev, kind in ((down, "DOWN"), (ex, "EXIT")):
            check(ev.reason() == reason, "%s %s: reason %s (%r), expected %s" % (kind, how, ev.reason(), ev.rtext(), reason))
            if text is not None:
                check(ev.rtext() == text, "%s: reason text %r, expected %r" % (kind, ev.rtext(), text))
            if reason == "term":
                raw = bytes.fromhex(ev.kv["rtext"])
                check(raw[:1] == b"\x83" and b"badarg" in raw, "%s: term reason is not the ETF of {badarg, ...}: %r" %
                      (kind, raw[:40]))
    # A non-trapping libsnowrt process linked to an erl process that exits dies with that reason.
    s.spawn("victim")
    pe = e.spawn("ekiller")
    s.cmd("link", "victim", pe)
    s.cmd("send", "victim", pe, hx("sync"))
    e.event("ekiller", "MSG")
    e.cmd("exit", "ekiller", "contagious")
    died = s.event("victim", "DIED")
    check(died.reason() == "custom" and died.rtext() == "contagious", "linked process died with %s" % died.raw)
    # exit/2 from erl to a trapping libsnowrt process: EXIT from the erl sender.
    pw = s.cmd("pid", "w").args[0]
    pe = e.spawn("sender")
    e.cmd("sendexit", "sender", pw, "go_away")
    ex = s.event("w", "EXIT")
    same_process(ex.kv.get("from"), pe, "exit/2 from")
    check(ex.reason() == "custom" and ex.rtext() == "go_away", "exit/2 reason %s" % ex.raw)
    # exit(Pid, kill) from erl kills even a trapping process.
    e.cmd("sendexit", "sender", pw, "kill")
    died = s.event("w", "DIED")
    check(died.reason() == "killed", "kill from erl: %s" % died.raw)
    # Monitor of an erl process that is already gone: DOWN noproc.
    s.spawn("w2")
    dead = e.spawn("gone")
    e.cmd("exit", "gone", "normal")
    e.event("gone", "DIED")
    s.cmd("monitor", "w2", dead)
    down = s.event("w2", "DOWN")
    check(down.reason() == "noproc", "monitor of a dead erl process: %s" % down.raw)
    # Demonitor: no DOWN after.
    pe = e.spawn("dm")
    ref = s.cmd("monitor", "w2", pe).args[0]
    s.cmd("demonitor", "w2", ref)
    e.cmd("exit", "dm", "bye")
    e.event("dm", "DIED")
    s.expect_none("w2", "DOWN", desc="DOWN after demonitor")


# ---------------------------------------------------------------- messages


def t_messages(ctx):
    e, s = nodes(ctx)
    ps = s.spawn("sw")
    pe = e.spawn("ew")
    # erl -> snow: a binary is a user message with exactly those bytes.
    for data in (b"hello from erl", bytes(range(256)), b"", b"\x00" * 9, b"x" * 1500):
        e.cmd("send", "ew", ps, data.hex() or "-")
        m = s.event("sw", "MSG")
        check(payload_is(m, data), "binary of %d bytes arrived as %s" % (len(data), m.raw[:200]))
    # snow -> erl: our bytes arrive as a binary.
    for data in (b"hello from snow", bytes(range(255, -1, -1)), b""):
        s.cmd("send", "sw", pe, data.hex() or "-")
        m = e.event("ew", "MSG")
        check(payload_is(m, data), "erl got %s for %r" % (m.raw[:200], data[:20]))
    # A non-binary term arrives as TERM; its pid decodes to the erl sender.
    e.cmd("sendpidtuple", "ew", ps)
    t = s.event("sw", "TERM")
    check(t.kv.get("etf", "").startswith("83"), "TERM data is not ETF: %s" % t.raw)
    same_process(t.kv.get("pid"), pe, "snow_term_decode_pid of {Pid, hello, [1,2,3]}")
    # ... and that handle can be used to answer.
    s.cmd("send", "sw", t.kv["pid"], hx("reply-to-decoded"))
    m = e.event("ew", "MSG")
    check(m.kv.get("data") == hx("reply-to-decoded"), "reply through the decoded pid: %s" % m.raw)
    # A term nested 1000 deep (Erlang takes any depth) is a TERM message too,
    # and the connection it came on stays up.
    e.cmd("senddeep", "ew", ps, 1000)
    t = s.event("sw", "TERM")
    check(t.kv.get("etf", "").startswith("83" + "6801" * 500), "deep TERM: %s" % t.raw[:200])  # hex is cut short
    e.cmd("send", "ew", ps, hx("after-deep"))
    m = s.event("sw", "MSG")
    check(m.kv.get("data") == hx("after-deep"), "message after the deep term: %s" % m.raw)
    # snow_actor_send_term: erl receives the term.
    from nodelib import etf_binary_body, etf_tuple, pid_etf_body
    term = etf_tuple(pid_etf_body(ps), etf_binary_body(b"hi"))
    s.cmd("sendterm", "sw", pe, term.hex())
    t = e.event("ew", "TERM")
    same_process(t.kv.get("pid"), ps, "erl sees our pid in the term")
    check(rp(t).endswith(',<<"hi">>}'), "erl got %s" % rp(t))
    # Named sends both ways.
    s.cmd("sendnamed", "sw", "ew", e.name, hx("named-to-erl"))
    m = e.event("ew", "MSG")
    check(m.kv.get("data") == hx("named-to-erl"), "named send to erl: %s" % m.raw)
    e.cmd("sendnamed", "ew", "sw", s.name, hx("named-to-snow"))
    m = s.event("sw", "MSG")
    check(m.kv.get("data") == hx("named-to-snow"), "named send from erl: %s" % m.raw)
    # Order of many messages from erl.
    for i in range(50):
        e.cmd("send", "ew", ps, hx("n%d" % i))
    for i in range(50):
        m = s.event("sw", "MSG")
        check(m.kv.get("data") == hx("n%d" % i), "message %d out of order: %s" % (i, m.raw))


# ---------------------------------------------------------------- node monitoring from erl


def t_erl_monitor_nodes(ctx):
    e = ErlNode(ctx, ctx.uname("e"))
    e.spawn("w")
    e.cmd("monitor_nodes", "w")
    s = ctx.node("s")
    s.spawn("c")
    ln = s.cmd("connect", "c", e.name)
    check(ln.args[0] == "0", "connect: %s" % ln.raw)
    up = e.event("w", "NODEUP")
    check(up.kv.get("node") == s.name, "nodeup %s" % up.kv.get("node"))
    # A process link across: our node's death is noconnection for erl.
    e.spawn("linked", trap=True)
    p = s.spawn("p")
    e.cmd("link", "linked", p)
    e.cmd("send", "linked", p, hx("sync"))
    s.event("p", "MSG")
    s.kill(signal.SIGKILL)
    down = e.event("w", "NODEDOWN")
    check(down.kv.get("node") == s.name, "nodedown %s" % down.kv.get("node"))
    ex = e.event("linked", "EXIT")
    check(rp(ex) == "noconnection", "erl link to a killed node: %s" % rp(ex))
    # A clean stop: erl sees nodedown too.
    s2 = ctx.node("s2")
    s2.spawn("c")
    s2.cmd("connect", "c", e.name)
    up = e.event("w", "NODEUP")
    check(up.kv.get("node") == s2.name, "nodeup %s" % up.kv.get("node"))
    s2.send_line("0 halt")
    down = e.event("w", "NODEDOWN")
    check(down.kv.get("node") == s2.name, "nodedown after halt: %s" % down.kv.get("node"))


def t_disconnect(ctx):
    """Both sides' links and monitors fire noconnection when either side
    drops the connection."""
    for who in ("snow", "erl"):
        e = ErlNode(ctx, ctx.uname("e" + who))
        s = ctx.node("s" + who)
        e.spawn("ew", trap=True)
        s.spawn("sw", trap=True)
        s.cmd("nodemonall", "sw", 1)
        pe = e.spawn("et")
        ps = s.spawn("st")
        s.cmd("link", "sw", pe)
        s.cmd("monitor", "sw", pe)
        e.cmd("link", "ew", ps)
        e.cmd("monitor", "ew", ps)
        s.cmd("send", "sw", pe, hx("sync"))
        e.event("et", "MSG")
        e.cmd("send", "ew", ps, hx("sync"))
        s.event("st", "MSG")
        if who == "snow":
            ln = s.cmd("disconnect", "sw", e.name)
            check(ln.args[0] == "0", "disconnect: %s" % ln.raw)
        else:
            ln = e.cmd("disconnect", "ew", s.name)
            check(ln.args[0] == "true", "erlang:disconnect_node: %s" % ln.raw)
        for ev in (s.event("sw", "EXIT"), s.event("sw", "DOWN")):
            check(ev.reason() == "noconnection", "%s disconnects; snow sees %s" % (who, ev.raw))
        s.event("sw", "NODEDOWN")
        for ev in (e.event("ew", "EXIT"), e.event("ew", "DOWN")):
            check(rp(ev) == "noconnection", "%s disconnects; erl sees %s" % (who, rp(ev)))


# ---------------------------------------------------------------- spawn from erl


def t_snow_spawns_on_erl_with_monitor(ctx):
    """snow_node_spawn_opts with monitor on an erl node: one SPAWN_REQUEST
    with the monitor option (snow.erl's functions). The DOWN carries the
    ref the call returned (erl keys the monitor by the request id) and the
    child's reason; erl's node loss gives DOWN noconnection with the ref."""
    e, s = nodes(ctx)
    s.spawn("w")
    pid, ref = s.cmd("rspawnmon", "w", e.name, "exits", "x").args[:2]
    check(pid != "0" and ref != "0", "spawn with monitor on erl: pid %s ref %s" % (pid, ref))
    d = s.event("w", "DOWN")
    check(d.kv.get("ref") == ref, "DOWN ref %s, expected the spawn's %s" % (d.kv.get("ref"), ref))
    same_process(d.kv.get("pid"), pid, "DOWN pid")
    check(d.reason() == "custom" and d.rtext() == "spawn_monitor_reason", "DOWN reason: %s" % d.raw)
    pw, rw = s.cmd("rspawnmon", "w", e.name, "waits", "y").args[:2]
    check(pw != "0", "spawn of waits on erl failed")
    e.kill(signal.SIGKILL)
    d = s.event("w", "DOWN", desc="DOWN of the monitored erl child on node loss")
    check(d.kv.get("ref") == rw, "DOWN ref %s, expected %s" % (d.kv.get("ref"), rw))
    check(d.reason() == "noconnection", "DOWN reason on node loss: %s" % d.raw)


def t_erl_spawns_on_snow(ctx):
    e, s = nodes(ctx)
    e.spawn("w", trap=True)
    pid = e.cmd("rspawn", "w", s.name, "worker", 1, "fromerl").args[0]
    check(pid != "0", "spawn_request to our registered function failed: %s" % pid)
    st = s.event("fromerl", "STARTED")
    same_process(st.kv.get("pid"), pid, "spawned pid")
    s.cmd("crash", "fromerl", "spawned_by_erl")
    ex = e.event("w", "EXIT")
    m = PANIC_RE.match(rp(ex))
    check(m and m.group(3) == "spawned_by_erl", "EXIT of the linked spawn: %s" % rp(ex))
    # spawn_request with the monitor option: the DOWN names the spawned process.
    pm = e.cmd("rspawn", "w", s.name, "worker", 0, "monitored", "monitor").args[0]
    check(pm != "0", "spawn_request with monitor failed")
    s.event("monitored", "STARTED")
    s.cmd("exit", "monitored", "custom", "spawn_monitor_reason")
    d = e.event("w", "DOWN")
    same_process(d.kv.get("pid"), pm, "DOWN of the monitored spawn")
    check(rp(d) == "spawn_monitor_reason", "DOWN reason %s" % rp(d))
    ln = e.cmd("rspawn", "w", s.name, "no_such_fn", 0, "x")
    check(ln.args[0] == "0", "spawn_request of an unknown function: %s" % ln.raw)


# ---------------------------------------------------------------- odd reasons and atoms (issue 9, finding 5)


def t2b_atom_latin1(text):
    """term_to_binary of an atom as OTP 25 writes one that fits Latin-1."""
    b = text.encode("latin-1")
    return bytes([131, 100]) + len(b).to_bytes(2, "big") + b


def t2b_tuple2(first_atom, binary):
    return bytes([131, 104, 2]) + t2b_atom_latin1(first_atom)[1:] + bytes([109]) + len(binary).to_bytes(4, "big") + binary


# (what erl exits with, the ABI reason libsnowrt sees, its text (None: the
# term's own bytes), the term erl sees back when the reason crosses again).
ODD_REASONS = [
    (t2b_tuple2("custom", b"\xff"), "term", None, None),
    (t2b_tuple2("error", b"\xff\xfe"), "term", None, None),
    (t2b_atom_latin1("\u00ff"), "custom", "\u00ff", None),
    (t2b_atom_latin1("caf\u00e9"), "custom", "caf\u00e9", None),
    (t2b_atom_latin1("\u00e9" * 255), "custom", "\u00e9" * 255, None),  # 510 bytes of UTF-8, 255 characters
    (t2b_tuple2("error", "caf\u00e9".encode()), "error", "caf\u00e9", None),
    # UTF-8 custom text travels back as the atom it names.
    (t2b_tuple2("custom", "\u00ff".encode()), "custom", "\u00ff", t2b_atom_latin1("\u00ff")),
]


def check_snow_reason(e, ev, term, reason, text, what):
    """A libsnowrt event's reason: tag `reason`, and either the UTF-8 `text`
    or (text None) the bytes of `term` as erl encoded it."""
    check(ev.reason() == reason, "%s: reason %s, expected %s (%s)" % (what, ev.reason(), reason, ev.raw[:300]))
    raw = bytes.fromhex(ev.kv.get("rtext", ""))
    if text is None:
        check(raw[:1] == b"\x83", "%s: term reason %r has no version byte" % (what, raw[:20]))
        got, want = e.cmd("canon", "w", raw.hex()).args[0], e.cmd("canon", "w", term.hex()).args[0]
        check(got == want, "%s: term reason %s, expected %s" % (what, got, want))
    else:
        check(raw == text.encode("utf-8"), "%s: reason text %r, expected %r (UTF-8)" % (what, raw[:60], text[:60]))


def connection_stayed_up(e, s, ew, sw):
    check(not e.pending(ew, "NODEDOWN"), "erl saw nodedown: %s" % e.pending(ew, "NODEDOWN"))
    check(not s.pending(sw, "NODEDOWN"), "snow saw NODEDOWN: %s" % s.pending(sw, "NODEDOWN"))
    ln = e.cmd("ping", ew, s.name)
    check(ln.args[0] == "pong", "ping after the odd reasons: %s" % ln.args[0])


def t_odd_reasons_round_trip(ctx):
    """exit(P, Reason) from erl to a libsnowrt process that erl links and
    monitors: P dies with the reason mapped to the ABI (UTF-8 text or the
    term's bytes), and erl's link and monitor see Reason again. Before the
    fix, {custom, <<255>>} came back as a malformed atom and erl dropped the
    connection (noconnection everywhere)."""
    e, s = nodes(ctx)
    e.spawn("w", trap=True)
    e.cmd("monitor_nodes", "w")
    e.spawn("x")
    s.spawn("all")
    s.cmd("nodemonall", "all", 1)
    for i, (term, reason, text, back) in enumerate(ODD_REASONS):
        label = "odd%d" % i
        p, ref = snow_proc_watched_by_erl(e, s, label)
        e.cmd("sendexitterm", "x", p, term.hex())
        died = s.event(label, "DIED", desc="%s dies of %r" % (label, term))
        check_snow_reason(e, died, term, reason, text, "%s DIED" % label)
        want = e.cmd("canon", "w", (back or term).hex()).args[0]
        down, ex = down_and_exit(e, "w", label, ref)
        for ev, kind in ((down, "DOWN"), (ex, "EXIT")):
            check(ev.kv.get("rt") == want, "%s for %s: erl sees %s, expected the term %s" % (kind, label, rp(ev), want))
    connection_stayed_up(e, s, "w", "all")


def t_odd_reasons_from_erl_processes(ctx):
    """An erl process linked to and monitored by a trapping libsnowrt
    process exits with an odd reason: the EXIT and the DOWN carry it mapped
    to the ABI, and the connection stays up."""
    e, s = nodes(ctx)
    e.spawn("w")
    e.cmd("monitor_nodes", "w")
    s.spawn("t", trap=True)
    s.cmd("nodemonall", "t", 1)
    for i, (term, reason, text, back) in enumerate(ODD_REASONS):
        label = "eodd%d" % i
        _, ref = erl_proc_watched_by_snow(e, s, "t", label)
        e.cmd("exitterm", label, term.hex())
        down, ex = down_and_exit(s, "t", label, ref)
        for ev, kind in ((down, "DOWN"), (ex, "EXIT")):
            check_snow_reason(e, ev, term, reason, text, "%s of %s" % (kind, label))
    connection_stayed_up(e, s, "w", "t")


def t_non_ascii_registered_name(ctx):
    """erl monitors and sends to 'caf\u00e9' on our node: it names the process
    registered as "caf\u00e9", and its DOWN names it back as that atom. (OTP
    25 writes the atom as UTF-8 here; latin1_terms_echoed_verbatim sends the
    Latin-1 form.)"""
    e, s = nodes(ctx)
    e.spawn("w", trap=True)
    e.cmd("monitor_nodes", "w")
    name = "caf\u00e9"
    s.spawn(name)
    e.cmd("monitornamehex", "w", hx(name), s.name)
    e.cmd("sendnamedhex", "w", hx(name), s.name, hx("by-latin1-name"))
    m = s.event(name, "MSG")
    check(m.kv.get("data") == hx("by-latin1-name"), "named send to %r: %s" % (name, m.raw))
    s.cmd("exit", name, "custom", "bye")
    down = e.event("w", "DOWN")
    check(rp(down) == "bye", "DOWN for the monitor by name: %s (%s)" % (rp(down), down.raw))
    check(down.kv.get("pid", "").startswith("name:caf"), "DOWN names %s" % down.kv.get("pid"))
    connection_stayed_up(e, s, "w", name)


# ---------------------------------------------------------------- a raw peer's terms come back verbatim


def _raw_skip(b, i):
    """Index after the term at b[i] (the few tags these frames use)."""
    tag = b[i]
    if tag == 97:
        return i + 2
    if tag == 98:
        return i + 5
    if tag in (100, 118):
        return i + 3 + int.from_bytes(b[i + 1:i + 3], "big")
    if tag in (115, 119):
        return i + 2 + b[i + 1]
    if tag in (88, 103):
        return _raw_skip(b, i + 1) + (12 if tag == 88 else 9)
    if tag == 90:
        n = int.from_bytes(b[i + 1:i + 3], "big")
        return _raw_skip(b, i + 3) + 4 + 4 * n
    if tag in (104, 105):
        n, j = (b[i + 1], i + 2) if tag == 104 else (int.from_bytes(b[i + 1:i + 5], "big"), i + 5)
        for _ in range(n):
            j = _raw_skip(b, j)
        return j
    if tag == 106:
        return i + 1
    if tag == 108:
        n, j = int.from_bytes(b[i + 1:i + 5], "big"), i + 5
        for _ in range(n + 1):
            j = _raw_skip(b, j)
        return j
    if tag == 109:
        return i + 5 + int.from_bytes(b[i + 1:i + 5], "big")
    if tag == 110:
        return i + 3 + b[i + 1]
    raise ValueError("tag %d at %d" % (tag, i))


def _raw_elements(b, i):
    """The element byte strings of the tuple at b[i], and the index after it."""
    n, j = (b[i + 1], i + 2) if b[i] == 104 else (int.from_bytes(b[i + 1:i + 5], "big"), i + 5)
    out = []
    for _ in range(n):
        k = _raw_skip(b, j)
        out.append(b[j:k])
        j = k
    return out, j


def _raw_control(peer, want_op, timeout):
    """Reads frames until a control message with opcode want_op: (elements,
    payload bytes after the control tuple)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = int.from_bytes(peer.recv_exact(4), "big")
        if n == 0:
            continue  # tick
        body = peer.recv_exact(n)
        check(body[:2] == bytes([112, 131]), "frame without pass-through and version bytes: %r" % body[:8])
        items, j = _raw_elements(body, 2)
        if items[0] == bytes([97, want_op]):
            return items, body[j:]
    raise Fail("no control message %d within %.1fs" % (want_op, timeout))


def t_latin1_terms_echoed_verbatim(ctx):
    """A raw protocol client (nodelib.RawPeer) writes its terms with Latin-1
    atoms (ATOM_EXT), non-ASCII bytes included: a MONITOR_P of 'caf\u00e9'
    whose reference names node 'r\u00e9f@h', a net_kernel call whose tag is
    [alias | Ref], a spawn request whose id is such a reference. The DOWN,
    the call's reply and the spawn reply carry those terms byte for byte
    (before the fix they came back re-encoded as UTF-8 atoms holding the raw
    Latin-1 byte, which OTP refuses)."""
    import socket
    from nodelib import RawPeer, epmd_port, parse_pid_at
    s = ctx.node("s")
    name = "caf\u00e9"
    s.spawn(name)
    port = epmd_port(s.name)
    check(port is not None, "no port for %s" % s.name)
    me_name = "%s@%s" % (ctx.uname("raw"), HOST)
    peer = RawPeer(port)
    try:
        peer.handshake(me_name, s.cookie)
        peer.sock.settimeout(tmo(10))

        def atom1(text):
            b = text.encode("latin-1")
            return bytes([100]) + len(b).to_bytes(2, "big") + b

        def ref(node, ids):
            return bytes([90]) + len(ids).to_bytes(2, "big") + atom1(node) + (1).to_bytes(4, "big") + b"".join(
                i.to_bytes(4, "big") for i in ids)

        def tup(*items):
            return bytes([104, len(items)]) + b"".join(items)

        me = bytes([88]) + atom1(me_name) + (77).to_bytes(4, "big") + (0).to_bytes(4, "big") + (0x1234).to_bytes(4, "big")
        mref = ref("r\u00e9f@h", [11, 12, 13])
        # MONITOR_P of the name, then a REG_SEND to it (in order: the monitor is in place when it arrives).
        peer.send_frame(bytes([112, 131]) + tup(bytes([97, 19]), me, atom1(name), mref))
        peer.send_frame(bytes([112, 131]) + tup(bytes([97, 6]), me, atom1(""), atom1(name)) + bytes([131, 109, 0, 0, 0, 2])
                        + b"hi")
        m = s.event(name, "MSG")
        check(m.kv.get("data") == hx("hi"), "REG_SEND to the Latin-1 name: %s" % m.raw)
        s.cmd("exit", name, "custom", "bye")
        items, payload = _raw_control(peer, 28, tmo(10))  # PAYLOAD_MONITOR_P_EXIT {28, FromProc, ToPid, Ref}
        check(items[3] == mref, "DOWN reference %r, expected our bytes %r" % (items[3], mref))
        check(parse_pid_at(items[2], 0)[0] == (me_name, 77, 0, 0x1234), "DOWN to %r" % items[2])
        check(items[1] == bytes([119, 5]) + name.encode(), "DOWN names %r (want the UTF-8 atom)" % items[1])
        check(payload == bytes([131, 119, 3]) + b"bye", "DOWN reason %r" % payload)
        # net_kernel's is_auth: the reply goes to our pid with our tag, verbatim.
        tag = bytes([108, 0, 0, 0, 1]) + atom1("alias") + ref("r\u00e9f@h", [21, 22, 23])
        call = tup(atom1("$gen_call"), tup(me, tag), tup(atom1("is_auth"), atom1(me_name)))
        peer.send_frame(bytes([112, 131]) + tup(bytes([97, 6]), me, atom1(""), atom1("net_kernel")) + bytes([131]) + call)
        items, payload = _raw_control(peer, 2, tmo(10))  # SEND {2, '', To}
        check(items[2] == me, "is_auth reply to %r" % items[2])
        check(payload == bytes([131]) + tup(tag, bytes([119, 3]) + b"yes"), "is_auth reply %r" % payload)
        # A spawn request: its id and parent come back verbatim in the reply.
        req = ref("r\u00e9q@h", [31, 32, 33])
        mfa = tup(atom1("snow"), atom1("worker"), bytes([97, 1]))
        peer.send_frame(bytes([112, 131]) + tup(bytes([97, 29]), req, me, me, mfa, bytes([106])) + bytes([131, 108, 0, 0, 0, 1, 109, 0, 0, 0, 8])
                        + b"spawned\0" + bytes([106]))
        items, _ = _raw_control(peer, 31, tmo(10))  # SPAWN_REPLY {31, ReqId, To, Flags, Result}
        check(items[1] == req and items[2] == me, "spawn reply %r" % items[:3])
        check(items[4][:1] == bytes([88]), "spawn result %r is not a pid" % items[4])
        s.event("spawned", "STARTED")
    except (EOFError, socket.timeout) as ex:
        raise Fail("raw peer: %r" % ex)
    finally:
        peer.close()


# ---------------------------------------------------------------- pids of a previous incarnation


def t_old_incarnation_pid(ctx):
    """erl holds a pid of our node's previous incarnation (the node was
    killed and restarted under the same name): monitoring or linking it is
    answered noproc, as for any process that does not exist."""
    from test_dist import restart
    e, s = nodes(ctx)
    e.spawn("w", trap=True)
    old = s.spawn("p")
    e.cmd("send", "w", old, hx("sync"))
    s.event("p", "MSG")
    s.kill(signal.SIGKILL)
    s2 = restart(ctx, s)
    s2.spawn("p")
    ln = e.cmd("ping", "w", s2.name)
    check(ln.args[0] == "pong", "ping the restarted node: %s" % ln.raw)
    ref = e.cmd("monitor", "w", old).args[0]
    d = e.event("w", "DOWN", timeout=tmo(5), desc="DOWN for a monitor of a pid of the previous incarnation")
    check(d.kv.get("ref") == ref and rp(d) == "noproc", "DOWN %s" % rp(d))
    e.cmd("link", "w", old)
    ex = e.event("w", "EXIT", timeout=tmo(5), desc="EXIT for a link to a pid of the previous incarnation")
    check(rp(ex) == "noproc", "EXIT %s" % rp(ex))


# ---------------------------------------------------------------- fragments (issue 12 item 5)

BIG = 100 << 20


def watch_each_other(e, s, pe, ps):
    """erl's ew and libsnowrt's sw link and monitor each other (in place on
    return): the signals that a lost connection would fire."""
    s.cmd("monitor", "sw", pe)
    s.cmd("link", "sw", pe)
    e.cmd("monitor", "ew", ps)
    s.cmd("send", "sw", pe, hx("sync-e"))
    e.event("ew", "MSG", lambda l: l.kv.get("data") == hx("sync-e"))
    e.cmd("send", "ew", ps, hx("sync-s"))
    s.event("sw", "MSG", lambda l: l.kv.get("data") == hx("sync-s"))


def still_watching(e, s, pe, ps, what):
    """Nothing fired noconnection and both directions still carry messages."""
    for node, label in ((s, "sw"), (e, "ew")):
        for kind in ("DOWN", "EXIT", "NODEDOWN"):
            check(not node.pending(label, kind), "%s: %s got %s: %s" % (what, label, kind, node.pending(label, kind)))
    s.cmd("send", "sw", pe, hx("after " + what))
    e.event("ew", "MSG", lambda l: l.kv.get("data") == hx("after " + what))
    e.cmd("send", "ew", ps, hx("after " + what))
    s.event("sw", "MSG", lambda l: l.kv.get("data") == hx("after " + what))
    check(s.cmd("nodes", "sw").args[0] == e.name, "%s: still connected" % what)


def t_fragments_large_messages_both_ways(ctx):
    """A 100 MiB binary each way and a 69 MiB term from erl (all over the
    64 MiB a frame could hold before fragments) arrive intact (checksums),
    and the links and monitors across the connection stay up."""
    e, s = nodes(ctx)
    pe = e.spawn("ew", trap=True)
    ps = s.spawn("sw", trap=True)
    watch_each_other(e, s, pe, ps)
    ln = s.cmd("sendbig", "sw", pe, BIG, timeout=tmo(60))
    check(ln.args[0] == "0", "snow -> erl 100 MiB send: %s" % ln.raw)
    snow_sum = ln.kv["sum"]
    want_crc = e.cmd("patterncrc", "ew", BIG, timeout=tmo(60)).args[0]
    m = e.event("ew", "MSG", lambda l: l.kv.get("len") == str(BIG), timeout=tmo(120))
    check(m.kv.get("crc") == want_crc, "erl got a corrupted 100 MiB binary: crc %s, expected %s" %
          (m.kv.get("crc"), want_crc))
    e.cmd("sendbig", "ew", ps, BIG, timeout=tmo(60))
    m = s.event("sw", "MSG", lambda l: l.kv.get("len") == str(BIG), timeout=tmo(120))
    check(m.kv.get("sum") == snow_sum, "we got a corrupted 100 MiB binary: sum %s, expected %s" %
          (m.kv.get("sum"), snow_sum))
    ln = e.cmd("sendbigterm", "ew", ps, 1 << 20, timeout=tmo(60))
    size, crc = ln.args[0], ln.args[1]
    check(int(size) > 64 << 20, "the term is only %s bytes" % size)
    t = s.event("sw", "TERM", lambda l: l.kv.get("len") == size, timeout=tmo(120))
    check(t.kv.get("crc") == crc, "we got a corrupted %s-byte term: crc %s, expected %s" % (size, t.kv.get("crc"), crc))
    still_watching(e, s, pe, ps, "100 MiB messages")


def t_fragments_interleave_with_small_messages(ctx):
    """A small message sent after a 100 MiB one by another process is not
    held behind it: erl is stopped while the large message is on its way,
    the small one is sent, and once erl runs again the small one arrives
    first (our writes interleave other frames between the fragments). The
    busy limit is raised above the large message: at the default 1 MiB the
    small message's sender would rightly be suspended until the queue to the
    stopped erl drains (docs/distribution.md, "Limits")."""
    e = ErlNode(ctx, ctx.uname("e"))
    s = ctx.node("s", env={"SNOW_DIST_BUF_BUSY_LIMIT": str(1 << 30)})
    pe = e.spawn("ew")
    s.spawn("big")
    s.spawn("small")
    s.cmd("send", "small", pe, hx("warm up"))
    e.event("ew", "MSG", lambda l: l.kv.get("data") == hx("warm up"))
    os.kill(e.p.pid, signal.SIGSTOP)
    try:
        ln = s.cmd("sendbig", "big", pe, BIG, timeout=tmo(60))
        check(ln.args[0] == "0", "100 MiB send: %s" % ln.raw)
        s.cmd("send", "small", pe, hx("small one"))
    finally:
        os.kill(e.p.pid, signal.SIGCONT)
    first = e.event("ew", "MSG", timeout=tmo(120))
    check(first.kv.get("data") == hx("small one"), "the first message erl got is %s, not the small one" %
          first.raw[:200])
    m = e.event("ew", "MSG", timeout=tmo(120))
    check(m.kv.get("len") == str(BIG), "then %s, not the large one" % m.raw[:200])


def t_fragments_over_the_limit_refused_alone(ctx):
    """With SNOW_DIST_MAX_MESSAGE=1 MiB, a 2 MiB binary from erl is refused
    alone: counted in snow_rt_stats, logged, the next message from the same
    erl process arrives, and links and monitors stay up."""
    e = ErlNode(ctx, ctx.uname("e"))
    s = ctx.node("s", env={"SNOW_DIST_MAX_MESSAGE": str(1 << 20)})
    pe = e.spawn("ew", trap=True)
    ps = s.spawn("sw", trap=True)
    watch_each_other(e, s, pe, ps)
    check(s.cmd("stats").kv.get("refused") == "0", "refused before anything large")
    e.cmd("sendbig", "ew", ps, 2 << 20)
    e.cmd("send", "ew", ps, hx("next"))
    m = s.event("sw", "MSG", timeout=tmo(30))
    check(m.kv.get("data") == hx("next"), "the message after the refused one: %s" % m.raw[:200])
    ln = s.cmd("stats")
    check(ln.kv.get("refused") == "1", "refused after one message over the limit: %s" % ln.raw)
    still_watching(e, s, pe, ps, "a refused message")
    log = open(s.log_path, "rb").read().decode("utf-8", "replace")
    check("refused a message from %s" % e.name in log, "no log line about the refused message")
    # Just under the limit still passes.
    e.cmd("sendbig", "ew", ps, (1 << 20) - 200)
    m = s.event("sw", "MSG", lambda l: l.kv.get("len") == str((1 << 20) - 200), timeout=tmo(30))
    check(s.cmd("stats").kv.get("refused") == "1", "a message under the limit was refused")


def interop_runner(title, driver, tools=("erl", "erlc")):
    """The Runner of an interop driver (its argv: the snow_node binary, then
    filters), with snowpeer.erl compiled into runner.beamdir; or the exit
    code when it cannot run: a usage error, missing tools (a skip), erlc
    failing."""
    if len(sys.argv) < 2:
        print("usage: %s <snow_node binary> [filters...]" % driver)
        return 2
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        print("SKIP interop: %s not installed" % "/".join(missing))
        print("0 passed, 0 failed, 1 skipped")
        return 0
    runner = Runner(title, os.path.abspath(sys.argv[1]))
    runner.beamdir = tempfile.mkdtemp(prefix="snow-%s-beam-" % title)
    r = subprocess.run(["erlc", "-o", runner.beamdir, os.path.join(HERE, "snowpeer.erl"), os.path.join(HERE, "snow.erl")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("erlc failed:\n" + r.stdout + r.stderr)
        print("0 passed, 1 failed")
        return 1
    return runner


def main():
    runner = interop_runner("interop", "test_interop.py")
    if isinstance(runner, int):
        return runner
    runner.add("connect_erl_to_snow", t_connect_erl_to_snow)
    runner.add("connect_snow_to_erl", t_connect_snow_to_erl)
    runner.add("wrong_cookie", t_wrong_cookie)
    runner.add("visibility", t_visibility)
    runner.add("global_with_snow_nodes", t_global_with_snow_nodes)
    runner.add("epmd_restart", t_epmd_restart)
    runner.add("epmd_starts_late", t_epmd_starts_late)
    runner.add("seq_trace_sends", t_seq_trace_sends)
    runner.add("alias_sends_counted", t_alias_sends_counted)
    runner.add("short_names", t_short_names)
    runner.add("erl_monitors_and_links_snow", t_erl_monitors_snow)
    runner.add("snow_monitors_and_links_erl", t_snow_monitors_erl)
    runner.add("messages", t_messages)
    runner.add("erl_monitor_nodes", t_erl_monitor_nodes)
    runner.add("disconnect", t_disconnect)
    runner.add("erl_spawns_on_snow", t_erl_spawns_on_snow)
    runner.add("snow_spawns_on_erl_with_monitor", t_snow_spawns_on_erl_with_monitor)
    runner.add("old_incarnation_pid", t_old_incarnation_pid)
    runner.add("odd_reasons_round_trip", t_odd_reasons_round_trip)
    runner.add("odd_reasons_from_erl_processes", t_odd_reasons_from_erl_processes)
    runner.add("non_ascii_registered_name", t_non_ascii_registered_name)
    runner.add("latin1_terms_echoed_verbatim", t_latin1_terms_echoed_verbatim)
    runner.add("fragments_large_messages_both_ways", t_fragments_large_messages_both_ways)
    runner.add("fragments_interleave_with_small_messages", t_fragments_interleave_with_small_messages)
    runner.add("fragments_over_the_limit_refused_alone", t_fragments_over_the_limit_refused_alone)
    rc = runner.run(sys.argv[2:])
    shutil.rmtree(runner.beamdir, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
