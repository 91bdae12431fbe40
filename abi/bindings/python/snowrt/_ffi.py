"""snowrt._ffi: ctypes binding of the libsnowrt C ABI, contract version 2.

The raw layer of the snowrt package (the Pythonic layer in snowrt/__init__.py
is built on it). Covers the whole public header (abi/include/snowrt.h):
every function with its argtypes/restype, the structs, the constants, and a
few helpers to read messages. Only the standard library is used, and no
relative import: codegen-shims/check_decls.py --python loads this file on
its own and checks it against the header, which is authoritative.

    from snowrt import _ffi
    rt = _ffi.load()                            # see load() for the search order
    rt.snow_rt_init()
    rt.snow_rt_init_actor(0)                    # this thread becomes the main process
    me = rt.snow_actor_self()
    _ffi.send(rt, me, b"hello")
    msg = _ffi.receive(rt, 1000)                # Message(kind, tag, data) or None
    rt.snow_rt_run_scheduler()

Calls release the GIL while they run (ctypes.CDLL), so a blocking receive
parks only the calling thread. Threads other than the one that called
snow_rt_init_actor use snow_thread_attach()/snow_thread_detach() to become
processes. Process entry functions, terminate callbacks and match functions
must be C functions (e.g. from a helper library): a Python callback would
run on a runtime worker thread, on a small process stack, possibly resuming
on another OS thread after any blocking call, which the interpreter does not
support. The spawn calls refuse a Python callable with a TypeError (run
Python code as a process with snowrt.spawn_thread instead). Importing this
module does not load the library.
"""

import collections
import ctypes
import ctypes.util
import os
import shutil
import struct
import subprocess

from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_int, c_int32, c_int64,
                    c_uint8, c_uint32, c_uint64, c_void_p)

# ---------------------------------------------------------------------------
# Constants (values from the header)
# ---------------------------------------------------------------------------

SNOW_ABI_VERSION = 2

SNOW_OK = 0
SNOW_EINVAL = -1
SNOW_ENOTPROC = -2
SNOW_ENOPROC = -3
SNOW_ENOTSTARTED = -4
SNOW_EALREADY = -5
SNOW_EEXIST = -6
SNOW_ENONODE = -7
SNOW_ECONNREFUSED = -8
SNOW_EAUTH = -9
SNOW_ETIMEDOUT = -10
SNOW_ENOMEM = -11
SNOW_EBADNAME = -12
SNOW_EMSGSIZE = -13
SNOW_ENOFUNC = -14
SNOW_ENOTFOUND = -15
SNOW_ESHUTDOWN = -16
SNOW_EADDRINUSE = -17
SNOW_EEPMD = -18
SNOW_ENOCOOKIE = -19
SNOW_EBUSY = -20
SNOW_ETLS = -21

UINT64_MAX = 2**64 - 1
SNOW_TAG_EXIT = UINT64_MAX
SNOW_TAG_DOWN = UINT64_MAX - 1
SNOW_TAG_NODEDOWN = UINT64_MAX - 2
SNOW_TAG_NODEUP = UINT64_MAX - 3
SNOW_TAG_SPAWN_REPLY = UINT64_MAX - 4
SNOW_TAG_TERM = UINT64_MAX - 5

SNOW_MSG_USER = 0
SNOW_MSG_EXIT = 1
SNOW_MSG_DOWN = 2
SNOW_MSG_NODEUP = 3
SNOW_MSG_NODEDOWN = 4
SNOW_MSG_SPAWN_REPLY = 5
SNOW_MSG_TERM = 6

SNOW_REASON_NORMAL = 0
SNOW_REASON_ERROR = 1
SNOW_REASON_KILLED = 2
SNOW_REASON_RESERVED = 3
SNOW_REASON_SHUTDOWN = 4
SNOW_REASON_CUSTOM = 5
SNOW_REASON_NOCONNECTION = 6
SNOW_REASON_NOPROC = 7
SNOW_REASON_TERM = 8

SNOW_PRIO_HIGH = 0
SNOW_PRIO_NORMAL = 1
SNOW_PRIO_LOW = 2

