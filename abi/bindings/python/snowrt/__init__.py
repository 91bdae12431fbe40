"""snowrt: Python binding of libsnowrt (Erlang-style processes, mailboxes,
links, monitors and distribution), contract version 2.

    import snowrt

    with snowrt.runtime() as me:                  # this thread is the main process
        worker = snowrt.spawn_thread(print, "hi")  # Python code as a process
        ref = snowrt.monitor(worker)
        down = snowrt.receive(timeout=5)          # Message(kind=MsgKind.DOWN, ...)

The library is found as snowrt._ffi.locate() says: $SNOWRT_LIBRARY, next to
this package, pkg-config's libdir for snowrt, then the system loader.

Python code never runs as a lightweight process: process stacks are small
and switch OS threads under the interpreter. spawn() takes C entry points
only and raises TypeError for a Python callable; spawn_thread() runs Python
code as a process on its own OS thread (costs: docs/python.md). The raw
ctypes layer, covering the whole C header, is snowrt._ffi.

Python code ends its process with a chosen reason by raising
snowrt.Exit(reason). A Pid crosses to another node as a term:
encode_pid() there, decode_pid() here (see docs/python.md, "Two nodes").

By default init() leaves the host's SIGINT/SIGTERM handlers alone, so Ctrl-C
raises KeyboardInterrupt as usual (init(signals=True) gives the runtime's
handlers, which halt the runtime).
"""

import contextlib
import ctypes
import dataclasses
import enum
import threading
import traceback

from . import _ffi
from ._ffi import SnowError, is_python_callable, load, locate  # noqa: F401 (re-exported)

__all__ = [
    "Pid", "MsgKind", "ReasonKind", "ExitReason", "Exit", "Message", "SnowError",
    "load", "locate", "library", "init", "run", "halt", "runtime", "self_pid",
    "send", "send_named", "send_term", "receive", "spawn", "spawn_thread", "attached",
    "link", "unlink", "monitor", "demonitor", "trap_exit", "send_exit", "register", "whereis",
    "node_start", "node_stop", "node_connect", "node_self", "nodes",
    "monitor_node", "demonitor_node", "encode_pid", "decode_pid",
]


class Pid(int):
    """A process identifier: an int (hashable, equal to the same number) that
    prints as Pid(N). 0 is never a process."""

    __slots__ = ()

    def __repr__(self):
        return "Pid(%d)" % int(self)

    __str__ = __repr__


class MsgKind(enum.IntEnum):
    """What a received message is (snow_msg_kind)."""

    USER = _ffi.SNOW_MSG_USER
    EXIT = _ffi.SNOW_MSG_EXIT
    DOWN = _ffi.SNOW_MSG_DOWN
    NODEUP = _ffi.SNOW_MSG_NODEUP
    NODEDOWN = _ffi.SNOW_MSG_NODEDOWN
    SPAWN_REPLY = _ffi.SNOW_MSG_SPAWN_REPLY
    TERM = _ffi.SNOW_MSG_TERM


class ReasonKind(enum.IntEnum):
    """The tag of an exit reason."""

    NORMAL = _ffi.SNOW_REASON_NORMAL
    ERROR = _ffi.SNOW_REASON_ERROR
    KILLED = _ffi.SNOW_REASON_KILLED
    SHUTDOWN = _ffi.SNOW_REASON_SHUTDOWN
    CUSTOM = _ffi.SNOW_REASON_CUSTOM
    NOCONNECTION = _ffi.SNOW_REASON_NOCONNECTION
    NOPROC = _ffi.SNOW_REASON_NOPROC
    TERM = _ffi.SNOW_REASON_TERM


@dataclasses.dataclass(frozen=True)
class ExitReason:
    """Why a process exited: kind, and for ERROR/CUSTOM its UTF-8 text, for
    TERM its external term format bytes (detail; None for the others)."""

    kind: ReasonKind
    detail: bytes = None

    @property
    def text(self):
        """detail decoded as UTF-8 (ERROR and CUSTOM), else None."""
        if self.kind in (ReasonKind.ERROR, ReasonKind.CUSTOM) and self.detail is not None:
            return self.detail.decode("utf-8", "replace")
        return None

    @classmethod
    def decode(cls, data):
        raw = _ffi.decode_reason(data)
        return cls(ReasonKind(raw.tag), raw.text)

    def encode(self):
        return _ffi.encode_reason(int(self.kind), self.detail or b"")

    @classmethod
    def error(cls, text):
        return cls(ReasonKind.ERROR, _utf8(text))

    @classmethod
    def custom(cls, text):
        """A custom reason (Erlang: a term the application chose), as text."""
        return cls(ReasonKind.CUSTOM, _utf8(text))

    def __str__(self):
        """As a log line shows it: noconnection, error "text", term <hex>."""
        name = self.kind.name.lower()
        if self.text is not None:
            return '%s "%s"' % (name, self.text)
        if self.detail is not None:
            return "%s %s" % (name, self.detail.hex())
        return name


