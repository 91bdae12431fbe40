"""python_package_program.py: a user program of the pip-installed snowrt
package (run by test_python_package.py from a virtual environment, outside
the source tree).

    python python_package_program.py EXPECTED_HOW EXPECTED_PATH

EXPECTED_HOW is how snowrt must have found libsnowrt (SNOWRT_LIBRARY or
pkg-config) and EXPECTED_PATH the file. Prints one line per case, then
`N passed, N failed`; exits 1 if any failed.
"""

import ctypes
import os
import signal
import sys
import threading
import time
import traceback

import snowrt
from snowrt import _ffi

DEADLINE_S = 5.0
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def eq(a, b, what):
    if a != b:
        raise AssertionError("%s: expected %r, got %r" % (what, b, a))


def ok(cond, what):
    if not cond:
        raise AssertionError(what)


def recv(what):
    m = snowrt.receive(timeout=DEADLINE_S)
    ok(m is not None, "no %s within %.0f s" % (what, DEADLINE_S))
    return m


@case
def the_installed_package_is_imported():
    ok("site-packages" in snowrt.__file__, "snowrt imported from %s" % snowrt.__file__)


@case
def the_library_is_found_the_expected_way():
    lib = snowrt.library()
    eq(lib.snowrt_found_by, sys.argv[1], "found by")
    eq(os.path.realpath(lib._name), os.path.realpath(sys.argv[2]), "library file")


@case
def message_kinds_are_an_int_enum_of_the_header_values():
    eq([(k.name, int(k)) for k in snowrt.MsgKind],
       [("USER", 0), ("EXIT", 1), ("DOWN", 2), ("NODEUP", 3), ("NODEDOWN", 4), ("SPAWN_REPLY", 5), ("TERM", 6)],
       "kinds")
    eq(snowrt.MsgKind.DOWN, _ffi.SNOW_MSG_DOWN, "DOWN == SNOW_MSG_DOWN")


@case
def pid_is_an_int_with_a_repr_equality_and_hash():
    p = snowrt.Pid(42)
    eq(repr(p), "Pid(42)", "repr")
    eq(p, snowrt.Pid(42), "equality")
    eq(len({p, snowrt.Pid(42), snowrt.Pid(43)}), 2, "hash")
    eq(int(p), 42, "int value")


@case
def init_makes_the_main_thread_a_process_and_keeps_the_hosts_sigint_handler():
    me = snowrt.init(2)
    ok(isinstance(me, snowrt.Pid) and me != 0, "main pid %r" % (me,))
    eq(snowrt.self_pid(), me, "self_pid")
    eq(signal.getsignal(signal.SIGINT), signal.default_int_handler, "SIGINT handler while running")


@case
def spawn_refuses_a_python_callable_and_points_at_spawn_thread():
    for entry in (lambda args: None, print, _ffi.SNOW_PROC_FN(lambda args: None)):
        try:
            snowrt.spawn(entry)
        except TypeError as e:
            ok("spawn_thread" in str(e), "message does not point at spawn_thread: %s" % e)
        else:
            raise AssertionError("spawn(%r) did not raise TypeError" % (entry,))
    try:
        snowrt.library().snow_actor_spawn(_ffi.SNOW_PROC_FN(lambda args: None), None, 0, 1)
    except ctypes.ArgumentError as e:  # ctypes wraps the argument type's TypeError
        ok("spawn_thread" in str(e), "raw spawn message: %s" % e)
    else:
        raise AssertionError("the raw snow_actor_spawn accepted a Python callback")


@case
def send_and_receive_a_user_message():
    me = snowrt.self_pid()
    snowrt.send(me, b"hello, self")
    m = recv("the message to self")
    eq((m.kind, m.data), (snowrt.MsgKind.USER, b"hello, self"), "message")
    eq(snowrt.receive(timeout=0), None, "empty mailbox")