SNOW_LOG_ERROR = 0
SNOW_LOG_WARNING = 1
SNOW_LOG_INFO = 2
SNOW_LOG_DEBUG = 3

SNOW_MAX_MSG_SIZE = 1 << 31

SNOW_SUP_ONE_FOR_ONE = 0
SNOW_SUP_ONE_FOR_ALL = 1
SNOW_SUP_REST_FOR_ONE = 2
SNOW_SUP_SIMPLE_ONE_FOR_ONE = 3

SNOW_RESTART_PERMANENT = 0
SNOW_RESTART_TRANSIENT = 1
SNOW_RESTART_TEMPORARY = 2

SNOW_SHUTDOWN_BRUTAL_KILL = 0

SNOW_SERVICE_EXITED = 0x100

MSG_KIND_NAMES = {
    SNOW_MSG_USER: "user", SNOW_MSG_EXIT: "exit", SNOW_MSG_DOWN: "down", SNOW_MSG_NODEUP: "nodeup",
    SNOW_MSG_NODEDOWN: "nodedown", SNOW_MSG_SPAWN_REPLY: "spawn_reply", SNOW_MSG_TERM: "term",
}

REASON_NAMES = {
    SNOW_REASON_NORMAL: "normal", SNOW_REASON_ERROR: "error", SNOW_REASON_KILLED: "killed",
    SNOW_REASON_SHUTDOWN: "shutdown", SNOW_REASON_CUSTOM: "custom",
    SNOW_REASON_NOCONNECTION: "noconnection", SNOW_REASON_NOPROC: "noproc", SNOW_REASON_TERM: "term",
}

# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------

snow_pid_t = c_uint64
snow_ref_t = c_uint64


class snow_msg(Structure):
    """A received message: payload (data) at offset 16. Read it with read_msg()."""
    _fields_ = [("tag", c_uint64), ("len", c_uint64), ("data", c_uint8 * 0)]


# The header's callback typedefs, same names in capitals.
# snow_proc_fn: void (*)(const uint8_t* args), process entry / registered function
SNOW_PROC_FN = CFUNCTYPE(None, c_void_p)
# snow_match_fn: int (*)(const snow_msg* msg, void* ctx)
SNOW_MATCH_FN = CFUNCTYPE(c_int, POINTER(snow_msg), c_void_p)
# snow_terminate_fn: void (*)(const uint8_t* state, const uint8_t* reason)
SNOW_TERMINATE_FN = CFUNCTYPE(None, c_void_p, c_void_p)
# snow_job_fn: int64_t (*)(void* env)
SNOW_JOB_FN = CFUNCTYPE(c_int64, c_void_p)
# snow_job_map_fn: int64_t (*)(void* env, int64_t elem)
SNOW_JOB_MAP_FN = CFUNCTYPE(c_int64, c_void_p, c_int64)
# snow_log_handler(level, line, len, ctx); keep the instance alive while set.
SNOW_LOG_HANDLER = CFUNCTYPE(None, c_int32, c_void_p, c_uint64, c_void_p)


# The extensible structs keep a fixed size and end in reserved words (must be
# zero / written as zero); ctypes Structures start zeroed.
class snow_spawn_opts(Structure):
    _fields_ = [
        ("link", c_uint8),
        ("monitor", c_uint8),
        ("priority", c_uint8),
        ("reserved_", c_uint8 * 5),
        ("monitor_ref", c_uint64),
        ("stack_size", c_uint64),
        ("terminate", SNOW_TERMINATE_FN),
        ("reserved_words_", c_uint64 * 4),
    ]


class snow_stats(Structure):
    _fields_ = [
        ("processes_alive", c_uint64),
        ("processes_spawned", c_uint64),
        ("processes_exited", c_uint64),
        ("messages_sent", c_uint64),
        ("nodes_connected", c_uint64),
        ("schedulers", c_uint64),
        ("timers_pending", c_uint64),
        ("stacks_resident", c_uint64),
        ("node_entries", c_uint64),
        ("remote_pids", c_uint64),
        ("heap_bytes", c_uint64),
        ("heap_live_bytes", c_uint64),
        ("gc_collections", c_uint64),
        ("gc_shared_bytes", c_uint64),
        ("alias_sends_dropped", c_uint64),
        ("dist_messages_refused", c_uint64),
    ]