class Exit(Exception):
    """Raised in a process's Python code (spawn_thread's function, an
    attached() block) to end that process with `reason`: an ExitReason, a
    ReasonKind, or a str (a custom reason). Like Erlang's exit(Reason): its
    monitors see DOWN and its links EXIT with that reason."""

    def __init__(self, reason):
        if isinstance(reason, str):
            reason = ExitReason.custom(reason)
        elif not isinstance(reason, ExitReason):
            reason = ExitReason(ReasonKind(reason))
        self.reason = reason
        super().__init__(str(reason))


def _utf8(text):
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


@dataclasses.dataclass(frozen=True)
class Message:
    """A received message, copied out of the runtime. kind, tag and data
    (the raw payload bytes) are always set; the decoded fields are set for
    their kinds: EXIT: from_pid, reason; DOWN: ref, pid, reason;
    NODEUP/NODEDOWN: node (str). A TERM message's data is the term in the
    external term format (decode_pid() reads a pid from it)."""

    kind: MsgKind
    tag: int
    data: bytes
    from_pid: Pid = None
    ref: int = None
    pid: Pid = None
    reason: ExitReason = None
    node: str = None

    @classmethod
    def from_raw(cls, raw):
        kind = MsgKind(raw.kind) if raw.kind in MsgKind._value2member_map_ else raw.kind
        fields = {}
        if kind == MsgKind.EXIT:
            fields = dict(from_pid=Pid(_ffi.get_u64(raw.data, 0)), reason=ExitReason.decode(raw.data[8:]))
        elif kind == MsgKind.DOWN:
            fields = dict(ref=_ffi.get_u64(raw.data, 0), pid=Pid(_ffi.get_u64(raw.data, 8)),
                          reason=ExitReason.decode(raw.data[16:]))
        elif kind in (MsgKind.NODEUP, MsgKind.NODEDOWN):
            fields = dict(node=raw.data.decode("utf-8", "replace"))
        return cls(kind, raw.tag, raw.data, **fields)


def library():
    """The loaded CDLL (loading the default one, see locate(), if needed)."""
    return _ffi.library()


def _check(rc, what):
    if rc < 0:
        raise SnowError(rc, what)
    return rc


