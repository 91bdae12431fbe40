#!/usr/bin/env python3
"""Remote console interop tests: `erl -remsh` to a libsnowrt node
(tests/dist/snow_node.c) opens the node's console (runtime/dist/remsh.h).

One case drives a real `erl -remsh` under a pseudo-terminal. The others
open consoles from an erl node exactly as erl's group process does
(group_leader(self(), self()), rpc:call(Node, shell, start, []), link) with
a fake group leader written in Erlang that answers the console's io
requests and hands each output and prompt to the test.

  test_remsh.py <path to snow_node> [name filters...]

Skips (prints "SKIP interop: ...", then "0 passed, 0 failed, 1 skipped",
exit 0) when erl is not installed. Same environment and output as
tests/dist/test_dist.py.
"""

import os
import pty
import select
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "dist"))
sys.path.insert(0, HERE)

from nodelib import HOST, Fail, Runner, check, tmo  # noqa: E402
from test_rex import setup, until, with_erls  # noqa: E402

# A fake group leader, as erl's group process starts a remote shell: it
# reports {shell, Pid | Error} to Parent, answers put_chars (collecting the
# text) and, for each get_line, sends Parent {prompt, Prompt, Text} and
# answers with the next {line, L} (or eof). The console's exit comes as
# {shell_exit, Reason, Text}.
FAKE_GROUP = r"""
FG = fun(Node, Parent) -> spawn(fun() ->
  process_flag(trap_exit, true),
  group_leader(self(), self()),
  Shell = rpc:call(Node, shell, start, []),
  Parent ! {shell, Shell},
  case is_pid(Shell) of true -> link(Shell); false -> exit(normal) end,
  Loop = fun L(Out) ->
    receive
      {io_request, From, RA, {put_chars, unicode, Chars}} ->
        From ! {io_reply, RA, ok}, L([Out, Chars]);
      {io_request, From, RA, {get_line, unicode, Prompt}} ->
        Parent ! {prompt, iolist_to_binary(Prompt), iolist_to_binary(Out)},
        receive
          {line, Line} -> From ! {io_reply, RA, Line};
          eof -> From ! {io_reply, RA, eof}
        end,
        L([]);
      {'EXIT', Shell, R} -> Parent ! {shell_exit, R, iolist_to_binary(Out)}
    end
  end,
  Loop([])
end) end
"""


def recv(body):
    """An expression receiving `body` (clauses and after) in a fun of its
    own, so that its variables bind nothing in the erl session."""
    return "(fun() -> receive %s end end)()" % body


class Console:
    """One console opened by the fake group from the erl node `e`."""

    def __init__(self, e, var):
        self.e = e
        self.var = var
        e.ev("%sG = FG(S, self())" % var)
        self.shell = e.ev("receive {shell, %sSh} -> %sSh after %d -> timeout end" % (var, var, tmo(10) * 1000))
        check(self.shell.startswith("<"), "rpc:call(S, shell, start, []) gave %s, not a pid" % self.shell)

    def next_prompt(self):
        """(prompt, text written before it)."""
        got = self.e.ev(recv("{prompt, P, O} -> {binary:encode_hex(P), binary:encode_hex(O)} after %d -> timeout" %
                             (tmo(10) * 1000)))
        check(got != "timeout", "no prompt from the console")
        prompt, text = [bytes.fromhex(x.strip('<>"')).decode("utf-8") for x in got[1:-1].split(",", 1)]
        return prompt, text

    def send(self, line):
        self.e.ev('%sG ! {line, "%s\\n"}' % (self.var, line))

    def command(self, line):
        """The console's answer to one line."""
        self.send(line)
        return self.next_prompt()[1]

    def exit_of(self):
        """(reason, last text) of the console's exit."""
        got = self.e.ev(recv("{shell_exit, R, O} -> {R, binary:encode_hex(O)} after %d -> timeout" %
                             (tmo(10) * 1000)))
        check(got != "timeout", "the console did not exit")
        reason, text = got[1:-1].split(",", 1)
        return reason, bytes.fromhex(text.strip('<>"')).decode("utf-8")


def open_console(ctx, var="C"):
    s, e = setup(ctx)
    e.ev(FAKE_GROUP.strip())
    return s, e, Console(e, var)


def console_gone(e, c):
    return e.ev("rpc:call(S, erlang, process_info, [%sSh, status])" % c.var) == "undefined" or "console alive"


# ---------------------------------------------------------------- cases


def t_banner_says_libsnowrt_and_prompts_with_the_node(ctx):
    s, e, c = open_console(ctx)
    prompt, banner = c.next_prompt()
    check(prompt == "%s> " % s.name, "prompt %r" % prompt)
    check("a libsnowrt node" in banner and "it runs no Erlang shell" in banner, "banner: %r" % banner)
    check("help, processes, info <pid>, nodes, stats, log-level [LEVEL], quit" in banner, "banner: %r" % banner)
    check("rpc:call('%s'" % s.name in banner and "snowctl" in banner, "banner: %r" % banner)


