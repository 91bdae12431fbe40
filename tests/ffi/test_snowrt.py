#!/usr/bin/env python3
"""test_snowrt.py: libsnowrt through the Python ctypes binding.

One file on purpose (over 800 lines): one case per ABI area, all run in one
interpreter against one library load, as a Python user would.

    python3 test_snowrt.py --lib path/to/libsnowrt.so --helpers path/to/libsnowrt_ffi_helpers.so

Loads the library with the raw ctypes layer of the snowrt package
(abi/bindings/python/snowrt/_ffi.py), starts the runtime
with this thread as the main process, and checks the ABI from Python:
messages, selective receive, spawn/monitor/link/exit of C helper processes,
names, timers, attached threads, services, heap, stats, layouts. Each test
is one behaviour; they run in order in one runtime (a few must come before
the start or after the stop). Prints one line per test, then
`N passed, N failed`; exits 1 if any failed.

Process entry functions are C functions from the helper library, never
Python callbacks (see the binding's docstring for why).
"""

import argparse
import ctypes
import faulthandler
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "..", "abi", "bindings", "python"))

from snowrt import _ffi as snowrt  # noqa: E402
from snowrt._ffi import u64, get_u64  # noqa: E402

DEADLINE_MS = 5000

rt = None  # the CDLL
helpers = None  # the helper CDLL
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: expected %r, got %r" % (what or "value", b, a))


def ok(cond, what):
    if not cond:
        raise AssertionError(what)


def recv(timeout=DEADLINE_MS, what="a message"):
    m = snowrt.receive(rt, timeout)
    ok(m is not None, "no %s within %d ms" % (what, timeout))
    return m


def drain():
    n = 0
    while snowrt.receive(rt, 0) is not None:
        n += 1
    return n


def helper(name):
    return snowrt.proc_fn(getattr(helpers, name))


def spawn_monitored(name, args=b"", link=False):
    o = snowrt.snow_spawn_opts()
    o.monitor = 1
    o.link = 1 if link else 0
    pid = rt.snow_actor_spawn_opts(helper(name), args or None, len(args), ctypes.byref(o))
    ok(pid != 0, "spawn_opts(%s) failed" % name)
    ok(o.monitor_ref != 0, "no monitor ref")
    return pid, o.monitor_ref


def expect_down(ref, pid, timeout=DEADLINE_MS):
    m = recv(timeout, "DOWN")
    eq(m.kind, snowrt.SNOW_MSG_DOWN, "kind")
    eq(m.tag, snowrt.SNOW_TAG_DOWN, "tag")
    r, p, reason = snowrt.parse_down(m)
    eq(r, ref, "DOWN ref")
    eq(p, pid, "DOWN pid")
    return reason


# ---------------------------------------------------------------------------
# Before the runtime starts
# ---------------------------------------------------------------------------


@test
def every_abi_function_is_exported():
    eq(rt.snowrt_missing, [], "functions missing from the library")


@test
def abi_version_and_strerror():
    eq(rt.snow_rt_abi_version(), snowrt.SNOW_ABI_VERSION, "abi version")
    eq(snowrt.strerror(rt, snowrt.SNOW_EINVAL), "invalid argument", "strerror(EINVAL)")
    eq(snowrt.strerror(rt, 0), "success", "strerror(0)")
    eq(snowrt.strerror(rt, 12), "success", "strerror(12)")
    eq(snowrt.strerror(rt, -999), "unknown error", "strerror(-999)")
    for code, text in snowrt.ERROR_TEXT.items():
        eq(snowrt.strerror(rt, code), text, "strerror(%d)" % code)


@test
def calls_before_start_fail_cleanly():
    rt.snow_rt_init()
    rt.snow_rt_init()  # idempotent
    eq(rt.snow_actor_self(), 0, "self before start")
    eq(rt.snow_actor_send(1, b"x", 1), snowrt.SNOW_ENOTSTARTED, "send before start")
    eq(bool(rt.snow_actor_receive(0)), False, "receive outside a process")
    eq(rt.snow_actor_spawn(helper("ffi_waiter"), None, 0, 1), 0, "spawn before start")
    eq(rt.snow_thread_attach(), 0, "attach before start")
    eq(rt.snow_process_monitor(1), 0, "monitor outside a process")
    s = snowrt.stats(rt)
    ok(isinstance(s["processes_alive"], int), "stats before start")
    eq(rt.snow_rt_stats(None), snowrt.SNOW_EINVAL, "stats(NULL)")


@test
def init_actor_makes_main_a_process():
    eq(rt.snow_rt_init_actor(0), 0, "init_actor")
    eq(rt.snow_rt_init_actor(0), snowrt.SNOW_EALREADY, "second init_actor")
    me = rt.snow_actor_self()
    ok(me != 0, "main has a pid")
    eq(rt.snow_thread_attach(), me, "attach on the main thread returns its pid")
    eq(rt.snow_thread_detach(), snowrt.SNOW_EINVAL, "main cannot detach")


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