def _name(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


# ---------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------


def init(schedulers=0, *, signals=False):
    """Starts the runtime with `schedulers` workers (0: $SNOW_SCHEDULERS or
    one per CPU) and makes the calling thread the main process; returns its
    Pid. signals=False (the default) keeps the host's SIGINT/SIGTERM
    handlers (Ctrl-C raises KeyboardInterrupt); True lets the runtime take
    them (they halt it with status 130 / 143). Raises SnowError
    (SNOW_EALREADY if already started)."""
    lib = library()
    _check(lib.snow_rt_set_signal_handling(bool(signals)), "snow_rt_set_signal_handling")
    lib.snow_rt_init()
    _check(lib.snow_rt_init_actor(schedulers), "snow_rt_init_actor")
    return Pid(lib.snow_actor_self())


def run():
    """The main process exits normally; waits for every other process (or a
    halt) and stops the runtime. Returns the exit status. Call from the
    thread that called init()."""
    return _check(library().snow_rt_run_scheduler(), "snow_rt_run_scheduler")


def halt(status=0):
    """Any thread: every process exits with `shutdown`; run() returns status."""
    library().snow_rt_halt(status)


@contextlib.contextmanager
def runtime(schedulers=0, *, signals=False):
    """init() on entry (yields the main Pid), run() on exit; an exception
    (KeyboardInterrupt included) halts the runtime with status 1 first."""
    me = init(schedulers, signals=signals)
    try:
        yield me
    except BaseException:
        halt(1)
        run()
        raise
    run()


def self_pid():
    """The calling thread's Pid, or None if it is not a process."""
    pid = library().snow_actor_self()
    return Pid(pid) if pid else None


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


def send(pid, data):
    """Sends bytes (the tag is their first 8 bytes, little-endian) to pid,
    local or remote. Sending to a dead process succeeds."""
    data = bytes(data)
    _check(library().snow_actor_send(pid, data, len(data)), "send")


def send_named(name, node, data):
    """Sends bytes to the process registered as `name` on `node` ("" or None:
    this node). An unknown name drops the message."""
    data = bytes(data)
    _check(library().snow_actor_send_named(*_str_arg(name), *_str_arg(node or ""), data, len(data)), "send_named")


def send_term(pid, etf):
    """Sends a term in the external term format (bytes, the 131 version byte
    optional): a libsnowrt receiver gets a TERM message, an Erlang process
    the term. encode_pid() makes the term of a pid."""
    etf = bytes(etf)
    _check(library().snow_actor_send_term(pid, etf, len(etf)), "send_term")


def receive(timeout=None):
    """The next message of the calling process as a Message, or None when
    `timeout` seconds pass (None: wait forever, 0: only what is there).
    Raises SnowError(SNOW_ENOTPROC) when the calling thread is not a process
    (or stopped being one: its process was ended while it waited)."""
    lib = library()
    ms = -1 if timeout is None else max(0, int(timeout * 1000))
    raw = _ffi.receive(lib, ms)
    if raw is None:
        if not lib.snow_actor_self():
            raise SnowError(_ffi.SNOW_ENOTPROC, "receive")
        return None
    return Message.from_raw(raw)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


def spawn(entry, args=b"", *, link=False, monitor=False):
    """Spawns a lightweight process running the C function `entry` (a
    function of a loaded C library, a CFUNCTYPE made from an address, or an
    address) with a copy of `args`. Returns its Pid, or (Pid, monitor ref)
    with monitor=True. A Python callable raises TypeError: use
    spawn_thread() to run Python code as a process."""
    if is_python_callable(entry):
        raise TypeError(_ffi.ENTRY_REFUSED)
    args = bytes(args)
    opts = _ffi.snow_spawn_opts()
    opts.link = 1 if link else 0
    opts.monitor = 1 if monitor else 0
    pid = library().snow_actor_spawn_opts(entry, args or None, len(args), ctypes.byref(opts))
    if not pid:
        raise SnowError(_ffi.SNOW_EINVAL, "spawn (runtime not started, or a bad entry or args)")
    return (Pid(pid), opts.monitor_ref) if monitor else Pid(pid)


class attached:
    """Context manager: the calling (non-main) thread is a process inside the
    block. `with snowrt.attached() as me:` gives its Pid; leaving the block
    exits the process with `normal` (if it still lives), or with the reason
    of an Exit raised in the block (which the block then swallows)."""

    def __enter__(self):
        pid = library().snow_thread_attach()
        if not pid:
            raise SnowError(_ffi.SNOW_ENOTSTARTED, "snow_thread_attach")
        return Pid(pid)

    def __exit__(self, exc_type, exc, tb):
        _end_attached(exc.reason if isinstance(exc, Exit) else _NORMAL)
        return isinstance(exc, Exit)


_NORMAL = ExitReason(ReasonKind.NORMAL)


def _end_attached(reason):
    """Ends the calling attached thread's process with `reason`: normal
    detaches the thread, any other reason is an exit signal to itself."""
    if reason.kind != ReasonKind.NORMAL:
        _exit_attached_with(reason)
        return
    rc = library().snow_thread_detach()
    if rc < 0 and rc != _ffi.SNOW_ENOTPROC:  # ENOTPROC: already ended by a signal
        raise SnowError(rc, "snow_thread_detach")


def _exit_attached_with(reason):
    """Ends the calling attached thread's process with `reason` (an
    ExitReason other than normal) and leaves the thread running: an exit
    signal to itself, which it applies at its next runtime call."""
    lib = library()
    me = lib.snow_actor_self()
    if not me:
        return
    lib.snow_actor_set_trap_exit(False)  # so the signal ends it rather than becoming a message
    data = reason.encode()
    lib.snow_actor_exit_reason(me, data, len(data))
    lib.snow_actor_yield()  # applies pending signals: the exit runs here
    lib.snow_thread_detach()  # in case it did not (no-op, SNOW_ENOTPROC, once it has)


def spawn_thread(fn, *args, link=False, monitor=False, **kwargs):
    """Runs fn(*args, **kwargs) as a process on a new Python thread (attached
    to the runtime) and returns its Pid once it exists. The process exits
    with `normal` when fn returns, with the reason of an Exit that fn
    raises, or with error "<exception text>" when fn raises anything else.
    Inside fn the thread is a process: receive(), send(), link()...
    link=True links the caller to it and monitor=True monitors it before fn
    starts (as spawn_link / spawn_monitor: a process that fails at once is
    still seen); with monitor=True the result is (pid, ref).
    Costs: one OS thread per process, and its Python code shares the GIL
    with every other Python thread (see docs/python.md)."""
    if not callable(fn):
        raise TypeError("spawn_thread needs a callable, got %r" % (fn,))
    started = threading.Event()
    go = threading.Event()
    result = {}

    def body():
        lib = library()
        pid = lib.snow_thread_attach()
        result["pid"] = pid
        started.set()
        if not pid:
            return
        go.wait()  # the caller's link and monitor are in place
        try:
            fn(*args, **kwargs)
        except Exit as e:
            _end_attached(e.reason)
        except BaseException as e:  # noqa: BLE001 - any failure is the process's exit reason
            text = "".join(traceback.format_exception_only(type(e), e)).strip()
            _exit_attached_with(ExitReason.error(text))
        else:
            lib.snow_thread_detach()

    t = threading.Thread(target=body, name="snowrt-process")
    t.start()
    started.wait()
    if not result["pid"]:
        raise SnowError(_ffi.SNOW_ENOTSTARTED, "spawn_thread")
    pid = Pid(result["pid"])
    try:
        if link:
            globals()["link"](pid)
        ref = globals()["monitor"](pid) if monitor else None
    finally:
        go.set()
    return (pid, ref) if monitor else pid


def link(pid):
    _check(library().snow_actor_link(pid), "link")


def unlink(pid):
    _check(library().snow_actor_unlink(pid), "unlink")


def monitor(pid):
    """Monitors pid (local or remote); returns the monitor ref. Its end
    arrives as a Message of kind DOWN with this ref."""
    ref = library().snow_process_monitor(pid)
    if not ref:
        raise SnowError(_ffi.SNOW_ENOTPROC, "monitor")
    return ref


def demonitor(ref, flush=True):
    """Removes a monitor; flush=True also drops its DOWN if already queued."""
    lib = library()
    fn = lib.snow_process_demonitor_flush if flush else lib.snow_process_demonitor
    return _check(fn(ref), "demonitor")


def trap_exit(on=True):
    """Turns exit trapping on or off (EXIT messages instead of exiting);
    returns the previous setting."""
    return bool(library().snow_actor_set_trap_exit(bool(on)))


def send_exit(pid, reason=ReasonKind.KILLED):
    """Sends an exit signal (Erlang exit/2): a ReasonKind or an ExitReason."""
    lib = library()
    if isinstance(reason, ExitReason):
        data = reason.encode()
        _check(lib.snow_actor_exit_reason(pid, data, len(data)), "send_exit")
    else:
        _check(lib.snow_actor_exit(pid, int(reason)), "send_exit")


def register(name):
    _check(library().snow_actor_register(*_str_arg(name)), "register")


def whereis(name):
    pid = library().snow_actor_whereis(*_str_arg(name))
    return Pid(pid) if pid else None


def _str_arg(s):
    b = _name(s)
    return b, len(b)


# ---------------------------------------------------------------------------
# Distribution
# ---------------------------------------------------------------------------


def node_start(name, cookie):
    """Starts this node as `name` ("name@host") with `cookie`."""
    _check(library().snow_node_start(*_str_arg(name), *_str_arg(cookie)), "node_start")


def node_stop():
    _check(library().snow_node_stop(), "node_stop")


def node_connect(name):
    _check(library().snow_node_connect(*_str_arg(name)), "node_connect")


def node_self():
    """This node's name, or "" when no node is started."""
    return _ffi.snow_string(library().snow_node_self()).decode("utf-8", "replace")


def nodes():
    """Names of the connected nodes."""
    return [n.decode("utf-8", "replace") for n in _ffi.snow_string_list(library().snow_node_list())]


def monitor_node(name):
    """Node monitor: a NODEDOWN Message (node=name) when the connection to
    `name` is lost, NODEUP when it is made again, until demonitor_node(id).
    Returns the monitor id. A node that cannot be reached gives NODEDOWN at
    once."""
    return _check(library().snow_node_monitor(*_str_arg(name)), "monitor_node")


def demonitor_node(monitor_id):
    """Cancels a node monitor; True if it was active."""
    return _check(library().snow_node_demonitor(monitor_id), "demonitor_node") == 0


# ---------------------------------------------------------------------------
# Pids across nodes
#
# A Pid is a number that means something only on the node (and in the run)
# that made it: sent as bytes to another node it names no process there.
# A pid crosses nodes as a term: encode_pid() on one side, decode_pid() on
# the other gives a Pid that sends, links and monitors reach the process.
# ---------------------------------------------------------------------------

_PID_TERM_MAX = 512  # a pid term: a few bytes plus its node's name (<= 255 bytes)


def encode_pid(pid):
    """The pid as a term in the external term format (bytes, 131 first),
    carrying its node's name. Raises SnowError (SNOW_EINVAL for pid 0 or an
    unknown remote pid)."""
    buf = ctypes.create_string_buffer(_PID_TERM_MAX)
    n = _check(library().snow_term_encode_pid(pid, buf, _PID_TERM_MAX), "encode_pid")
    return buf.raw[:n]


def decode_pid(etf):
    """The Pid held by `etf` (a pid term, or a tuple whose first element is a
    pid, with or without the 131 byte), usable on this node; None when it
    holds no pid."""
    etf = bytes(etf)
    pid = library().snow_term_decode_pid(etf, len(etf))
    return Pid(pid) if pid else None