SNOW_PROC_RUNNING = 0
SNOW_PROC_WAITING = 1
SNOW_PROC_EXITING = 2


class snow_proc_info(Structure):
    _fields_ = [
        ("pid", c_uint64),
        ("status", c_uint8),
        ("reserved_", c_uint8 * 7),
        ("message_queue_len", c_uint64),
        ("links", c_uint64),
        ("monitors", c_uint64),
        ("monitored_by", c_uint64),
        ("heap_size", c_uint64),
        ("reductions", c_uint64),
        ("entry", c_uint64),
        ("name_len", c_uint64),
        ("name", c_uint8 * 256),
        ("reserved_words_", c_uint64 * 6),
    ]


class snow_child_spec(Structure):
    _fields_ = [
        ("start", SNOW_PROC_FN),
        ("args", c_void_p),
        ("args_size", c_uint64),
        ("restart", c_uint8),
        ("reserved_", c_uint8 * 7),
        ("shutdown_ms", c_int64),
        ("node", c_char_p),
        ("node_len", c_uint64),
        ("function", c_char_p),
        ("function_len", c_uint64),
    ]


class snow_sup_spec(Structure):
    _fields_ = [
        ("strategy", c_uint8),
        ("reserved_", c_uint8 * 3),
        ("max_restarts", c_uint32),
        ("period_ms", c_uint64),
        ("children", POINTER(snow_child_spec)),
        ("child_count", c_uint64),
    ]


_MSG_P = POINTER(snow_msg)

ENTRY_REFUSED = ("a Python callable cannot be a snowrt process entry: processes run on small "
                 "runtime stacks that switch threads under the interpreter; run Python code as a "
                 "process with snowrt.spawn_thread(fn, *args) (one attached OS thread per process)")


def _holds_python_code(objects, seen=None):
    """Whether a ctypes object graph (_objects) keeps a Python callback
    (a CFUNCTYPE made from a Python callable keeps its thunk there). The
    graph may hold cycles (a function pointer keeps its library, which
    keeps the function): each object is visited once."""
    if objects is None:
        return False
    seen = set() if seen is None else seen
    if id(objects) in seen:
        return False
    seen.add(id(objects))
    if type(objects).__name__ == "CThunkObject":
        return True
    if isinstance(objects, dict):
        return any(_holds_python_code(v, seen) for v in objects.values())
    if isinstance(objects, ctypes._CFuncPtr):
        return _holds_python_code(objects._objects, seen)
    return False


def is_python_callable(f):
    """True for Python code (a function, method, lambda, or a CFUNCTYPE
    wrapping one); False for a C function of a loaded library, a CFUNCTYPE
    made from an address, an address or None."""
    if isinstance(f, ctypes._CFuncPtr):
        return _holds_python_code(f._objects)
    return callable(f)


class ProcEntry(c_void_p):
    """Argument type of the process entry parameters (spawn, job, registered
    function): a C function pointer, refusing Python code with TypeError."""

    @classmethod
    def from_param(cls, obj):
        if is_python_callable(obj):
            raise TypeError(ENTRY_REFUSED)
        return c_void_p.from_param(obj)


# ---------------------------------------------------------------------------
# Functions: (name, restype, argtypes), in header order.
# Data pointers are c_void_p (pass bytes, a ctypes buffer, an address or None);
# strings are (c_char_p ptr, c_uint64 len) pairs. Function pointers are
# c_void_p too (ProcEntry for process entries), so that a function of a
# loaded C library (helpers.fn), a SNOW_PROC_FN/SNOW_MATCH_FN/
# SNOW_TERMINATE_FN instance, an address or None (NULL) can be passed as is.
# ---------------------------------------------------------------------------