@test
def send_to_self_tag_and_payload():
    me = rt.snow_actor_self()
    snowrt.send(rt, me, u64(42, 1234))
    m = recv()
    eq(m, snowrt.Message(snowrt.SNOW_MSG_USER, 42, u64(42, 1234)), "message")
    # the raw struct: payload at offset 16
    snowrt.send(rt, me, b"abcdefghij")
    p = rt.snow_actor_receive(DEADLINE_MS)
    ok(bool(p), "raw receive")
    eq(ctypes.string_at(ctypes.addressof(p.contents) + 16, p.contents.len), b"abcdefghij", "data at offset 16")
    eq(p.contents.tag, int.from_bytes(b"abcdefgh", "little"), "tag = first 8 bytes")
    eq(snowrt.snow_msg.data.offset, 16, "ctypes data offset")


@test
def short_and_empty_messages_zero_pad_the_tag():
    me = rt.snow_actor_self()
    snowrt.send(rt, me, b"\x01\x02\x03")
    eq(recv(), snowrt.Message(snowrt.SNOW_MSG_USER, 0x030201, b"\x01\x02\x03"), "3-byte message")
    eq(rt.snow_actor_send(me, None, 0), 0, "empty send")
    eq(recv(), snowrt.Message(snowrt.SNOW_MSG_USER, 0, b""), "empty message")


@test
def user_message_with_a_reserved_tag_is_still_user():
    me = rt.snow_actor_self()
    snowrt.send(rt, me, u64(snowrt.SNOW_TAG_DOWN, 1, 2) + b"\x00")
    m = recv()
    eq(m.tag, snowrt.SNOW_TAG_DOWN, "tag")
    eq(m.kind, snowrt.SNOW_MSG_USER, "kind")


@test
def send_argument_errors():
    eq(rt.snow_actor_send(0, b"x", 1), snowrt.SNOW_EINVAL, "send to pid 0")
    eq(rt.snow_actor_send(rt.snow_actor_self(), None, 5), snowrt.SNOW_EINVAL, "NULL msg with size")


@test
def send_to_unknown_pid_succeeds_and_drops():
    eq(rt.snow_actor_send(0xDEAD_BEEF_0000, b"lost", 4), 0, "send to unknown pid")
    eq(snowrt.receive(rt, 0), None, "nothing comes back")


@test
def messages_from_one_sender_arrive_in_order():
    me = rt.snow_actor_self()
    for i in range(200):
        snowrt.send(rt, me, u64(i))
    for i in range(200):
        eq(recv().tag, i, "message %d" % i)


@test
def receive_timeout_fires_on_time():
    t0 = time.monotonic()
    eq(snowrt.receive(rt, 100), None, "receive(100) on an empty mailbox")
    dt = (time.monotonic() - t0) * 1000
    ok(90 <= dt < 2000, "receive(100) took %.1f ms" % dt)
    t0 = time.monotonic()
    eq(snowrt.receive(rt, 0), None, "poll")
    ok((time.monotonic() - t0) < 0.5, "poll returns at once")


@test
def selective_receive_with_a_c_predicate_keeps_the_others_in_order():
    me = rt.snow_actor_self()
    for t in (1, 2, 3):
        snowrt.send(rt, me, u64(t))
    want = ctypes.c_uint64(2)
    match = ctypes.cast(helpers.ffi_match_tag, snowrt.SNOW_MATCH_FN)
    p = rt.snow_actor_receive_match(match, ctypes.byref(want), DEADLINE_MS)
    ok(bool(p), "match found")
    eq(p.contents.tag, 2, "matched tag")
    eq(recv().tag, 1, "first left")
    eq(recv().tag, 3, "second left")
    want.value = 99
    t0 = time.monotonic()
    snowrt.send(rt, me, u64(5))
    eq(bool(rt.snow_actor_receive_match(match, ctypes.byref(want), 100)), False, "no match: timeout")
    ok((time.monotonic() - t0) >= 0.09, "waited for the timeout")
    eq(recv().tag, 5, "the rejected message is still there")
    eq(bool(rt.snow_actor_receive_match(None, None, 0)), False, "NULL match")


# ---------------------------------------------------------------------------
# Processes, monitors, links, exits
# ---------------------------------------------------------------------------


@test
def spawn_echo_and_monitor_its_normal_exit():
    me = rt.snow_actor_self()
    pid, ref = spawn_monitored("ffi_echo")
    ok(pid != me, "new pid")
    snowrt.send(rt, pid, u64(me) + b"ping")
    eq(recv(), snowrt.Message(snowrt.SNOW_MSG_USER, int.from_bytes(b"ping", "little"), b"ping"), "echo")
    eq(expect_down(ref, pid), snowrt.Reason(snowrt.SNOW_REASON_NORMAL, None), "reason")