def t_processes_counts_the_node(ctx):
    s, e, c = open_console(ctx)
    c.next_prompt()
    s.spawn("w1")
    s.spawn("w2")
    out = c.command("processes")
    count = out.split(" ", 1)[0]
    check(out.startswith("%s processes." % count), "processes: %r" % out)
    check(count == s.cmd("stats").kv.get("alive"), "processes says %s, the node %s" % (count, s.cmd("stats").raw))
    check(count == e.ev("rpc:call(S, erlang, system_info, [process_count])"), "processes: %r" % out)
    # The console itself is listed, by the id and serial erl shows for it.
    ident = ".".join(c.shell.strip("<>").split(".")[1:])
    check("<0.%s>" % ident in out, "the console %s is not in %r" % (c.shell, out))


def t_info_nodes_stats_log_level(ctx):
    s, e, c = open_console(ctx)
    c.next_prompt()
    w = s.spawn("named")
    e.ev("W = binary_to_term(binary:decode_hex(<<\"%s\">>))" % w)
    info = c.command("info %s" % e.ev("W"))
    check("registered_name    named" in info and "message_queue_len  0" in info, "info: %r" % info)
    check("is not alive" in c.command("info <0.1.1>"), "info of a dead pid")
    nodes = c.command("nodes")
    check(nodes.startswith("%s (this node)\n" % s.name) and e.ev("node()").strip("'") in nodes, "nodes: %r" % nodes)
    stats = c.command("stats")
    check("processes_alive" in stats and "nodes_connected        1" in stats, "stats: %r" % stats)
    check(c.command("log-level").startswith("log level: "), "log-level")
    check(c.command("log-level debug").startswith("log level: debug (was "), "log-level debug")
    e.expect("rpc:call(S, snowrt, log_level, [])", "debug")
    check("give one of error" in c.command("log-level loud"), "log-level of a bad level")


def t_unknown_input_gets_a_hint_and_erlang_is_not_evaluated(ctx):
    s, e, c = open_console(ctx)
    c.next_prompt()
    out = c.command("frobnicate now")
    check(out == "Unknown command frobnicate: type help for the commands, quit to leave.\n", "unknown: %r" % out)
    for code in ("q().", "init:stop()", "halt()."):
        out = c.command(code)
        check(out.startswith("This node runs no Erlang") and "do not stop it" in out, "%s: %r" % (code, out))
    check("too long" in c.command("x" * 2000), "a 2000-byte line")
    check(c.command("") == "", "an empty line")
    check(s.alive(), "the node stopped")
    e.expect("rpc:call(S, erlang, node, [])", "'%s'" % s.name)


def t_quit_ends_the_console_normally_and_the_node_serves_on(ctx):
    s, e, c = open_console(ctx)
    c.next_prompt()
    before = s.cmd("stats").kv.get("alive")
    c.send("quit")
    reason, text = c.exit_of()
    check(reason == "normal", "the console exited with %s" % reason)
    check("this node keeps running" in text and "Ctrl-G, then q" in text, "quit: %r" % text)
    until(lambda: s.cmd("stats").kv.get("alive") == str(int(before) - 1) or "still %s" % s.cmd("stats").raw,
          "the console process is gone")
    e.expect("rpc:call(S, erlang, node, [])", "'%s'" % s.name)
    s.spawn("after")
    check(s.alive(), "the node stopped")


def t_eof_ends_the_console_normally(ctx):
    s, e, c = open_console(ctx)
    c.next_prompt()
    e.ev("CG ! eof")
    reason, _ = c.exit_of()
    check(reason == "normal", "the console exited with %s" % reason)


def t_group_leader_death_and_disconnect_end_the_console(ctx):
    s, e, c = open_console(ctx)
    c.next_prompt()
    e.ev("exit(CG, kill)")
    until(lambda: console_gone(e, c), "the console outlived its group leader")
    d = Console(e, "D")
    d.next_prompt()
    e.expect("erlang:disconnect_node(S)", "true")
    until(lambda: console_gone(e, d), "the console outlived the connection")
    check(s.alive(), "the node stopped")