FUNCTIONS = [
    ("snow_strerror", c_char_p, [c_int64]),
    # 2. Lifecycle
    ("snow_rt_init", None, []),
    ("snow_rt_init_actor", c_int32, [c_uint32]),
    ("snow_rt_set_signal_handling", c_int32, [c_bool]),
    ("snow_rt_set_log_handler", None, [c_void_p, c_void_p]),
    ("snow_rt_set_log_level", c_int32, [c_int32]),
    ("snow_rt_log_level", c_int32, []),
    ("snow_rt_run_scheduler", c_int32, []),
    ("snow_rt_halt", None, [c_int32]),
    ("snow_rt_abi_version", c_uint32, []),
    ("snow_thread_attach", snow_pid_t, []),
    ("snow_thread_detach", c_int32, []),
    # 3. Processes and messages
    ("snow_actor_spawn", snow_pid_t, [ProcEntry, c_void_p, c_uint64, c_uint8]),
    ("snow_actor_spawn_opts", snow_pid_t, [ProcEntry, c_void_p, c_uint64, POINTER(snow_spawn_opts)]),
    ("snow_actor_self", snow_pid_t, []),
    ("snow_reduction_check", None, []),
    ("snow_actor_yield", None, []),
    ("snow_actor_send", c_int32, [snow_pid_t, c_void_p, c_uint64]),
    ("snow_actor_receive", _MSG_P, [c_int64]),
    ("snow_actor_receive_match", _MSG_P, [c_void_p, c_void_p, c_int64]),
    ("snow_msg_kind", c_uint32, [_MSG_P]),
    ("snow_actor_register", c_int32, [c_char_p, c_uint64]),
    ("snow_actor_unregister", c_int32, [c_char_p, c_uint64]),
    ("snow_actor_whereis", snow_pid_t, [c_char_p, c_uint64]),
    ("snow_actor_send_named", c_int32, [c_char_p, c_uint64, c_char_p, c_uint64, c_void_p, c_uint64]),
    # 4. Exits, links and monitors
    ("snow_actor_link", c_int32, [snow_pid_t]),
    ("snow_actor_unlink", c_int32, [snow_pid_t]),
    ("snow_actor_trap_exit", c_bool, []),
    ("snow_actor_set_trap_exit", c_bool, [c_bool]),
    ("snow_actor_exit", c_int32, [snow_pid_t, c_uint8]),
    ("snow_actor_exit_reason", c_int32, [snow_pid_t, c_void_p, c_uint64]),
    ("snow_actor_exit_self", None, [c_void_p, c_uint64]),  # does not return
    ("snow_panic", None, [c_char_p, c_uint64, c_char_p, c_uint64, c_uint32]),  # does not return
    ("snow_actor_set_terminate", None, [snow_pid_t, c_void_p]),
    ("snow_process_monitor", snow_ref_t, [snow_pid_t]),
    ("snow_process_demonitor", c_int64, [snow_ref_t]),
    ("snow_process_demonitor_flush", c_int64, [snow_ref_t]),
    ("snow_node_monitor", c_int64, [c_char_p, c_uint64]),
    ("snow_node_demonitor", c_int64, [c_int64]),
    ("snow_node_monitor_all", c_int64, [c_bool]),
    # 5. Distribution
    ("snow_node_start", c_int64, [c_char_p, c_uint64, c_char_p, c_uint64]),
    ("snow_node_stop", c_int64, []),
    ("snow_node_connect", c_int64, [c_char_p, c_uint64]),
    ("snow_node_disconnect", c_int64, [c_char_p, c_uint64]),
    ("snow_node_self", c_void_p, []),
    ("snow_node_list", c_void_p, []),
    ("snow_node_name", c_int64, [c_void_p, c_uint64]),
    ("snow_register_function", None, [c_char_p, c_uint64, ProcEntry]),
    ("snow_node_spawn", snow_pid_t, [c_char_p, c_uint64, c_char_p, c_uint64, c_void_p, c_uint64, c_uint8]),
    ("snow_node_spawn_opts", snow_pid_t,
     [c_char_p, c_uint64, c_char_p, c_uint64, c_void_p, c_uint64, POINTER(snow_spawn_opts)]),
    ("snow_term_encode_pid", c_int64, [snow_pid_t, c_void_p, c_uint64]),
    ("snow_term_decode_pid", snow_pid_t, [c_void_p, c_uint64]),
    ("snow_actor_send_term", c_int32, [snow_pid_t, c_void_p, c_uint64]),
    ("snow_actor_send_named_term", c_int32, [c_char_p, c_uint64, c_char_p, c_uint64, c_void_p, c_uint64]),
    ("snow_node_set_tls", c_int64, [c_char_p, c_uint64, c_char_p, c_uint64]),
    ("snow_node_set_ticktime", c_int64, [c_uint32]),
    # 6. Timers and heap
    ("snow_timer_sleep", None, [c_int64]),
    ("snow_timer_send_after", snow_ref_t, [snow_pid_t, c_int64, c_void_p, c_int64]),
    ("snow_timer_cancel", c_int64, [snow_ref_t]),
    ("snow_gc_alloc_actor", c_void_p, [c_uint64, c_uint64]),
    ("snow_gc_collect", None, []),
    ("snow_rt_stats", c_int32, [POINTER(snow_stats)]),
    ("snow_rt_processes", c_int64, [POINTER(c_uint64), c_uint64]),
    ("snow_process_info", c_int32, [c_uint64, POINTER(snow_proc_info)]),
    # 7. Services and supervisors
    ("snow_service_call", _MSG_P, [snow_pid_t, c_uint64, c_void_p, c_uint64]),
    ("snow_service_call_timeout", _MSG_P, [snow_pid_t, c_uint64, c_void_p, c_uint64, c_int64]),
    ("snow_service_try_call", _MSG_P, [snow_pid_t, c_uint64, c_void_p, c_uint64, c_int64]),
    ("snow_service_reply", c_int32, [snow_pid_t, c_void_p, c_uint64]),
    ("snow_service_last_error", c_int64, []),
    ("snow_supervisor_start", snow_pid_t, [POINTER(snow_sup_spec)]),
    ("snow_supervisor_start_child", snow_pid_t, [snow_pid_t, POINTER(snow_child_spec)]),
    ("snow_supervisor_terminate_child", c_int64, [snow_pid_t, snow_pid_t]),
    ("snow_supervisor_count_children", c_int64, [snow_pid_t]),
    # 7. Jobs
    ("snow_job_async", snow_pid_t, [ProcEntry, c_void_p]),
    ("snow_job_await", c_void_p, [snow_pid_t]),
    ("snow_job_await_timeout", c_void_p, [snow_pid_t, c_int64]),
    ("snow_job_map", c_void_p, [c_void_p, ProcEntry, c_void_p]),
]