@test
def spawn_copies_args_and_rejects_bad_input():
    eq(rt.snow_actor_spawn(None, None, 0, 1), 0, "NULL fn")
    eq(rt.snow_actor_spawn(helper("ffi_waiter"), None, 4, 1), 0, "NULL args with size")
    o = snowrt.snow_spawn_opts()
    o.reserved_[2] = 1
    eq(rt.snow_actor_spawn_opts(helper("ffi_waiter"), None, 0, ctypes.byref(o)), 0, "non-zero reserved bytes")
    # args are copied: the terminator reads its notify pid from them
    me = rt.snow_actor_self()
    buf = ctypes.create_string_buffer(u64(me), 8)
    pid, ref = spawn_monitored("ffi_terminator", buf.raw)
    ctypes.memset(buf, 0, 8)
    snowrt.send(rt, pid, b"go")
    m = recv(what="terminate report")
    eq(m.data[:1], b"\x7e", "terminate report from the copied notify pid")
    expect_down(ref, pid)


@test
def terminate_callback_runs_before_down():
    me = rt.snow_actor_self()
    pid, ref = spawn_monitored("ffi_terminator", u64(me))
    snowrt.send(rt, pid, b"go")
    m = recv(what="terminate report")
    eq(m.kind, snowrt.SNOW_MSG_USER, "first comes the callback's message")
    eq(snowrt.decode_reason(m.data[8:]), snowrt.Reason(snowrt.SNOW_REASON_CUSTOM, b"cb"), "callback reason")
    eq(expect_down(ref, pid), snowrt.Reason(snowrt.SNOW_REASON_CUSTOM, b"cb"), "DOWN reason")


@test
def monitor_dead_process_gives_noproc_at_once():
    pid, ref = spawn_monitored("ffi_waiter")
    snowrt.send(rt, pid, b"go")
    expect_down(ref, pid)
    ref2 = rt.snow_process_monitor(pid)
    ok(ref2 not in (0, ref), "new ref")
    eq(expect_down(ref2, pid).tag, snowrt.SNOW_REASON_NOPROC, "noproc")
    eq(rt.snow_process_monitor(0), 0, "monitor(0)")
    eq(rt.snow_process_demonitor(ref2), 1, "demonitor of a fired monitor")


@test
def demonitor_flush_leaves_no_down_behind():
    # Two monitors on one process: once the first DOWN has been taken, the
    # second is queued or in flight; after the flush it never shows up.
    pid = rt.snow_actor_spawn(helper("ffi_waiter"), None, 0, 1)
    ref1 = rt.snow_process_monitor(pid)
    ref2 = rt.snow_process_monitor(pid)
    ok(0 not in (ref1, ref2) and ref1 != ref2, "two refs")
    snowrt.send(rt, pid, b"go")
    want = ctypes.c_uint64(snowrt.SNOW_TAG_DOWN)
    match = ctypes.cast(helpers.ffi_match_tag, snowrt.SNOW_MATCH_FN)
    first = snowrt.read_msg(rt, rt.snow_actor_receive_match(match, ctypes.byref(want), DEADLINE_MS))
    ok(first is not None, "first DOWN")
    r, p, _ = snowrt.parse_down(first)
    eq(p, pid, "DOWN pid")
    other = ref2 if r == ref1 else ref1
    ok(r in (ref1, ref2), "DOWN for one of the refs")
    ok(rt.snow_process_demonitor_flush(other) in (0, 1), "flush result")
    eq(snowrt.receive(rt, 100), None, "no DOWN for the flushed ref")


@test
def kill_is_untrappable_and_seen_as_killed():
    pid, ref = spawn_monitored("ffi_waiter")
    eq(rt.snow_actor_exit(pid, snowrt.SNOW_REASON_KILLED), 0, "exit(killed)")
    eq(expect_down(ref, pid).tag, snowrt.SNOW_REASON_KILLED, "reason")


@test
def trapping_main_gets_exit_message_from_linked_process():
    eq(rt.snow_actor_set_trap_exit(True), False, "trap was off")
    try:
        pid, ref = spawn_monitored("ffi_waiter", link=True)
        eq(rt.snow_actor_exit(pid, snowrt.SNOW_REASON_SHUTDOWN), 0, "exit(shutdown)")
        got = {}
        for _ in range(2):
            m = recv(what="EXIT and DOWN")
            got[m.kind] = m
        ok(snowrt.SNOW_MSG_EXIT in got and snowrt.SNOW_MSG_DOWN in got, "EXIT and DOWN: %r" % (got,))
        frm, reason = snowrt.parse_exit(got[snowrt.SNOW_MSG_EXIT])
        eq(got[snowrt.SNOW_MSG_EXIT].tag, snowrt.SNOW_TAG_EXIT, "EXIT tag")
        eq(frm, pid, "EXIT from")
        eq(reason.tag, snowrt.SNOW_REASON_SHUTDOWN, "EXIT reason")
    finally:
        eq(rt.snow_actor_set_trap_exit(False), True, "trap was on")


@test
def trap_exit_without_argument_turns_trapping_on():
    eq(rt.snow_actor_trap_exit(), False, "previous value")
    eq(rt.snow_actor_set_trap_exit(False), True, "it was on")


@test
def exit_signal_to_self_is_a_message_when_trapping():
    me = rt.snow_actor_self()
    rt.snow_actor_set_trap_exit(True)
    try:
        eq(rt.snow_actor_exit(me, snowrt.SNOW_REASON_NORMAL), 0, "exit(self, normal)")
        m = recv(what="EXIT")
        frm, reason = snowrt.parse_exit(m)
        eq(frm, me, "from is the sender")
        eq(reason.tag, snowrt.SNOW_REASON_NORMAL, "reason")
    finally:
        rt.snow_actor_set_trap_exit(False)