def t_group_leader_message_moves_the_console(ctx):
    s, e, c = open_console(ctx)
    c.next_prompt()
    # A second fake group that never started a shell: it takes over as the
    # console's group leader (what group.erl does for a shell given as a pid).
    e.ev("Me = self()")
    e.ev("NG = spawn(fun() -> receive {io_request, From, RA, {put_chars, unicode, Chars}} -> "
         "From ! {io_reply, RA, ok}, Me ! {moved, iolist_to_binary(Chars)} end, "
         "receive {io_request, _, _, {get_line, _, P}} -> Me ! {moved_prompt, iolist_to_binary(P)} end end)")
    e.ev("group_leader(NG, CSh)")
    # GROUP_LEADER for a process that is not a console: ignored.
    w = s.spawn("plain")
    e.ev("group_leader(NG, binary_to_term(binary:decode_hex(<<\"%s\">>)))" % w)
    c.send("stats")
    got = e.ev(recv("{moved, T} -> binary:encode_hex(T) after %d -> timeout" % (tmo(10) * 1000)))
    check(got != "timeout", "the answer did not go to the new group leader")
    check("processes_alive" in bytes.fromhex(got.strip('<>"')).decode(), "moved: %r" % got)
    e.expect(recv("{moved_prompt, P} -> P after %d -> timeout" % (tmo(10) * 1000)), '<<"%s> ">>' % s.name)
    e.expect("rpc:call(S, erlang, node, [])", "'%s'" % s.name)


def t_console_limit_and_tab_completion(ctx):
    s, e = setup(ctx)
    # Consoles nobody talks to: each holds one row until its caller goes.
    e.ev("Me = self()")
    e.ev("Open = fun() -> spawn(fun() -> group_leader(self(), self()), "
         "Me ! {opened, rpc:call(S, shell, start, [])}, receive stop -> ok end end) end")
    e.ev("Gs = [Open() || _ <- lists:seq(1, 32)]")
    e.expect("lists:all(fun erlang:is_pid/1, [%s || _ <- Gs])" % recv("{opened, X} -> X after %d -> timeout" % (tmo(10) * 1000)),
             "true")
    e.ev("G33 = Open()")
    got = e.ev(recv("{opened, X} -> X after %d -> timeout" % (tmo(10) * 1000)))
    check(got.startswith("{badrpc,{'EXIT',{system_limit,"), "the 33rd console: %s" % got)
    # Their callers end: their rows are freed and consoles open again.
    e.ev("[G ! stop || G <- Gs]")
    until(lambda: e.ev("rpc:call(S, erlang, system_info, [process_count])") == s.cmd("stats").kv.get("alive") and
          int(s.cmd("stats").kv.get("alive")) < 10 or "still %s" % s.cmd("stats").raw, "the consoles end")
    e.ev("G34 = Open()")
    got = e.ev(recv("{opened, X} -> X after %d -> timeout" % (tmo(10) * 1000)))
    check(got.startswith("<"), "a console after the others closed: %s" % got)
    # Tab in erl -remsh asks edlin_expand:expand: nothing to complete.
    e.expect('rpc:call(S, edlin_expand, expand, ["lis"])', "{no,[],[]}")


def t_real_erl_remsh_under_a_terminal(ctx):
    s = ctx.node("s")
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("erl", ["erl", "-name", "%s@%s" % (ctx.uname("r"), HOST), "-setcookie", "snowcookie", "-hidden",
                          "-remsh", s.name])
    buf = bytearray()

    def read_until(text, what):
        deadline = time.monotonic() + tmo(20)
        while text.encode() not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("erl -remsh: no %s; the terminal shows %r" % (what, bytes(buf[-2000:])))
            r, _, _ = select.select([fd], [], [], min(left, 0.2))
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise Fail("erl -remsh ended waiting for %s: %r" % (what, bytes(buf[-2000:])))
                buf.extend(chunk)
        at = buf.index(text.encode()) + len(text)
        seen = bytes(buf[:at]).decode("utf-8", "replace")
        del buf[:at]
        return seen

    try:
        banner = read_until("%s> " % s.name, "prompt")
        check("a libsnowrt node" in banner and "runs no Erlang shell" in banner, "banner: %r" % banner)
        os.write(fd, b"processes\r")
        out = read_until("%s> " % s.name, "answer to processes")
        check("%s processes." % s.cmd("stats").kv.get("alive") in out, "processes: %r" % out)
        os.write(fd, b"q().\r")
        out = read_until("%s> " % s.name, "answer to q().")
        check("do not stop it" in out, "q(): %r" % out)
        os.write(fd, b"quit\r")
        out = read_until("*** Shell process terminated! (^G to start new job) ***", "the shell's end")
        check("ERROR" not in out, "erl reports an error: %r" % out)
        os.write(fd, b"\x07")
        read_until("-->", "the job-control prompt")
        os.write(fd, b"q\r")
        deadline = time.monotonic() + tmo(20)
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = 0
                check(os.WIFEXITED(status), "erl ended with status %d" % status)
                break
            time.sleep(0.05)
        check(pid == 0, "erl did not end after q at the job-control prompt")
        check(s.alive(), "the node stopped")
        s.spawn("after")
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if not shutil.which("erl"):
        print("SKIP interop: erl not installed")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    runner = Runner("remsh", os.path.abspath(sys.argv[1]))
    for name, fn in [(n, f) for n, f in sorted(globals().items()) if n.startswith("t_")]:
        runner.add(name[2:], with_erls(fn))
    return runner.run(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