NORETURN = frozenset(["snow_actor_exit_self", "snow_panic"])

# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


class SnowError(Exception):
    """A negative SNOW_E* code returned by a call."""

    def __init__(self, code, what=""):
        self.code = code
        super().__init__("%s%s (%d)" % (what + ": " if what else "", ERROR_TEXT.get(code, "unknown error"), code))


ERROR_TEXT = {
    SNOW_EINVAL: "invalid argument", SNOW_ENOTPROC: "not called from a process",
    SNOW_ENOPROC: "no such process", SNOW_ENOTSTARTED: "runtime or distribution not started",
    SNOW_EALREADY: "already started", SNOW_EEXIST: "name already registered",
    SNOW_ENONODE: "no such node or node unreachable", SNOW_ECONNREFUSED: "connection refused",
    SNOW_EAUTH: "authentication failed (cookie mismatch)", SNOW_ETIMEDOUT: "timed out",
    SNOW_ENOMEM: "out of memory", SNOW_EBADNAME: "bad name", SNOW_EMSGSIZE: "message or argument too large",
    SNOW_ENOFUNC: "no such registered function", SNOW_ENOTFOUND: "name not registered by this process",
    SNOW_ESHUTDOWN: "runtime is shutting down", SNOW_EADDRINUSE: "address already in use",
    SNOW_EEPMD: "port mapper (epmd) failed", SNOW_ENOCOOKIE: "no cookie given and ~/.erlang.cookie unusable",
    SNOW_EBUSY: "the node's send queue is busy: not sent",
    SNOW_ETLS: "TLS distribution failed (settings, certificates or handshake)",
}

_lib = None