@test
def unlink_stops_exit_propagation():
    rt.snow_actor_set_trap_exit(True)
    try:
        pid, ref = spawn_monitored("ffi_waiter", link=True)
        eq(rt.snow_actor_unlink(pid), 0, "unlink")
        rt.snow_actor_exit(pid, snowrt.SNOW_REASON_KILLED)
        expect_down(ref, pid)
        eq(snowrt.receive(rt, 100), None, "no EXIT after unlink")
    finally:
        rt.snow_actor_set_trap_exit(False)


@test
def link_to_dead_process_gives_noproc_exit():
    rt.snow_actor_set_trap_exit(True)
    try:
        pid, ref = spawn_monitored("ffi_waiter")
        snowrt.send(rt, pid, b"go")
        expect_down(ref, pid)
        eq(rt.snow_actor_link(pid), 0, "link to a dead pid")
        frm, reason = snowrt.parse_exit(recv(what="EXIT noproc"))
        eq(frm, pid, "from")
        eq(reason.tag, snowrt.SNOW_REASON_NOPROC, "reason")
        eq(rt.snow_actor_link(0), snowrt.SNOW_EINVAL, "link(0)")
    finally:
        rt.snow_actor_set_trap_exit(False)


@test
def exit_with_encoded_custom_reason():
    pid, ref = spawn_monitored("ffi_waiter")
    reason = snowrt.encode_reason(snowrt.SNOW_REASON_CUSTOM, "bye")
    eq(rt.snow_actor_exit_reason(pid, reason, len(reason)), 0, "exit_reason")
    eq(expect_down(ref, pid), snowrt.Reason(snowrt.SNOW_REASON_CUSTOM, b"bye"), "reason")


@test
def exit_argument_errors():
    pid, ref = spawn_monitored("ffi_waiter")
    eq(rt.snow_actor_exit(0, 2), snowrt.SNOW_EINVAL, "pid 0")
    eq(rt.snow_actor_exit(pid, 3), snowrt.SNOW_EINVAL, "reserved tag 3")
    eq(rt.snow_actor_exit(pid, 9), snowrt.SNOW_EINVAL, "tag 9")
    bad = bytes([snowrt.SNOW_REASON_CUSTOM]) + u64(100) + b"short"
    eq(rt.snow_actor_exit_reason(pid, bad, len(bad)), snowrt.SNOW_EINVAL, "truncated reason")
    eq(rt.snow_actor_exit_reason(pid, b"\x03", 1), snowrt.SNOW_EINVAL, "reserved reason")
    snowrt.send(rt, pid, b"go")
    eq(expect_down(ref, pid).tag, snowrt.SNOW_REASON_NORMAL, "still alive until told")


@test
def panic_ends_only_the_panicking_process():
    pid, ref = spawn_monitored("ffi_crasher")
    reason = expect_down(ref, pid)
    eq(reason.tag, snowrt.SNOW_REASON_ERROR, "reason tag")
    eq(reason.text, b"ffi_helpers.c:77: told to crash", "message is file:line: msg")
    ok(rt.snow_actor_self() != 0, "main still alive")


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


@test
def register_whereis_send_named_unregister():
    me = rt.snow_actor_self()
    n = b"py_main"
    eq(rt.snow_actor_register(n, len(n)), 0, "register")
    try:
        eq(rt.snow_actor_register(n, len(n)), snowrt.SNOW_EEXIST, "register twice")
        eq(rt.snow_actor_whereis(n, len(n)), me, "whereis")
        eq(rt.snow_actor_send_named(n, len(n), None, 0, b"named", 5), 0, "send_named")
        eq(recv().data, b"named", "named message")
        eq(rt.snow_actor_send_named(b"nobody", 6, None, 0, b"x", 1), 0, "unknown name drops")
    finally:
        eq(rt.snow_actor_unregister(n, len(n)), 0, "unregister")
    eq(rt.snow_actor_unregister(n, len(n)), snowrt.SNOW_ENOTFOUND, "unregister twice")
    eq(rt.snow_actor_whereis(n, len(n)), 0, "whereis after unregister")
    eq(rt.snow_actor_register(b"", 0), snowrt.SNOW_EBADNAME, "empty name")
    eq(rt.snow_actor_register(b"x" * 256, 256), snowrt.SNOW_EBADNAME, "256-byte name")


@test
def name_is_released_when_the_process_exits():
    me = rt.snow_actor_self()
    n = b"ffi_named"
    pid, ref = spawn_monitored("ffi_named", u64(me))
    eq(get_u64(recv(what="registration result").data, 0), 0, "the helper registered its name")
    eq(rt.snow_actor_whereis(n, len(n)), pid, "whereis")
    eq(rt.snow_actor_unregister(n, len(n)), snowrt.SNOW_ENOTFOUND, "main cannot unregister it")
    snowrt.send(rt, pid, b"go")
    expect_down(ref, pid)
    eq(rt.snow_actor_whereis(n, len(n)), 0, "released on exit")


