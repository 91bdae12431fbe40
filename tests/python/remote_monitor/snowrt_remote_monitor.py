"""snowrt-remote-monitor: a Python program that monitors a process on
another node, a second OS process (this program again, started with
--peer). Both nodes listen on 127.0.0.1 with names made unique by this
process's pid; a port mapper is started if none runs.

    snowrt-remote-monitor            node a: the checks below
    snowrt-remote-monitor --peer B   node b: serves node a as B

Node a starts node b and connects to it, then:
  1. asks b for a victim process (b answers with the victim's pid as a
     term), monitors it and tells it to exit: DOWN with the victim's
     reason, custom "told to exit";
  2. asks for a second victim, monitors it and node b, then kills node b's
     OS process by its pid (SIGKILL): DOWN noconnection and NODEDOWN b.
Prints one line per step and "remote monitor ok"; exits 1 on a failure
(an AssertionError with what was expected and what came).
"""

import os
import select
import subprocess
import sys

import snowrt

COOKIE = "snowrt-python-remote"
DEADLINE_S = 30.0
PEER_IDLE_S = 60.0  # node b ends by itself when node a is gone this long
ASK = b"victim?\0"  # request tag: followed by the requester's pid as a term
VICTIM = b"victim!\0"  # answer tag: followed by the victim's pid as a term


def victim():
    """On node b: waits for one message, then exits with its text as the
    reason."""
    m = snowrt.receive(timeout=PEER_IDLE_S)
    if m is not None:
        raise snowrt.Exit(m.data.decode("utf-8"))


def serve(name):
    """Node b: answers each ASK with a new victim's pid until node a is gone
    (PEER_IDLE_S without a request) or the node is killed."""
    snowrt.init(2)
    snowrt.node_start(name, COOKIE)
    snowrt.register("host")
    print("ready", flush=True)
    while True:
        m = snowrt.receive(timeout=PEER_IDLE_S)
        if m is None:
            break
        if m.data.startswith(ASK):
            requester = snowrt.decode_pid(m.data[len(ASK):])
            snowrt.send(requester, VICTIM + snowrt.encode_pid(snowrt.spawn_thread(victim)))
    snowrt.halt(0)
    return snowrt.run()


def start_peer(name):
    """Node b's OS process, once it says it is ready."""
    peer = subprocess.Popen([sys.executable, os.path.abspath(sys.argv[0]), "--peer", name],
                            stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([peer.stdout], [], [], DEADLINE_S)
    line = peer.stdout.readline() if ready else ""
    if line.strip() != "ready":
        peer.kill()
        peer.wait()
        raise AssertionError("node b did not say ready within %.0f s (said %r)" % (DEADLINE_S, line))
    return peer


def receive_until(what, accept):
    """Receives until accept(message) is true (other messages are errors)."""
    m = snowrt.receive(timeout=DEADLINE_S)
    if m is None:
        raise AssertionError("no %s within %.0f s" % (what, DEADLINE_S))
    if not accept(m):
        raise AssertionError("expected %s, got %r" % (what, m))
    return m


def ask_victim(me, node):
    snowrt.send_named("host", node, ASK + snowrt.encode_pid(me))
    answer = receive_until("node b's answer", lambda m: m.data.startswith(VICTIM))
    pid = snowrt.decode_pid(answer.data[len(VICTIM):])
    if pid is None:
        raise AssertionError("no pid in node b's answer %r" % (answer,))
    return pid


def check(me, b, peer):
    snowrt.node_connect(b)
    if b not in snowrt.nodes():
        raise AssertionError("%s not in nodes() %r after connecting" % (b, snowrt.nodes()))

    # 1. The remote process exits: DOWN with its reason.
    pid = ask_victim(me, b)
    ref = snowrt.monitor(pid)
    snowrt.send(pid, b"told to exit")
    down = receive_until("DOWN", lambda m: m.kind == snowrt.MsgKind.DOWN)
    expected = (ref, pid, snowrt.ExitReason.custom("told to exit"))
    if (down.ref, down.pid, down.reason) != expected:
        raise AssertionError("DOWN: expected %r, got %r" % (expected, (down.ref, down.pid, down.reason)))
    print("remote monitor: DOWN from the process on %s that exited: %s" % (b, down.reason), flush=True)

    # 2. Its node is killed: DOWN noconnection and NODEDOWN.
    pid = ask_victim(me, b)
    ref = snowrt.monitor(pid)
    node_monitor = snowrt.monitor_node(b)
    peer.kill()  # SIGKILL to the pid of node b's process
    peer.wait()
    seen = set()
    while len(seen) < 2:
        m = receive_until("DOWN and NODEDOWN", lambda m: m.kind in (snowrt.MsgKind.DOWN, snowrt.MsgKind.NODEDOWN))
        if m.kind == snowrt.MsgKind.DOWN:
            if (m.ref, m.pid, m.reason.kind) != (ref, pid, snowrt.ReasonKind.NOCONNECTION):
                raise AssertionError("DOWN after the kill: %r" % (m,))
            print("remote monitor: DOWN from the process on the killed node %s: %s" % (b, m.reason), flush=True)
        elif m.node != b:
            raise AssertionError("NODEDOWN of %r, expected %r" % (m.node, b))
        else:
            print("remote monitor: NODEDOWN %s" % m.node, flush=True)
        seen.add(m.kind)
    if not snowrt.demonitor_node(node_monitor):
        raise AssertionError("the node monitor was not active after NODEDOWN")
    snowrt.node_stop()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--peer":
        return serve(sys.argv[2])
    a = "pya%d@127.0.0.1" % os.getpid()
    b = "pyb%d@127.0.0.1" % os.getpid()
    with snowrt.runtime(2) as me:
        snowrt.node_start(a, COOKIE)
        peer = start_peer(b)
        try:
            check(me, b, peer)
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait()
    print("remote monitor ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