SONAME = "libsnowrt.so.%d" % SNOW_ABI_VERSION
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _pkg_config_libdir():
    """`pkg-config --variable=libdir snowrt`, or None without pkg-config or
    the snowrt package."""
    exe = shutil.which("pkg-config")
    if not exe:
        return None
    try:
        r = subprocess.run([exe, "--variable=libdir", "snowrt"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    libdir = r.stdout.strip()
    return libdir if r.returncode == 0 and libdir else None


def locate():
    """Where load() finds libsnowrt by default: (path, how), in this order:

    1. $SNOWRT_LIBRARY (how "SNOWRT_LIBRARY"; the older $SNOWRT_LIB too);
    2. libsnowrt.so.2 next to this package (how "package");
    3. libsnowrt.so.2 in `pkg-config --variable=libdir snowrt` (how "pkg-config");
    4. the system loader's search (LD_LIBRARY_PATH, ld.so.cache): the bare
       name libsnowrt.so.2 (how "system").
    The first one that names an existing file wins (4 always answers)."""
    for var in ("SNOWRT_LIBRARY", "SNOWRT_LIB"):
        path = os.environ.get(var)
        if path:
            if not os.path.exists(path):
                raise OSError("$%s names %s, which does not exist" % (var, path))
            return path, var
    beside = os.path.join(PACKAGE_DIR, SONAME)
    if os.path.exists(beside):
        return beside, "package"
    libdir = _pkg_config_libdir()
    if libdir and os.path.exists(os.path.join(libdir, SONAME)):
        return os.path.join(libdir, SONAME), "pkg-config"
    return SONAME, "system"


def load(path=None, strict=False):
    """Loads libsnowrt and declares every function on it; returns the CDLL.

    path: the library file; default: locate()'s answer. The CDLL's
    `snowrt_found_by` attribute says how it was found ("path" when given).
    Functions the library does not export are listed in its
    `snowrt_missing` attribute (and raise AttributeError when used); with
    strict=True any missing function raises AttributeError here. Raises
    OSError if the library cannot be found, RuntimeError on an ABI version
    mismatch."""
    global _lib
    how = "path"
    if path is None:
        path, how = locate()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise OSError("libsnowrt not found (%s): set SNOWRT_LIBRARY to the path of %s, install snowrt "
                      "where pkg-config finds it, or add its directory to LD_LIBRARY_PATH" % (e, SONAME)) from e
    missing = []
    for name, restype, argtypes in FUNCTIONS:
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if strict and missing:
        raise AttributeError("%s does not export: %s" % (path, ", ".join(missing)))
    lib.snowrt_missing = missing
    lib.snowrt_found_by = how
    version = lib.snow_rt_abi_version()
    if version != SNOW_ABI_VERSION:
        raise RuntimeError("libsnowrt at %s has ABI version %d, this binding is for %d" % (path, version, SNOW_ABI_VERSION))
    _lib = lib
    return lib


def library():
    """The CDLL from the last load() (loading the default one if none)."""
    return _lib if _lib is not None else load()


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

Message = collections.namedtuple("Message", "kind tag data")
"""A message copied out of the runtime: kind (SNOW_MSG_*), tag (u64), data (bytes)."""

Reason = collections.namedtuple("Reason", "tag text")
"""A decoded exit reason: tag (SNOW_REASON_*) and, for error/custom/term, its bytes."""


def proc_fn(f):
    """A SNOW_PROC_FN from an address (int) or a function of a loaded C
    library (e.g. helpers.my_process), e.g. for snow_child_spec.start. The
    spawn calls accept those directly too."""
    if is_python_callable(f):
        raise TypeError(ENTRY_REFUSED)
    if isinstance(f, SNOW_PROC_FN) or f is None:
        return f
    if isinstance(f, int):
        return SNOW_PROC_FN(f)
    return ctypes.cast(f, SNOW_PROC_FN)


def read_msg(lib, ptr):
    """Copies a received snow_msg (a POINTER(snow_msg), possibly NULL) into a
    Message, or returns None for NULL. Valid until the next receive."""
    if not ptr:
        return None
    m = ptr.contents
    data = ctypes.string_at(ctypes.addressof(m) + 16, m.len) if m.len else b""
    return Message(lib.snow_msg_kind(ptr), m.tag, data)


def receive(lib, timeout_ms=-1):
    """snow_actor_receive, copied out: a Message or None on timeout."""
    return read_msg(lib, lib.snow_actor_receive(timeout_ms))


def send(lib, pid, data):
    """snow_actor_send of bytes; raises SnowError on a negative result."""
    data = bytes(data)
    rc = lib.snow_actor_send(pid, data, len(data))
    if rc < 0:
        raise SnowError(rc, "snow_actor_send")
    return rc


def u64(*values):
    """Packs little-endian u64 values."""
    return struct.pack("<%dQ" % len(values), *values)


def get_u64(data, offset=0):
    return struct.unpack_from("<Q", data, offset)[0]


def decode_reason(data):
    """Decodes an encoded exit reason ([u8 tag][data])."""
    if not data:
        raise ValueError("empty exit reason")
    tag = data[0]
    if tag in (SNOW_REASON_ERROR, SNOW_REASON_CUSTOM, SNOW_REASON_TERM):
        n = get_u64(data, 1)
        return Reason(tag, bytes(data[9 : 9 + n]))
    return Reason(tag, None)


def encode_reason(tag, text=b""):
    """Encodes an exit reason for snow_actor_exit_reason / snow_actor_exit_self."""
    if tag in (SNOW_REASON_ERROR, SNOW_REASON_CUSTOM, SNOW_REASON_TERM):
        text = text.encode() if isinstance(text, str) else bytes(text)
        return bytes([tag]) + u64(len(text)) + text
    return bytes([tag])


def parse_exit(msg):
    """(from_pid, Reason) of an EXIT message."""
    if msg.kind != SNOW_MSG_EXIT:
        raise ValueError("not an EXIT message: %r" % (msg,))
    return get_u64(msg.data, 0), decode_reason(msg.data[8:])


def parse_down(msg):
    """(ref, pid, Reason) of a DOWN message."""
    if msg.kind != SNOW_MSG_DOWN:
        raise ValueError("not a DOWN message: %r" % (msg,))
    return get_u64(msg.data, 0), get_u64(msg.data, 8), decode_reason(msg.data[16:])


def strerror(lib, code):
    return lib.snow_strerror(code).decode("utf-8", "replace")


def snow_string(ptr):
    """Reads a Snow string [u64 len][bytes] (snow_node_self) as bytes."""
    if not ptr:
        return b""
    n = ctypes.c_uint64.from_address(ptr).value
    return ctypes.string_at(ptr + 8, n)


def snow_string_list(ptr):
    """Reads a Snow list of strings [u64 len][u64 cap][u64 ptr x len] (snow_node_list)."""
    if not ptr:
        return []
    n = ctypes.c_uint64.from_address(ptr).value
    items = (ctypes.c_uint64 * n).from_address(ptr + 16)
    return [snow_string(p) for p in items]


def stats(lib):
    """snow_rt_stats as a dict."""
    s = snow_stats()
    rc = lib.snow_rt_stats(ctypes.byref(s))
    if rc < 0:
        raise SnowError(rc, "snow_rt_stats")
    return {name: getattr(s, name) for name, _ in snow_stats._fields_ if not name.startswith("reserved")}


def processes(lib):
    """snow_rt_processes as a list of pids (asks again while the list grows)."""
    cap = 64
    while True:
        buf = (c_uint64 * cap)()
        n = lib.snow_rt_processes(buf, cap)
        if n < 0:
            raise SnowError(n, "snow_rt_processes")
        if n <= cap:
            return list(buf[:n])
        cap = n + 64


PROC_STATUS = {SNOW_PROC_RUNNING: "running", SNOW_PROC_WAITING: "waiting", SNOW_PROC_EXITING: "exiting"}


def process_info(lib, pid):
    """snow_process_info as a dict, or None for a process that is not alive
    (SNOW_ENOPROC)."""
    info = snow_proc_info()
    rc = lib.snow_process_info(pid, ctypes.byref(info))
    if rc == SNOW_ENOPROC:
        return None
    if rc < 0:
        raise SnowError(rc, "snow_process_info")
    out = {name: getattr(info, name) for name, _ in snow_proc_info._fields_ if not name.startswith("reserved")}
    out["name"] = bytes(info.name[:info.name_len]).decode("utf-8", "replace") or None
    out["status"] = PROC_STATUS.get(info.status, info.status)
    return out