# ---------------------------------------------------------------------------
# Timers
# ---------------------------------------------------------------------------


@test
def send_after_delivers_later_and_cancel_reports_fired():
    me = rt.snow_actor_self()
    t0 = time.monotonic()
    ref = rt.snow_timer_send_after(me, 50, b"tick", 4)
    ok(ref > 0, "timer ref")
    m = recv(what="timer message")
    dt = (time.monotonic() - t0) * 1000
    eq(m.data, b"tick", "payload")
    ok(dt >= 45, "fired after %.1f ms (asked 50)" % dt)
    eq(rt.snow_timer_cancel(ref), 1, "cancel after firing")


@test
def cancelled_timer_never_fires():
    me = rt.snow_actor_self()
    ref = rt.snow_timer_send_after(me, 50, b"tock", 4)
    eq(rt.snow_timer_cancel(ref), 0, "cancel before firing")
    eq(rt.snow_timer_cancel(ref), 1, "cancel twice")
    eq(snowrt.receive(rt, 200), None, "nothing arrives")


@test
def send_after_argument_errors():
    me = rt.snow_actor_self()
    eq(rt.snow_timer_send_after(0, 10, b"x", 1), 0, "pid 0")
    eq(rt.snow_timer_send_after(me, 10, None, 1), 0, "NULL with size")
    eq(rt.snow_timer_send_after(me, 10, b"x", -1), 0, "negative size")
    eq(rt.snow_timer_cancel(0), 1, "cancel unknown")


@test
def timers_fire_in_deadline_order():
    me = rt.snow_actor_self()
    for ms in (90, 30, 60):
        rt.snow_timer_send_after(me, ms, u64(ms), 8)
    eq([recv().tag for _ in range(3)], [30, 60, 90], "order")


@test
def sleep_parks_the_caller():
    t0 = time.monotonic()
    rt.snow_timer_sleep(30)
    dt = (time.monotonic() - t0) * 1000
    ok(28 <= dt < 2000, "slept %.1f ms" % dt)
    t0 = time.monotonic()
    rt.snow_timer_sleep(0)
    rt.snow_timer_sleep(-5)
    ok(time.monotonic() - t0 < 0.5, "sleep(<=0) returns at once")


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------


@test
def attached_thread_is_a_process():
    me = rt.snow_actor_self()
    result = {}

    def body():
        try:
            pid = rt.snow_thread_attach()
            result["pid"] = pid
            result["again"] = rt.snow_thread_attach()
            result["self"] = rt.snow_actor_self()
            snowrt.send(rt, me, u64(pid))
            m = snowrt.receive(rt, DEADLINE_MS)
            result["got"] = m
            result["detach"] = rt.snow_thread_detach()
            result["detach2"] = rt.snow_thread_detach()
            result["self_after"] = rt.snow_actor_self()
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    t = threading.Thread(target=body)
    t.start()
    m = recv(what="attached thread's pid")
    pid = m.tag
    ok(pid not in (0, me), "attached pid")
    ref = rt.snow_process_monitor(pid)
    snowrt.send(rt, pid, b"hello thread")
    eq(expect_down(ref, pid).tag, snowrt.SNOW_REASON_NORMAL, "detach exits normal")
    t.join(DEADLINE_MS / 1000)
    ok(not t.is_alive(), "thread finished")
    ok("error" not in result, "thread error: %r" % (result.get("error"),))
    eq(result["again"], pid, "attach twice returns the same pid")
    eq(result["self"], pid, "self in the thread")
    eq(result["got"].data, b"hello thread", "thread received")
    eq(result["detach"], 0, "detach")
    eq(result["detach2"], snowrt.SNOW_ENOTPROC, "detach twice")
    eq(result["self_after"], 0, "self after detach")


@test
def unattached_thread_can_send_and_exit():
    me = rt.snow_actor_self()
    pid, ref = spawn_monitored("ffi_waiter")
    result = {}

    def body():
        result["self"] = rt.snow_actor_self()
        result["send"] = rt.snow_actor_send(me, b"from a thread", 13)
        result["monitor"] = rt.snow_process_monitor(pid)
        result["receive"] = bool(rt.snow_actor_receive(0))
        result["exit"] = rt.snow_actor_exit(pid, snowrt.SNOW_REASON_KILLED)

    t = threading.Thread(target=body)
    t.start()
    t.join(DEADLINE_MS / 1000)
    eq(result, {"self": 0, "send": 0, "monitor": 0, "receive": False, "exit": 0}, "results in the thread")
    eq(recv().data, b"from a thread", "message from the thread")
    eq(expect_down(ref, pid).tag, snowrt.SNOW_REASON_KILLED, "exit from an unattached thread")