def wait_for_go_then_reply(main, reply):
    m = snowrt.receive(timeout=DEADLINE_S)
    if m is not None and m.data == b"go":
        snowrt.send(main, reply)


@case
def spawn_thread_runs_python_as_a_process_and_its_monitor_gets_down_normal():
    me = snowrt.self_pid()
    child = snowrt.spawn_thread(wait_for_go_then_reply, me, b"done")
    ok(isinstance(child, snowrt.Pid) and child not in (0, me), "child pid %r" % (child,))
    ref = snowrt.monitor(child)
    snowrt.send(child, b"go")
    eq(recv("the child's reply").data, b"done", "reply")
    down = recv("DOWN")
    eq((down.kind, down.ref, down.pid), (snowrt.MsgKind.DOWN, ref, child), "DOWN")
    eq(down.reason.kind, snowrt.ReasonKind.NORMAL, "reason")


def fail(text):
    raise ValueError(text)


@case
def spawn_thread_that_raises_exits_with_the_exception_text():
    child, ref = snowrt.spawn_thread(fail, "boom", monitor=True)
    down = recv("DOWN")
    eq((down.kind, down.ref, down.pid), (snowrt.MsgKind.DOWN, ref, child), "DOWN")
    eq((down.reason.kind, down.reason.text), (snowrt.ReasonKind.ERROR, "ValueError: boom"), "reason")


@case
def linked_trapping_main_gets_exit_with_decoded_fields():
    snowrt.trap_exit(True)
    try:
        child = snowrt.spawn_thread(fail, "linked")
        snowrt.link(child)
        m = recv("EXIT")
        eq((m.kind, m.from_pid), (snowrt.MsgKind.EXIT, child), "EXIT")
        # Linking after the child ended gives noproc instead.
        ok(m.reason.kind in (snowrt.ReasonKind.ERROR, snowrt.ReasonKind.NOPROC), "reason %r" % (m.reason,))
    finally:
        snowrt.trap_exit(False)


@case
def attached_context_makes_a_plain_thread_a_process_for_the_block():
    seen = {}

    def body():
        with snowrt.attached() as pid:
            seen["inside"] = (pid, snowrt.self_pid())
        seen["after"] = snowrt.self_pid()

    t = threading.Thread(target=body)
    t.start()
    t.join(DEADLINE_S)
    pid, inside = seen["inside"]
    ok(pid != 0, "attached pid")
    eq(inside, pid, "self_pid inside")
    eq(seen["after"], None, "self_pid after the block")


@case
def sigint_raises_keyboard_interrupt_while_the_runtime_runs():
    deadline = time.monotonic() + DEADLINE_S
    try:
        os.kill(os.getpid(), signal.SIGINT)
        while time.monotonic() < deadline:
            time.sleep(0.005)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("no KeyboardInterrupt within %.0f s" % DEADLINE_S)
    snowrt.send(snowrt.self_pid(), b"still running")
    eq(recv("a message after Ctrl-C").data, b"still running", "runtime after Ctrl-C")


def exit_with(reason):
    raise snowrt.Exit(reason)


@case
def exit_raised_in_spawn_thread_ends_the_process_with_its_reason():
    for reason, expected in (("told to exit", snowrt.ExitReason.custom("told to exit")),
                             (snowrt.ReasonKind.SHUTDOWN, snowrt.ExitReason(snowrt.ReasonKind.SHUTDOWN)),
                             (snowrt.ExitReason.error("bad"), snowrt.ExitReason.error("bad")),
                             (snowrt.ReasonKind.NORMAL, snowrt.ExitReason(snowrt.ReasonKind.NORMAL))):
        child, ref = snowrt.spawn_thread(exit_with, reason, monitor=True)
        down = recv("DOWN")
        eq((down.kind, down.ref, down.pid, down.reason), (snowrt.MsgKind.DOWN, ref, child, expected), "DOWN")


