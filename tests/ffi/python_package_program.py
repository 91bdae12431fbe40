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