@test
def many_threads_send_concurrently_in_per_sender_order():
    me = rt.snow_actor_self()
    senders, per = 4, 250

    def body(k):
        for i in range(per):
            rt.snow_actor_send(me, u64(k, i), 16)

    ts = [threading.Thread(target=body, args=(k,)) for k in range(senders)]
    for t in ts:
        t.start()
    nxt = [0] * senders
    for _ in range(senders * per):
        m = recv()
        k, i = get_u64(m.data, 0), get_u64(m.data, 8)
        eq(i, nxt[k], "order of sender %d" % k)
        nxt[k] += 1
    for t in ts:
        t.join()


# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------


@test
def service_call_gets_the_correlated_reply():
    pid, ref = spawn_monitored("ffi_service")
    for i in range(1, 4):
        p = rt.snow_service_call(pid, 10 * i, b"abc%d" % i, 4)
        m = snowrt.read_msg(rt, p)
        ok(m is not None, "reply %d (last error %d)" % (i, rt.snow_service_last_error()))
        eq(get_u64(m.data, 0), 10 * i + 1, "reply tag")
        eq(m.data[8:], b"abc%d" % i, "reply payload")
        eq(rt.snow_service_last_error(), 0, "last error after success")
    p = rt.snow_service_call(pid, 0, None, 0)  # tag 0: the server replies, then returns
    ok(bool(p), "final reply")
    expect_down(ref, pid)


# A failed snow_service_call exits the calling process (here: the main
# process, i.e. the interpreter's main thread); FFI callers use try_call.
@test
def service_try_call_to_dead_server_fails_with_enoproc():
    pid, ref = spawn_monitored("ffi_waiter")
    snowrt.send(rt, pid, b"go")
    expect_down(ref, pid)
    eq(bool(rt.snow_service_try_call(pid, 1, b"x", 1, -1)), False, "call to a dead server")
    eq(rt.snow_service_last_error(), snowrt.SNOW_ENOPROC, "last error")


@test
def service_try_call_fails_when_the_server_dies():
    pid, ref = spawn_monitored("ffi_waiter")  # takes the request as "go" and exits without replying
    t0 = time.monotonic()
    eq(bool(rt.snow_service_try_call(pid, 1, b"x", 1, -1)), False, "call to a server that dies")
    ok(time.monotonic() - t0 < DEADLINE_MS / 1000, "promptly")
    err = rt.snow_service_last_error()
    eq(err, snowrt.SNOW_SERVICE_EXITED + snowrt.SNOW_REASON_NORMAL, "last error = exited + normal")
    expect_down(ref, pid)


@test
def service_try_call_timeout():
    pid, ref = spawn_monitored("ffi_sink")  # alive, never replies
    t0 = time.monotonic()
    eq(bool(rt.snow_service_try_call(pid, 5, b"x", 1, 100)), False, "timed out")
    dt = (time.monotonic() - t0) * 1000
    ok(90 <= dt < 2000, "timeout after %.1f ms" % dt)
    eq(rt.snow_service_last_error(), snowrt.SNOW_ETIMEDOUT, "last error")
    rt.snow_actor_exit(pid, snowrt.SNOW_REASON_KILLED)
    expect_down(ref, pid)
    eq(snowrt.receive(rt, 50), None, "no late reply or stray message")


@test
def job_async_and_await_give_a_snow_result():
    env = rt.snow_gc_alloc_actor(8, 8)
    ok(bool(env), "heap")
    ctypes.c_int64.from_address(env).value = 14
    j = rt.snow_job_async(helper("ffi_job_triple"), env)
    ok(j != 0, "job_async")
    r = rt.snow_job_await(j)
    ok(bool(r), "await")
    eq(ctypes.c_uint8.from_address(r).value, 0, "Ok")
    eq(ctypes.c_int64.from_address(r + 8).value, 42, "result")
    r = rt.snow_job_await(j)  # awaited already: Err("noproc")
    eq(ctypes.c_uint8.from_address(r).value, 1, "Err")
    text = ctypes.c_uint64.from_address(r + 8).value
    eq(ctypes.string_at(text + 8, ctypes.c_uint64.from_address(text).value), b"noproc", "Err text")
    eq(snowrt.receive(rt, 0), None, "the job left no message")


def child_spec(me, restart=snowrt.SNOW_RESTART_PERMANENT, shutdown_ms=snowrt.SNOW_SHUTDOWN_BRUTAL_KILL):
    args = ctypes.create_string_buffer(u64(me), 8)
    c = snowrt.snow_child_spec()
    c.start = snowrt.proc_fn(helpers.ffi_child)
    c.args = ctypes.cast(args, ctypes.c_void_p)
    c.args_size = 8
    c.restart = restart
    c.shutdown_ms = shutdown_ms
    return c, args  # keep args alive until the call returns (it is copied)


def child_started(what):
    m = recv(what=what)
    eq(m.tag, 0xC1, "child hello")
    return get_u64(m.data, 8)


