#!/usr/bin/env python3
"""snowctl against a libsnowrt node (tests/dist/snow_node.c) and a real
Erlang node: its output names the processes the test made, with their
mailbox lengths, sorts and limits as asked, and its exit status says what
went wrong (tools/snowctl).

  test_snowctl.py <path to snow_node> <path to snowctl> [name filters...]

Skips (prints "SKIP interop: ...", then "0 passed, 0 failed, 1 skipped",
exit 0) when erl is not installed.
"""

import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "dist"))

from nodelib import HOST, Fail, Runner, check, tmo  # noqa: E402

SNOWCTL = None
COOKIE = "snowcookie"


def snowctl(node, *args, status=0):
    r = subprocess.run([SNOWCTL, "-n", node, "-c", COOKIE] + list(args), capture_output=True, timeout=tmo(60))
    out, err = r.stdout.decode(), r.stderr.decode()
    check(r.returncode == status, "snowctl %s: status %d, expected %d\nstdout: %s\nstderr: %s" %
          (" ".join(args), r.returncode, status, out, err))
    return out, err


def rows(out):
    """The table rows of processes/top output: (pid, name, status, queue, memory, reductions)."""
    found = []
    for ln in out.splitlines():
        m = re.match(r"^(<0\.\d+\.\d+>)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)$", ln)
        if m:
            found.append((m.group(1), m.group(2), m.group(3), int(m.group(4)), int(m.group(5)), int(m.group(6))))
    return found


class ErlTarget:
    """An erl node whose process `target` holds three messages it never
    takes, until the test ends."""

    def __init__(self, ctx):
        self.name = "%s@%s" % (ctx.uname("et"), HOST)
        code = ("register(target, self()), [self() ! {m, N} || N <- [1, 2, 3]], io:format(\"ready~n\"), "
                "receive stop -> ok end, halt().")
        self.log = open(os.path.join(ctx.logdir, "%s.stderr" % self.name), "w")
        self.p = subprocess.Popen(["erl", "-name", self.name, "-setcookie", COOKIE, "-noshell", "-eval", code],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log)
        line = self.p.stdout.readline().decode().strip()
        check(line == "ready", "erl target: %r" % line)

    def close(self):
        self.p.kill()
        self.p.wait()
        self.log.close()


def t_processes_info_and_sorting_on_libsnowrt(ctx):
    s = ctx.node("s")
    for label in ("alpha", "beta"):
        s.spawn(label)
    q = s.spawn("queued")
    p = s.spawn("sender")
    # queued waits in a service call that is never answered (to a worker
    # busy spinning): what arrives meanwhile stays in its mailbox.
    z = s.spawn("busy")
    s.cmd("spin", "busy", 20000)
    s.send_line("900 call queued %s 00 20000" % z)
    for i in range(4):
        s.cmd("send", "sender", q, "%02x" % i)
    deadline = time.monotonic() + tmo(10)
    while True:
        out, _ = snowctl(s.name, "processes", "--sort", "queue", "--limit", "1")
        got = rows(out)
        if got and got[0][1] == "queued" and got[0][3] == 4:
            break
        if time.monotonic() > deadline:
            raise Fail("processes --sort queue --limit 1 did not show queued with 4 messages:\n" + out)
        time.sleep(0.1)
    check(len(got) == 1, "--limit 1 printed %d rows" % len(got))
    out, _ = snowctl(s.name, "processes")
    names = [r[1] for r in rows(out)]
    for label in ("alpha", "beta", "queued", "sender", "busy"):
        check(label in names, "%s missing from:\n%s" % (label, out))
    m = re.search(r"^(\d+) processes$", out, re.M)
    alive = s.cmd("stats").kv.get("alive")
    check(m and m.group(1) == alive, "count line %s, the node has %s alive" % (m and m.group(0), alive))
    out, _ = snowctl(s.name, "info", "queued")
    check("registered_name:     queued" in out and "message_queue_len:   4" in out, out)
    check("status:              waiting" in out and "link_count:" in out, out)
    pid = [r[0] for r in rows(snowctl(s.name, "processes")[0]) if r[1] == "alpha"][0]
    out, _ = snowctl(s.name, "info", pid)
    check("registered_name:     alpha" in out, "info %s:\n%s" % (pid, out))
    out, _ = snowctl(s.name, "top", "--count", "2", "--interval", "100", "--limit", "3", "--sort", "memory")
    check(out.count("%s  processes: " % s.name) == 2, "two refreshes:\n" + out)
    check(len(rows(out)) == 6, "3 rows per refresh:\n" + out)
    _, err = snowctl(s.name, "info", "nobody", status=1)
    check("no process registered as nobody" in err, err)


def t_log_level_get_and_set(ctx):
    s = ctx.node("s")
    out, _ = snowctl(s.name, "log-level")
    check(out.strip() == "info", out)
    out, _ = snowctl(s.name, "log-level", "debug")
    check(out.strip() == "debug (was info)", out)
    out, _ = snowctl(s.name, "log-level")
    check(out.strip() == "debug", out)
    _, err = snowctl(s.name, "log-level", "loud", status=1)
    check("badarg" in err, err)


def t_nodes_lists_the_targets_connections(ctx):
    s = ctx.node("s")
    t = ctx.node("t")
    s.spawn("w")
    s.cmd("connect", "w", t.name)
    out, _ = snowctl(s.name, "nodes")
    check(out.split() == [t.name], "nodes of %s: %r" % (s.name, out))


def t_against_an_erlang_node(ctx):
    e = ErlTarget(ctx)
    try:
        out, _ = snowctl(e.name, "processes", "--sort", "queue", "--limit", "1")
        got = rows(out)
        check(len(got) == 1 and got[0][1] == "target" and got[0][3] == 3, out)
        out, _ = snowctl(e.name, "info", "target")
        check("registered_name:     target" in out and "message_queue_len:   3" in out, out)
        check("links:               [" in out and "monitors:            []" in out, out)
        _, err = snowctl(e.name, "log-level", status=1)
        check("undef" in err, err)
    finally:
        e.close()


def t_exit_status(ctx):
    _, err = snowctl("nosuch%d@%s" % (os.getpid(), HOST), "nodes", status=3)
    check("cannot connect" in err, err)
    r = subprocess.run([SNOWCTL, "--help"], capture_output=True, timeout=tmo(10))
    check(r.returncode == 0 and b"SYNOPSIS" in r.stdout, r.stdout)
    r = subprocess.run([SNOWCTL, "-n", "a@b"], capture_output=True, timeout=tmo(10))
    check(r.returncode == 2, "no command: %d" % r.returncode)
    r = subprocess.run([SNOWCTL, "-n", "a@b", "--sort", "age", "processes"], capture_output=True, timeout=tmo(10))
    check(r.returncode == 2, "bad --sort: %d" % r.returncode)


def main():
    global SNOWCTL
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    if not shutil.which("erl"):
        print("SKIP interop: erl not installed")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    SNOWCTL = os.path.abspath(sys.argv[2])
    runner = Runner("snowctl", os.path.abspath(sys.argv[1]))
    for name, fn in [(n, f) for n, f in sorted(globals().items()) if n.startswith("t_")]:
        runner.add(name[2:], fn)
    return runner.run(sys.argv[3:])


if __name__ == "__main__":
    sys.exit(main())
