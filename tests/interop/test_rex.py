#!/usr/bin/env python3
"""rex interop tests: a real Erlang node asks a libsnowrt node
(tests/dist/snow_node.c) about itself with the standard tools (rpc:call,
rpc:block_call, erpc, rpc:cast, gen_server calls to net_kernel, io:format
to one of its processes, erl_call) and checks the answers against what the
test made the node do (runtime/dist/rex.h).

  test_rex.py <path to snow_node> [name filters...]

Skips (prints "SKIP interop: ...", then "0 passed, 0 failed, 1 skipped",
exit 0) when erl is not installed. Same environment and output as
tests/dist/test_dist.py.
"""

import os
import queue
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "dist"))

from nodelib import (HOST, Fail, RawPeer, Runner, check, epmd_port, etf_pid_body, tmo)  # noqa: E402

# An Erlang shell without a terminal: reads one expression per line,
# evaluates it with the bindings of the lines before, and prints
# "R <result>" (~0p, one line), or "R {caught,Class,Reason}".
EVAL_LOOP = r"""
Loop = fun L(B) ->
  case io:get_line("") of
    eof -> halt();
    Line ->
      {R, B2} = try
          {ok, Toks, _} = erl_scan:string(Line),
          {ok, Exprs} = erl_parse:parse_exprs(Toks),
          {value, V, NB} = erl_eval:exprs(Exprs, B),
          {V, NB}
        catch C:E -> {{caught, C, E}, B} end,
      io:format("R ~0tp~n", [R]),
      L(B2)
  end
end,
io:format("ready ~s~n", [node()]),
Loop(erl_eval:new_bindings()).
"""