@test
def supervisor_restarts_a_killed_permanent_child():
    me = rt.snow_actor_self()
    c, keep = child_spec(me)
    spec = snowrt.snow_sup_spec()
    spec.strategy = snowrt.SNOW_SUP_ONE_FOR_ONE
    spec.max_restarts = 3
    spec.period_ms = 5000
    spec.children = ctypes.pointer(c)
    spec.child_count = 1
    sup = rt.snow_supervisor_start(ctypes.byref(spec))
    ok(sup != 0, "supervisor started")
    sref = rt.snow_process_monitor(sup)
    c1 = child_started("first child")
    eq(rt.snow_supervisor_count_children(sup), 1, "one child")
    rt.snow_actor_exit(c1, snowrt.SNOW_REASON_KILLED)
    c2 = child_started("restarted child")
    ok(c2 not in (0, c1), "a new child")
    # a dynamic child, then terminate it
    d, keep2 = child_spec(me, restart=snowrt.SNOW_RESTART_TEMPORARY)
    dpid = rt.snow_supervisor_start_child(sup, ctypes.byref(d))
    ok(dpid != 0, "start_child")
    eq(child_started("dynamic child"), dpid, "the dynamic child")
    eq(rt.snow_supervisor_count_children(sup), 2, "two children")
    dref = rt.snow_process_monitor(dpid)
    eq(rt.snow_supervisor_terminate_child(sup, dpid), 0, "terminate_child")
    eq(expect_down(dref, dpid).tag, snowrt.SNOW_REASON_KILLED, "brutal kill")
    eq(rt.snow_supervisor_count_children(sup), 1, "one child left")
    # intensity: more than 3 restarts within the period -> the supervisor gives up
    pid = c2
    for i in range(4):
        rt.snow_actor_exit(pid, snowrt.SNOW_REASON_KILLED)
        m = recv(what="restart %d or supervisor DOWN" % i)
        if m.kind == snowrt.SNOW_MSG_DOWN:
            break
        eq(m.tag, 0xC1, "child hello")
        pid = get_u64(m.data, 8)
    else:
        m = recv(what="supervisor DOWN")
    r, p, reason = snowrt.parse_down(m)
    eq((r, p), (sref, sup), "DOWN of the supervisor")
    eq(reason.tag, snowrt.SNOW_REASON_SHUTDOWN, "supervisor exits with shutdown")
    drain()
    del keep, keep2


# ---------------------------------------------------------------------------
# Heap, stats, distribution when not started, layouts
# ---------------------------------------------------------------------------


@test
def gc_alloc_actor_zeroed_and_aligned():
    p = rt.snow_gc_alloc_actor(100, 64)
    ok(p, "allocation")
    eq(p % 64, 0, "alignment")
    eq(ctypes.string_at(p, 100), b"\0" * 100, "zeroed")
    p16 = rt.snow_gc_alloc_actor(8, 0)
    ok(p16 and p16 % 16 == 0, "align 0 means 16")
    eq(rt.snow_gc_alloc_actor(0, 8), None, "size 0")
    eq(rt.snow_gc_alloc_actor(8, 3), None, "bad alignment")


@test
def stats_count_processes_and_messages():
    before = snowrt.stats(rt)
    pid, ref = spawn_monitored("ffi_waiter")
    snowrt.send(rt, pid, b"go")
    expect_down(ref, pid)
    after = snowrt.stats(rt)
    ok(after["processes_spawned"] >= before["processes_spawned"] + 1, "spawned: %r -> %r" % (before, after))
    ok(after["processes_exited"] >= before["processes_exited"] + 1, "exited")
    ok(after["messages_sent"] >= before["messages_sent"] + 1, "messages")
    ok(after["processes_alive"] >= 1, "main alive")
    ok(after["schedulers"] >= 1, "schedulers")
    eq(after["nodes_connected"], 0, "no nodes")


@test
def distribution_queries_when_not_started():
    eq(rt.snow_node_name(None, 0), 0, "node_name")
    buf = ctypes.create_string_buffer(16)
    eq(rt.snow_node_name(buf, 16), 0, "node_name into a buffer")
    eq(rt.snow_node_name(None, 4), snowrt.SNOW_EINVAL, "NULL buf with cap")
    eq(snowrt.snow_string(rt.snow_node_self()), b"", "node_self")
    eq(snowrt.snow_string_list(rt.snow_node_list()), [], "node_list")
    n = b"other@localhost"
    eq(rt.snow_actor_send_named(b"x", 1, n, len(n), b"m", 1), snowrt.SNOW_ENONODE, "send_named remote")
    ok(rt.snow_node_connect(n, len(n)) < 0, "connect fails")
    eq(rt.snow_node_spawn(n, len(n), b"f", 1, None, 0, 0), 0, "node_spawn fails")


@test
def term_pid_encoding_round_trips():
    me = rt.snow_actor_self()
    buf = (ctypes.c_uint8 * 128)()
    n = rt.snow_term_encode_pid(me, buf, 128)
    if n < 0:
        ok(n in (snowrt.SNOW_ENOTSTARTED, snowrt.SNOW_EINVAL), "encode error %d" % n)
        return
    eq(buf[0], 131, "version byte")
    eq(rt.snow_term_decode_pid(buf, n), me, "decode")
    eq(rt.snow_term_encode_pid(me, buf, 2) < 0, True, "too small a buffer")
    eq(rt.snow_term_decode_pid(b"\x83\x61\x01", 3), 0, "an integer is not a pid")