@case
def exit_raised_in_an_attached_block_ends_its_process_and_is_not_raised_further():
    seen = {}
    started = threading.Event()

    def body():
        try:
            with snowrt.attached() as pid:
                seen["pid"] = pid
                started.set()
                snowrt.receive(timeout=DEADLINE_S)  # the monitor is in place
                raise snowrt.Exit("leaving")
            seen["after"] = snowrt.self_pid()
        except BaseException as e:  # noqa: BLE001
            seen["raised"] = e

    t = threading.Thread(target=body)
    t.start()
    ok(started.wait(DEADLINE_S), "the thread attached")
    ref = snowrt.monitor(seen["pid"])
    snowrt.send(seen["pid"], b"go")
    down = recv("DOWN")
    t.join(DEADLINE_S)
    eq((down.ref, down.pid, down.reason), (ref, seen["pid"], snowrt.ExitReason.custom("leaving")), "DOWN")
    eq(seen.get("raised"), None, "exception out of the block")
    eq(seen.get("after", "unset"), None, "self_pid after the block")


@case
def exit_reasons_print_as_a_log_line_shows_them():
    eq([str(r) for r in (snowrt.ExitReason(snowrt.ReasonKind.NOCONNECTION), snowrt.ExitReason.custom("told to exit"),
                         snowrt.ExitReason.error("x"), snowrt.ExitReason(snowrt.ReasonKind.TERM, b"\x83\x61\x01"))],
       ["noconnection", 'custom "told to exit"', 'error "x"', "term 836101"], "str")


@case
def a_pid_round_trips_through_its_term_and_other_terms_hold_none():
    me = snowrt.self_pid()
    term = snowrt.encode_pid(me)
    eq(term[0], 131, "version byte")
    ok(b"nonode@nohost" in term, "the node name in %r" % (term,))
    eq(snowrt.decode_pid(term), me, "decoded")
    eq(snowrt.decode_pid(term[1:]), me, "decoded without the version byte")
    eq(snowrt.decode_pid(b"\x83\x61\x01"), None, "an integer holds no pid")
    eq(snowrt.decode_pid(b""), None, "nothing holds no pid")
    try:
        snowrt.encode_pid(0)
    except snowrt.SnowError as e:
        eq(e.code, _ffi.SNOW_EINVAL, "code")
    else:
        raise AssertionError("encode_pid(0) did not raise")


@case
def send_term_gives_a_term_message_that_decode_pid_reads():
    me = snowrt.self_pid()
    snowrt.send_term(me, snowrt.encode_pid(me))
    m = recv("the TERM message")
    eq(m.kind, snowrt.MsgKind.TERM, "kind")
    eq(snowrt.decode_pid(m.data), me, "the pid it holds")


def register_then_wait(name, main):
    snowrt.register(name)
    snowrt.send(main, b"registered")
    m = snowrt.receive(timeout=DEADLINE_S)
    snowrt.send(main, b"got " + (m.data if m else b"nothing"))


@case
def send_named_reaches_the_process_registered_on_this_node():
    me = snowrt.self_pid()
    child, ref = snowrt.spawn_thread(register_then_wait, "named_one", me, monitor=True)
    eq(recv("registered").data, b"registered", "registration")
    snowrt.send_named("named_one", "", b"by name")
    eq(recv("the reply").data, b"got by name", "reply")
    eq(recv("DOWN").ref, ref, "DOWN")
    snowrt.send_named("nobody_here", None, b"dropped")  # an unknown name drops it
    eq(snowrt.receive(timeout=0), None, "empty mailbox")


@case
def demonitor_node_of_an_unknown_id_is_false():
    eq(snowrt.demonitor_node(123456), False, "unknown id")


@case
def run_returns_0_when_every_process_has_ended():
    eq(snowrt.run(), 0, "run()")
    eq(snowrt.self_pid(), None, "self_pid after run")


def main():
    passed = failed = 0
    for c in CASES:
        try:
            c()
            passed += 1
            print("PASS %s" % c.__name__, flush=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL %s" % c.__name__, flush=True)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