class ErlEval:
    """A hidden erl node evaluating expressions for the test."""

    def __init__(self, ctx, short, cookie="snowcookie"):
        self.name = "%s@%s" % (ctx.uname(short), HOST)
        self.log = open(os.path.join(ctx.logdir, "%s.stderr" % self.name), "w")
        self.p = subprocess.Popen(["erl", "-name", self.name, "-setcookie", cookie, "-hidden", "-noshell", "-eval",
                                   EVAL_LOOP], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ln = self._next(tmo(30), "erl ready")
        check(ln == "ready " + self.name, "erl says %r" % ln)
        ctx.erls.append(self)

    def _read(self):
        for raw in self.p.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def _next(self, timeout, what):
        try:
            ln = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Fail("erl: no %s within %.0fs" % (what, timeout))
        if ln is None:
            raise Fail("erl exited waiting for %s" % what)
        return ln

    def ev(self, expr, timeout=None):
        """The ~0p text of expr's value (expr without the final dot)."""
        self.p.stdin.write((expr.replace("\n", " ") + ".\n").encode())
        self.p.stdin.flush()
        while True:
            ln = self._next(timeout or tmo(20), "answer to %s" % expr)
            if ln.startswith("R "):
                return ln[2:]

    def expect(self, expr, want):
        got = self.ev(expr)
        check(got == want, "%s = %s, expected %s" % (expr, got, want))

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()
        self.log.close()


def setup(ctx):
    ctx.erls = []
    s = ctx.node("s")
    e = ErlEval(ctx, "e")
    e.ev('S = list_to_atom("%s")' % s.name)
    return s, e


def as_term(pid_hex):
    """An Erlang expression for a pid printed by snow_node (hex ETF)."""
    return 'binary_to_term(binary:decode_hex(<<"%s">>))' % pid_hex


def until(fn, what, timeout=None):
    """Polls fn() until it returns true; fails with `what` at the deadline."""
    deadline = time.monotonic() + (timeout or tmo(10))
    while True:
        last = fn()
        if last is True:
            return
        if time.monotonic() > deadline:
            raise Fail("%s (last: %s)" % (what, last))
        time.sleep(0.05)


def until_answer(e, expr, want, what):
    """Polls the erl node until expr evaluates to the text want."""
    def answered():
        got = e.ev(expr)
        return got == want or got
    until(answered, what)


def linked_pair(s, e):
    """Spawns a and b on the node, links a to b and binds A and B on the
    erl node; returns their pids (hex ETF)."""
    a = s.spawn("a")
    b = s.spawn("b")
    s.cmd("link", "a", b)
    e.ev("A = %s" % as_term(a))
    e.ev("B = %s" % as_term(b))
    return a, b


def with_erls(fn):
    def run(ctx):
        try:
            fn(ctx)
        finally:
            for e in getattr(ctx, "erls", []):
                e.close()
    return run


# ---------------------------------------------------------------- cases


def t_processes_list_matches_the_node(ctx):
    s, e = setup(ctx)
    pids = [s.spawn("w%d" % i) for i in range(3)]
    e.ev("P = rpc:call(S, erlang, processes, [])")
    for p in pids:
        e.expect("lists:member(%s, P)" % as_term(p), "true")
    alive = s.cmd("stats").kv.get("alive")
    e.expect("length(P)", alive)
    e.expect("rpc:call(S, erlang, system_info, [process_count])", alive)
    e.expect("lists:all(fun(X) -> node(X) =:= S end, P)", "true")


def t_process_info_items(ctx):
    s, e = setup(ctx)
    w = s.spawn("named")
    e.ev("W = %s" % as_term(w))
    e.expect("rpc:call(S, erlang, process_info, [W, registered_name])", "{registered_name,named}")
    e.expect("rpc:call(S, erlang, whereis, [named])", e.ev("W"))
    e.expect("rpc:call(S, erlang, process_info, [W, status])", "{status,waiting}")
    got = e.ev("rpc:call(S, erlang, process_info, [W, [registered_name, status, message_queue_len, heap_size, "
               "memory, reductions, current_function, initial_call]])")
    check(got.startswith("[{registered_name,named},{status,waiting},{message_queue_len,0},{heap_size,"), got)
    check("{current_function,{snowrt," in got and "{initial_call,{snowrt," in got, got)
    # A dead process: undefined, as for an Erlang process that exited.
    s.cmd("exit", "named", "normal")
    until_answer(e, "rpc:call(S, erlang, process_info, [W, status])", "undefined", "process_info of an exited process")
    e.expect("rpc:call(S, erlang, whereis, [named])", "undefined")


def t_message_queue_len_counts_waiting_messages(ctx):
    s, e = setup(ctx)
    q = s.spawn("q")
    p = s.spawn("p")
    # q waits in a service call to the erl shell's process (which never
    # replies): messages that arrive meanwhile stay in its mailbox.
    me = e.ev("binary:encode_hex(term_to_binary(self()))").strip('<>"')
    s.send_line("%d call q %s %s 60000" % (900, me, "00"))
    for i in range(5):
        s.cmd("send", "p", q, "%02x" % i)
    e.ev("Q = %s" % as_term(q))
    until(lambda: e.ev("rpc:call(S, erlang, process_info, [Q, message_queue_len])") == "{message_queue_len,5}"
          or "not yet", "message_queue_len 5 after five sends")
    e.expect("rpc:call(S, erlang, process_info, [Q, status])", "{status,waiting}")


def t_link_and_monitor_counts(ctx):
    s, e = setup(ctx)
    a = s.spawn("a")
    b = s.spawn("b")
    c = s.spawn("c")
    s.cmd("link", "a", b)
    s.cmd("monitor", "a", c)
    s.cmd("echo", "a")
    e.ev("A = %s" % as_term(a))
    until(lambda: e.ev("rpc:call(S, erlang, process_info, [A, [link_count, monitor_count]])") ==
          "[{link_count,1},{monitor_count,1}]" or "not yet", "link and monitor counts of a")
    e.expect("rpc:call(S, erlang, process_info, [%s, monitored_by_count])" % as_term(c), "{monitored_by_count,1}")


def erl_process(e, var):
    """Spawns a process on the erl node that waits for `stop`, binds it to
    var there and returns its pid as hex ETF (for snow_node commands)."""
    e.ev("%s = spawn(fun() -> receive stop -> ok end end)" % var)
    return e.ev("binary:encode_hex(term_to_binary(%s))" % var).strip('<>"')


def t_process_info_links_lists_local_and_remote_peers(ctx):
    s, e = setup(ctx)
    _, b = linked_pair(s, e)
    q = erl_process(e, "Q")
    s.cmd("link", "a", q)
    until_answer(e, "process_info(Q, links) =:= {links, [A]}", "true", "the erl side of the link")
    e.expect("{links, La} = rpc:call(S, erlang, process_info, [A, links]), lists:sort(La) =:= lists:sort([B, Q])",
             "true")
    e.expect("rpc:call(S, erlang, process_info, [B, links]) =:= {links, [A]}", "true")
    e.expect("[{links, Lb}, {status, _}] = rpc:call(S, erlang, process_info, [A, [links, status]]), "
             "lists:sort(Lb) =:= lists:sort([B, Q])", "true")
    # An unlinked peer leaves the list.
    s.cmd("unlink", "a", b)
    until_answer(e, "rpc:call(S, erlang, process_info, [A, links]) =:= {links, [Q]}", "true",
                 "a's links after unlinking b")


def t_process_info_monitors_and_monitored_by(ctx):
    s, e = setup(ctx)
    a = s.spawn("a")
    c = s.spawn("c")
    d = s.spawn("d")
    q = erl_process(e, "Q")
    s.cmd("monitor", "a", c)
    s.cmd("monitor", "a", q)
    s.cmd("monitor", "d", a)
    e.ev("A = %s" % as_term(a))
    e.ev("C = %s" % as_term(c))
    e.ev("D = %s" % as_term(d))
    e.expect("{monitors, Ma} = rpc:call(S, erlang, process_info, [A, monitors]), "
             "lists:sort(Ma) =:= lists:sort([{process, C}, {process, Q}])", "true")
    # Watchers: d here, the erl shell by pid and an erl process by a's
    # registered name, each listed by pid (once per monitor, as OTP does).
    e.ev("M = spawn(fun() -> erlang:monitor(process, {a, S}), receive stop -> ok end end)")
    e.ev("Ref1 = erlang:monitor(process, A)")
    e.ev("Ref2 = erlang:monitor(process, A)")
    until_answer(e, "{monitored_by, Wa} = rpc:call(S, erlang, process_info, [A, monitored_by]), "
                 "lists:sort(Wa) =:= lists:sort([D, M, self(), self()])", "true", "a's watchers")
    e.expect("rpc:call(S, erlang, process_info, [C, [monitored_by, monitors]]) =:= "
             "[{monitored_by, [A]}, {monitors, []}]", "true")
    e.expect("erlang:demonitor(Ref2)", "true")
    until_answer(e, "{monitored_by, Wb} = rpc:call(S, erlang, process_info, [A, monitored_by]), "
                 "lists:sort(Wb) =:= lists:sort([D, M, self()])", "true", "a's watchers after a demonitor")


def t_process_info_of_a_parked_process_answers_without_a_message(ctx):
    s, e = setup(ctx)
    linked_pair(s, e)
    until_answer(e, "rpc:call(S, erlang, process_info, [A, status])", "{status,waiting}", "a parked in receive")
    # A parked process is woken to answer (the node waits 5 s for an
    # answer, then answers a timeout error) and parks again.
    t0 = time.monotonic()
    for _ in range(5):
        e.expect("rpc:call(S, erlang, process_info, [A, links]) =:= {links, [B]}", "true")
    check(time.monotonic() - t0 < tmo(4), "five answers took %.1fs" % (time.monotonic() - t0))
    e.expect("rpc:call(S, erlang, process_info, [A, message_queue_len])", "{message_queue_len,0}")
    s.expect_none("a", "MSG", window=0.3, desc="a message delivered for a request")
    until_answer(e, "rpc:call(S, erlang, process_info, [A, status])", "{status,waiting}", "a parked again")
    s.cmd("echo", "a")


def t_process_info_of_a_running_process_answers_at_its_next_safepoint(ctx):
    s, e = setup(ctx)
    linked_pair(s, e)
    s.cmd("spin", "a", "1500")  # busy, without a safepoint, for 1.5 s
    e.expect("rpc:call(S, erlang, process_info, [A, links]) =:= {links, [B]}", "true")
    answered = time.monotonic_ns()
    spun = s.event("a", "SPUN", timeout=tmo(5))
    check(int(spun.kv["t"]) <= answered, "answered before the spin ended")


def t_process_info_of_a_dead_process_is_undefined(ctx):
    s, e = setup(ctx)
    w = s.spawn("w")
    b = s.spawn("b")
    s.cmd("link", "w", b)
    s.cmd("trap", "b", "1")
    e.ev("W = %s" % as_term(w))
    e.expect("rpc:call(S, erlang, process_info, [W, links]) =:= {links, [%s]}" % as_term(b), "true")
    s.cmd("exit", "w", "normal")
    s.event("b", "EXIT")
    for item in ["links", "monitors", "monitored_by", "[links, monitors, monitored_by]", "[status, links]"]:
        e.expect("rpc:call(S, erlang, process_info, [W, %s])" % item, "undefined")


def t_unknown_functions_answer_badrpc(ctx):
    s, e = setup(ctx)
    e.expect("rpc:call(S, foo, bar, [1])", "{badrpc,{'EXIT',{undef,[{foo,bar,[1],[]}]}}}")
    e.expect("rpc:block_call(S, foo, bar, [a])", "{badrpc,{'EXIT',{undef,[{foo,bar,[a],[]}]}}}")
    e.expect("rpc:call(S, erlang, processes, [extra])", "{badrpc,{'EXIT',{undef,[{erlang,processes,[extra],[]}]}}}")
    e.expect("try erpc:call(S, lists, reverse, [[1]]) catch error:{exception, E, _} -> E end", "undef")
    got = e.ev("rpc:call(S, erlang, statistics, [bogus])")
    check(got == "{badrpc,{'EXIT',{badarg,[{erlang,statistics,[bogus],[]}]}}}", got)
    got = e.ev("rpc:call(S, erlang, process_info, [self(), status])")
    check(got.startswith("{badrpc,{'EXIT',{badarg,"), "process_info of a pid of another node: %s" % got)
    # Answered at once: ten unknown calls well within a second each.
    t0 = time.monotonic()
    e.expect("length([rpc:call(S, m, f, []) || _ <- lists:seq(1, 10)])", "10")
    check(time.monotonic() - t0 < tmo(5), "ten badrpc answers took %.1fs" % (time.monotonic() - t0))


def t_statistics_memory_system_info(ctx):
    s, e = setup(ctx)
    e.expect("{T, _} = rpc:call(S, erlang, statistics, [wall_clock]), is_integer(T) andalso T >= 0", "true")
    e.expect("{R, _} = rpc:call(S, erlang, statistics, [runtime]), is_integer(R)", "true")
    e.expect("{Rd, _} = rpc:call(S, erlang, statistics, [reductions]), is_integer(Rd)", "true")
    e.expect("[K || {K, _} <- rpc:call(S, erlang, memory, [])]",
             "[total,processes,processes_used,system,atom,atom_used,binary,code,ets]")
    e.expect("Tot = rpc:call(S, erlang, memory, [total]), Tot > 1000000", "true")
    e.expect("[{processes, Pr}] = rpc:call(S, erlang, memory, [[processes]]), is_integer(Pr)", "true")
    e.expect("is_integer(rpc:call(S, erlang, system_info, [schedulers]))", "true")
    e.expect("rpc:call(S, erlang, system_info, [process_limit])", str(1 << 24))
    e.expect("lists:prefix(\"libsnowrt\", rpc:call(S, erlang, system_info, [system_version]))", "true")
    e.expect("rpc:call(S, erlang, node, [])", "'%s'" % s.name)
    e.expect("rpc:call(S, erlang, nodes, [connected])", "['%s']" % e.name)
    e.expect("rpc:call(S, erlang, nodes, [])", "[]")  # the erl node is hidden
    e.expect("rpc:call(S, erlang, nodes, [hidden])", "['%s']" % e.name)


def t_cast_runs_and_unknown_cast_fails_remotely(ctx):
    s, e = setup(ctx)
    e.expect("rpc:call(S, snowrt, log_level, [])", "info")
    e.expect("rpc:cast(S, snowrt, log_level, [warning])", "true")
    until(lambda: e.ev("rpc:call(S, snowrt, log_level, [])") == "warning" or "not yet", "the cast set the level")
    e.expect("rpc:call(S, snowrt, log_level, [info])", "warning")
    e.expect("rpc:call(S, snowrt, log_level, [loud])", "{badrpc,{'EXIT',{badarg,[{snowrt,log_level,[loud],[]}]}}}")
    e.expect("rpc:cast(S, nosuch, thing, [])", "true")
    e.expect("gen_server:cast({rex, S}, {cast, nosuch, other, [], user})", "ok")

    def logged():
        with open(s.log_path) as f:
            text = f.read()
        return ("a cast of nosuch:thing from a peer failed: undef" in text and
                "a cast of nosuch:other from a peer failed: undef" in text) or "not logged yet"
    until(logged, "the failed casts are logged on the node")
    e.expect("rpc:call(S, erlang, node, [])", "'%s'" % s.name)


def t_net_kernel_io_and_erl_call(ctx):
    s, e = setup(ctx)
    w = s.spawn("w")
    e.expect("net_adm:ping(S)", "pong")
    e.expect("gen_server:call({net_kernel, S}, {is_auth, node()})", "yes")
    e.expect("gen_server:call({net_kernel, S}, nodename)", "'%s'" % s.name)
    e.expect("catch gen_server:call({net_kernel, S}, {connect, normal, 'x@y'}, 500)",
             "{'EXIT',{timeout,{gen_server,call,[{net_kernel,'%s'},{connect,normal,x@y},500]}}}" % s.name)
    t0 = time.monotonic()
    got = e.ev("try io:format(%s, \"hello\", []) catch error:E -> E end" % as_term(w))
    check(got == "badarg", "io:format to a libsnowrt process: %s" % got)
    check(time.monotonic() - t0 < tmo(5), "io:format took %.1fs" % (time.monotonic() - t0))
    s.expect_none("w", "TERM", window=0.3, desc="the io request delivered as a message")
    if shutil.which("erl_call"):
        r = subprocess.run(["erl_call", "-c", "snowcookie", "-n", s.name, "-a", "erlang node"], capture_output=True,
                           timeout=tmo(20))
        check(r.stdout.decode().strip() == "'%s'" % s.name, "erl_call -a: %r %r" % (r.stdout, r.stderr))
        r = subprocess.run(["erl_call", "-c", "snowcookie", "-n", s.name, "-a", "shell start"], capture_output=True,
                           timeout=tmo(20))
        check(b"undef" in r.stdout, "erl_call of an unknown function: %r" % r.stdout)


# ---------------------------------------------------------------- hostile


def term_atom(name):
    b = name.encode()
    return bytes([119, len(b)]) + b


def term_tuple(*items):
    return bytes([104, len(items)]) + b"".join(items)


def term_list(*items):
    return (bytes([108]) + len(items).to_bytes(4, "big") + b"".join(items) + bytes([106])) if items else bytes([106])


def reg_send_frame(from_pid, name, msg):
    ctl = term_tuple(bytes([97, 6]), from_pid, term_atom(""), term_atom(name))
    return bytes([112, 131]) + ctl + bytes([131]) + msg


def recv_frame_with(r, needle, timeout):
    """Reads frames until one contains `needle`; False at the deadline."""
    import socket
    deadline = time.monotonic() + timeout
    r.sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            n = int.from_bytes(r.recv_exact(4), "big")
            body = r.recv_exact(n)
        except socket.timeout:
            continue
        if needle in body:
            return True
    return False


def t_malformed_rex_requests_keep_connections(ctx):
    s, e = setup(ctx)
    e.expect("rpc:call(S, erlang, node, [])", "'%s'" % s.name)
    peer = "raw%d@%s" % (os.getpid(), HOST)
    r = RawPeer(epmd_port(s.name), timeout=tmo(10))
    try:
        r.handshake(peer, "snowcookie")
        me = etf_pid_body(peer, 1, 0, 0x1234)
        tag = term_atom("hostile_tag")
        good_call = term_tuple(term_atom("call"), term_atom("erlang"), term_atom("node"), bytes([106]), term_atom("user"))
        bad = [
            term_tuple(term_atom("$gen_call"), term_atom("nofrom"), good_call),
            term_tuple(term_atom("$gen_call"), term_tuple(me, tag), term_atom("call")),
            term_tuple(term_atom("$gen_call"), term_tuple(me, tag),
                       term_tuple(term_atom("call"), bytes([97, 1]), bytes([97, 2]), bytes([97, 3]), bytes([97, 4]))),
            # An improper argument list.
            term_tuple(term_atom("$gen_call"), term_tuple(me, tag),
                       term_tuple(term_atom("call"), term_atom("erlang"), term_atom("node"),
                                  bytes([108, 0, 0, 0, 1, 97, 1, 97, 2]), term_atom("user"))),
            term_tuple(term_atom("$gen_cast"), term_atom("nope")),
            term_tuple(me, term_atom("features_nonsense")),
            term_list(*[term_atom("x")] * 50),
        ]
        for msg in bad:
            r.send_frame(reg_send_frame(me, "rex", msg))
        # A SPAWN_REQUEST of erpc:execute_call whose arguments are not [Res, M, F, A].
        spawn_ctl = term_tuple(bytes([97, 29]), term_tuple(term_atom("req")), me, me,
                               term_tuple(term_atom("erpc"), term_atom("execute_call"), bytes([97, 4])),
                               term_list(term_atom("monitor")))
        r.send_frame(bytes([112, 131]) + spawn_ctl + bytes([131]) + term_list(term_atom("only_one")))
        # A flood: more calls than rex runs at once get system_limit, none is lost.
        flood = term_tuple(term_atom("$gen_call"), term_tuple(me, term_atom("flood")),
                           term_tuple(term_atom("call"), term_atom("erlang"), term_atom("processes"), bytes([106]),
                                      term_atom("user")))
        for _ in range(200):
            r.send_frame(reg_send_frame(me, "rex", flood))
        r.send_frame(reg_send_frame(me, "rex", term_tuple(term_atom("$gen_call"), term_tuple(me, tag), good_call)))
        check(recv_frame_with(r, b"hostile_tag", tmo(10)), "no answer to a good call after the malformed ones")
        check(not r.closed_within(0.5), "the node closed the raw peer's connection")
    finally:
        r.close()
    e.expect("rpc:call(S, erlang, node, [])", "'%s'" % s.name)
    e.expect("length(rpc:call(S, erlang, processes, [])) > 0", "true")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if not shutil.which("erl"):
        print("SKIP interop: erl not installed")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    runner = Runner("rex", os.path.abspath(sys.argv[1]))
    for name, fn in [(n, f) for n, f in sorted(globals().items()) if n.startswith("t_")]:
        runner.add(name[2:], with_erls(fn))
    return runner.run(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