@test
def processes_and_process_info_see_a_waiting_process():
    pid, ref = spawn_monitored("ffi_waiter")
    ok(pid in snowrt.processes(rt), "the new process is listed")
    ok(rt.snow_actor_self() in snowrt.processes(rt), "main is listed")
    deadline = time.monotonic() + DEADLINE_MS / 1000
    info = snowrt.process_info(rt, pid)
    while info["status"] != "waiting" and time.monotonic() < deadline:
        time.sleep(0.005)
        info = snowrt.process_info(rt, pid)
    eq(info["status"], "waiting", "status")
    eq(info["pid"], pid, "pid")
    eq(info["name"], None, "no registered name")
    eq(info["monitored_by"], 1, "main monitors it")
    snowrt.send(rt, pid, b"go")
    expect_down(ref, pid)
    eq(snowrt.process_info(rt, pid), None, "a dead process has no info")


@test
def log_handler_receives_a_crash_report():
    lines = []
    handler = snowrt.SNOW_LOG_HANDLER(lambda level, line, n, ctx: lines.append((level, ctypes.string_at(line, n))))
    rt.snow_rt_set_log_handler(ctypes.cast(handler, ctypes.c_void_p), None)
    try:
        pid, ref = spawn_monitored("ffi_crasher")
        expect_down(ref, pid)
    finally:
        rt.snow_rt_set_log_handler(None, None)
    ok(any(level == snowrt.SNOW_LOG_ERROR and b"CRASH REPORT" in text for level, text in lines),
       "crash report routed to the handler: %r" % lines)


@test
def struct_layouts_match_the_c_compiler():
    helpers.ffi_offsetof.restype = ctypes.c_int64
    helpers.ffi_offsetof.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    helpers.ffi_sizeof.restype = ctypes.c_int64
    helpers.ffi_sizeof.argtypes = [ctypes.c_char_p]
    for cls in (snowrt.snow_msg, snowrt.snow_spawn_opts, snowrt.snow_stats, snowrt.snow_child_spec,
                snowrt.snow_sup_spec, snowrt.snow_proc_info):
        name = cls.__name__.encode()
        eq(ctypes.sizeof(cls), helpers.ffi_sizeof(name), "sizeof %s" % cls.__name__)
        for fname, _ in cls._fields_:
            eq(getattr(cls, fname).offset, helpers.ffi_offsetof(name, fname.encode()),
               "offsetof(%s, %s)" % (cls.__name__, fname))


@test
def yield_and_reduction_check_return_on_main():
    rt.snow_actor_yield()
    rt.snow_reduction_check()
    ok(rt.snow_actor_self() != 0, "still the main process")


@test
def many_processes_round_trip():
    me = rt.snow_actor_self()
    pids = []
    for i in range(200):
        pid = rt.snow_actor_spawn(helper("ffi_echo"), None, 0, i % 3)
        ok(pid != 0, "spawn %d" % i)
        pids.append(pid)
    for i, pid in enumerate(pids):
        snowrt.send(rt, pid, u64(me, i))
    got = sorted(recv().tag for _ in pids)
    eq(got, list(range(200)), "all replies")


# ---------------------------------------------------------------------------
# Stop and restart
# ---------------------------------------------------------------------------


@test
def run_scheduler_shuts_down_waiting_processes_and_returns_0():
    for _ in range(3):
        ok(rt.snow_actor_spawn(helper("ffi_waiter"), None, 0, 1) != 0, "spawn a waiter")
    drain()
    eq(rt.snow_rt_run_scheduler(), 0, "run_scheduler")
    eq(rt.snow_actor_self(), 0, "main is no longer a process")
    eq(rt.snow_rt_run_scheduler(), snowrt.SNOW_ENOTSTARTED, "run_scheduler when stopped")


@test
def runtime_restarts_after_run_scheduler():
    eq(rt.snow_rt_init_actor(2), 0, "init_actor again")
    me = rt.snow_actor_self()
    ok(me != 0, "main process again")
    pid, ref = spawn_monitored("ffi_echo")
    snowrt.send(rt, pid, u64(me) + b"again")
    eq(recv().data, b"again", "echo after restart")
    expect_down(ref, pid)
    eq(snowrt.stats(rt)["schedulers"], 2, "two schedulers")
    eq(rt.snow_rt_run_scheduler(), 0, "second run_scheduler")


def main():
    global rt, helpers
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, help="libsnowrt.so")
    ap.add_argument("--helpers", required=True, help="the ffi helper library")
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    args = ap.parse_args()
    faulthandler.enable()
    faulthandler.dump_traceback_later(240, exit=True)  # a hang prints where, then exits
    rt = snowrt.load(args.lib)
    helpers = ctypes.CDLL(args.helpers)
    passed = failed = 0
    for t in TESTS:
        if args.k and args.k not in t.__name__:
            continue
        t0 = time.monotonic()
        try:
            t()
            passed += 1
            print("PASS %s (%.0f ms)" % (t.__name__, (time.monotonic() - t0) * 1000), flush=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc(file=sys.stdout)
            if rt.snow_actor_self():
                left = drain()
                if left:
                    print("  (drained %d leftover message(s))" % left)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
