"""Shared machinery of the multi-node tests (tests/dist, tests/interop).

A Node is one OS process speaking the line protocol of tests/dist/snow_node.c
(the Erlang peer of tests/interop speaks the same protocol):
  driver -> node:  "<id> <command> <args...>"
  node -> driver:  "R <id> ok|err ..." answers, "E <label> <KIND> k=v ..."
                   events, "ready <name> ..." once started.
A reader thread collects the lines; tests wait for them with deadlines
(never fixed sleeps). Absence checks ("no DOWN after demonitor") pass a
barrier through the worker's mailbox after a short window, so anything that
was going to arrive has been printed.

Environment:
  SNOW_TEST_SCALE          float, scales work sizes (default 1)
  SNOW_TEST_TIMEOUT_SCALE  float, scales every deadline (default 1)
  SNOW_TEST_VERBOSE        print every line from every node
  SNOW_TEST_KEEP_LOGS      keep the node stderr logs even when every test passes
                           (they are always kept, and their directory printed,
                           after a failure)
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SCALE = float(os.environ.get("SNOW_TEST_SCALE", "1") or 1)
TSCALE = float(os.environ.get("SNOW_TEST_TIMEOUT_SCALE", "1") or 1)
VERBOSE = bool(os.environ.get("SNOW_TEST_VERBOSE"))
HOST = "127.0.0.1"


def tmo(seconds):
    """A deadline length, scaled by SNOW_TEST_TIMEOUT_SCALE."""
    return seconds * TSCALE


class Fail(Exception):
    pass


class Skip(Exception):
    """A test that cannot run here (a missing tool or build): counted as
    skipped, never as passed."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ---------------------------------------------------------------- ETF helpers


def _atom(b, i):
    tag = b[i]
    if tag in (100, 118):  # ATOM_EXT, ATOM_UTF8_EXT
        n = int.from_bytes(b[i + 1:i + 3], "big")
        return b[i + 3:i + 3 + n].decode("utf-8"), i + 3 + n
    if tag in (115, 119):  # SMALL_ATOM_EXT, SMALL_ATOM_UTF8_EXT
        n = b[i + 1]
        return b[i + 2:i + 2 + n].decode("utf-8"), i + 2 + n
    raise ValueError("not an atom at %d (tag %d)" % (i, tag))


def parse_pid_at(b, i):
    """(node, id, serial, creation), next index; b[i] is PID_EXT/NEW_PID_EXT."""
    tag = b[i]
    if tag not in (88, 103):
        raise ValueError("not a pid (tag %d)" % tag)
    node, j = _atom(b, i + 1)
    pid_id = int.from_bytes(b[j:j + 4], "big")
    serial = int.from_bytes(b[j + 4:j + 8], "big")
    if tag == 88:
        creation = int.from_bytes(b[j + 8:j + 12], "big")
        return (node, pid_id, serial, creation), j + 12
    return (node, pid_id, serial, b[j + 8]), j + 9


def pid_of(hexstr):
    """Parses a pid printed as hex ETF (version byte first): a tuple."""
    if hexstr in (None, "", "0"):
        return None
    b = bytes.fromhex(hexstr)
    i = 1 if b and b[0] == 131 else 0
    return parse_pid_at(b, i)[0]


def pid_etf_body(hexstr):
    """The pid's ETF bytes without the version byte."""
    b = bytes.fromhex(hexstr)
    return b[1:] if b[0] == 131 else b


def etf_tuple(*elems_bodies):
    """Version byte + SMALL_TUPLE_EXT of already-encoded element bodies."""
    return bytes([131, 104, len(elems_bodies)]) + b"".join(elems_bodies)


def etf_binary_body(data):
    return bytes([109]) + len(data).to_bytes(4, "big") + data


def etf_atom_body(name):
    n = name.encode()
    return bytes([119, len(n)]) + n


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def payload_is(ev, data):
    """A MSG event carries exactly `data` (length, checksum and shown bytes;
    erl-side events have no checksum and always show everything)."""
    if ev.kv.get("len") != str(len(data)):
        return False
    if "sum" in ev.kv and ev.kv["sum"] != fnv1a(data):
        return False
    shown = ev.kv.get("data", "-")
    shown = "" if shown == "-" else shown
    return shown == data[:len(shown) // 2].hex() and (ev.kv.get("trunc") or len(shown) == 2 * len(data))


def describe_pid(hexstr):
    p = pid_of(hexstr)
    return "<%s.%d.%d/%d>" % p if p else "none"


# ---------------------------------------------------------------- port mapper, raw peers


def epmd_port(node_name, timeout=5.0, epmd=4369):
    """The node's distribution port from the port mapper on port `epmd`
    (PORT_PLEASE2), or None."""
    import socket
    alive = node_name.split("@")[0].encode()
    with socket.create_connection(("127.0.0.1", epmd), timeout=timeout) as s:
        s.sendall((len(alive) + 1).to_bytes(2, "big") + b"z" + alive)
        data = b""
        while len(data) < 4:
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
    if len(data) >= 4 and data[0] == 119 and data[1] == 0:
        return int.from_bytes(data[2:4], "big")
    return None


class EpmdRegistration:
    """Registers `alive` with the local port mapper at `port` (ALIVE2_REQ)
    for as long as this object's socket stays open, as a node would: a
    lookup of alive@127.0.0.1 then answers `port`. The creation the port
    mapper assigned is in .creation."""

    def __init__(self, alive, port, timeout=5.0):
        import socket
        a = alive.encode()
        body = (bytes([120]) + port.to_bytes(2, "big") + bytes([77, 0]) + (6).to_bytes(2, "big") +
                (6).to_bytes(2, "big") + len(a).to_bytes(2, "big") + a + (0).to_bytes(2, "big"))
        self.sock = socket.create_connection(("127.0.0.1", 4369), timeout=timeout)
        self.sock.sendall(len(body).to_bytes(2, "big") + body)
        data = b""
        while len(data) < 4:
            chunk = self.sock.recv(64)
            if not chunk:
                break
            data += chunk
        if len(data) < 2 or data[0] not in (118, 121) or data[1] != 0:
            self.sock.close()
            raise Fail("the port mapper refused to register %s: %r" % (alive, data))
        self.creation = int.from_bytes(data[2:6], "big") if data[0] == 118 else int.from_bytes(data[2:4], "big")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- observing a node's OS process


def proc_rss_kb(pid):
    """Resident set size of an OS process in KiB (VmRSS), or None if gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_fd_count(pid):
    """Open file descriptors of an OS process, or None if gone."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def sanitized(binary):
    """Whether a node binary is built with ASan or TSan (their RSS says
    little: freed memory waits in a quarantine)."""
    with open(binary, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
              7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}


def _proc_addr(text):
    """'0100007F:1F90' (as in /proc/net/tcp) -> ('127.0.0.1', 8080)."""
    host, port = text.split(":")
    b = bytes.fromhex(host)[::-1]  # IPv4 in host (little-endian) order
    return ("%d.%d.%d.%d" % tuple(b), int(port, 16))


def proc_tcp_sockets(pid):
    """The IPv4 TCP sockets an OS process holds: a list of (state, (local
    address, port), (remote address, port)), read from /proc (its fd table
    matched against /proc/<pid>/net/tcp by inode)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open("/proc/%d/net/tcp" % pid) as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return []
    out = []
    for row in rows:
        cols = row.split()
        if len(cols) > 9 and cols[9] in inodes:
            out.append((TCP_STATES.get(int(cols[3], 16), cols[3]), _proc_addr(cols[1]), _proc_addr(cols[2])))
    return out


# The flags libsnowrt offers (runtime/dist/wire.h kOurFlags): OTP 25's
# mandatory set plus monitors, exit payloads, unlink ids and spawn.
RAW_FLAGS = (0x1 | 0x4 | 0x8 | 0x10 | 0x20 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x20000 | 0x40000
             | 0x80000 | 0x400000 | 0x1000000 | 0x2000000 | (1 << 32) | (1 << 34) | (1 << 35) | (1 << 36))


class RawPeer:
    """A minimal distribution-protocol client written from the protocol
    description (erl_dist_protocol, handshake version 6), to send a node
    frames no well-behaved peer sends."""

    def __init__(self, port, timeout=5.0):
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_hs(self, body):
        self.sock.sendall(len(body).to_bytes(2, "big") + body)

    def recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the node")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_hs(self):
        n = int.from_bytes(self.recv_exact(2), "big")
        return self.recv_exact(n)

    def handshake(self, my_name, cookie, creation=0x1234):
        import hashlib
        import random
        name = my_name.encode()
        self.send_hs(b"N" + RAW_FLAGS.to_bytes(8, "big") + creation.to_bytes(4, "big") + len(name).to_bytes(2, "big")
                     + name)
        status = self.recv_hs()
        if status not in (b"sok", b"sok_simultaneous"):
            raise Fail("raw handshake: status %r" % status)
        ch = self.recv_hs()
        if ch[:1] != b"N":
            raise Fail("raw handshake: challenge %r" % ch[:20])
        their = int.from_bytes(ch[9:13], "big")
        mine = random.getrandbits(32)
        digest = hashlib.md5((cookie + str(their)).encode()).digest()
        self.send_hs(b"r" + mine.to_bytes(4, "big") + digest)
        ack = self.recv_hs()
        want = hashlib.md5((cookie + str(mine)).encode()).digest()
        if ack != b"a" + want:
            raise Fail("raw handshake: bad ack %r" % ack)

    def send_frame(self, body):
        self.sock.sendall(len(body).to_bytes(4, "big") + body)

    def closed_within(self, timeout):
        """True if the node closes the connection within timeout (ticks and
        other frames it sends meanwhile are read and ignored)."""
        import socket
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return True
            if not chunk:
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def etf_pid_body(node, pid_id, serial, creation):
    n = node.encode()
    return bytes([88, 119, len(n)]) + n + pid_id.to_bytes(4, "big") + serial.to_bytes(4, "big") + creation.to_bytes(
        4, "big")


def etf_small_int(v):
    return bytes([97, v])


# ---------------------------------------------------------------- lines


class Line:
    """One parsed output line."""

    __slots__ = ("raw", "kind", "label", "what", "args", "kv", "t", "seen_ns", "used")

    def __init__(self, raw):
        self.raw = raw
        self.seen_ns = time.monotonic_ns()
        self.used = False
        toks = raw.split()
        self.kind = toks[0] if toks else ""
        self.label = toks[1] if len(toks) > 1 else ""
        self.what = toks[2] if len(toks) > 2 else ""
        self.args = []
        self.kv = {}
        for tok in toks[3:]:
            if "=" in tok:
                k, v = tok.split("=", 1)
                self.kv[k] = v
            else:
                self.args.append(tok)
        self.t = int(self.kv["t"]) if "t" in self.kv and self.kv["t"].lstrip("-").isdigit() else self.seen_ns

    def reason(self):
        return self.kv.get("reason")

    def rtext(self):
        h = self.kv.get("rtext")
        if h is None:
            return None
        try:
            return bytes.fromhex(h).decode("utf-8", "replace")
        except ValueError:
            return h

    def __repr__(self):
        return self.pretty()

    def pretty(self):
        s = self.raw if len(self.raw) < 400 else self.raw[:400] + "..."
        # Decode hex fields for humans.
        for k in ("rtext", "data"):
            if k in self.kv:
                try:
                    v = repr(bytes.fromhex(self.kv[k]))
                    s += "  [%s=%s]" % (k, v if len(v) < 200 else v[:200] + "...")
                except ValueError:
                    pass
        for k in ("from", "pid"):
            if k in self.kv and self.kv[k] not in ("0", ""):
                try:
                    s += "  [%s=%s]" % (k, describe_pid(self.kv[k]))
                except (ValueError, IndexError):
                    pass
        return s


# ---------------------------------------------------------------- nodes


class Proc:
    """An OS process speaking the line protocol."""

    def __init__(self, ctx, name, argv, env=None, tag=None):
        self.ctx = ctx
        self.name = name
        self.tag = tag or name.split("@")[0]
        self.argv = argv
        self.lines = []
        self.cond = threading.Condition()
        self.next_id = 1
        self.eof = False
        self.killed = False  # killed on purpose: no clean-exit check
        self.stopped = False  # SIGSTOPped
        self.log_path = os.path.join(ctx.logdir, "%s.%d.stderr" % (self.tag, len(ctx.procs)))
        self.log = open(self.log_path, "wb")
        e = dict(os.environ)
        if env:
            e.update(env)
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=e,
                                  bufsize=0, start_new_session=ctx.new_sessions)
        self.pid = self.p.pid
        ctx.procs.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        fd = self.p.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                ln = Line(raw.decode("utf-8", "replace"))
                if VERBOSE:
                    sys.stdout.write("  [%s] %s\n" % (self.tag, ln.raw))
                with self.cond:
                    self.lines.append(ln)
                    self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    # -- waiting

    def _find(self, pred):
        for ln in self.lines:
            if not ln.used and pred(ln):
                return ln
        return None

    def wait_line(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                ln = self._find(pred)
                if ln:
                    ln.used = True
                    return ln
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    break
                self.cond.wait(min(left, 0.5))
        if self.eof:
            try:
                rc = self.p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                rc = "unknown"
            raise Fail("%s: the node exited (status %s%s) while waiting for %s" %
                       (self.tag, rc, ", SIGPIPE" if rc == -signal.SIGPIPE else "", what))
        raise Fail("%s: timed out after %.1fs waiting for %s (node running)" % (self.tag, timeout, what))

    def send_line(self, text):
        if VERBOSE:
            sys.stdout.write("  [%s] << %s\n" % (self.tag, text))
        try:
            self.p.stdin.write((text + "\n").encode())
        except (BrokenPipeError, OSError) as e:
            try:
                rc = self.p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                rc = "unknown"
            raise Fail("%s: cannot write command %r (%s): the node exited (status %s%s)" %
                       (self.tag, text, e, rc, ", SIGPIPE" if rc == -signal.SIGPIPE else ""))

    def cmd(self, *args, ok=True, timeout=None):
        """Runs a command; returns the answer Line (args: values after ok)."""
        cid = str(self.next_id)
        self.next_id += 1
        text = " ".join(str(a) for a in args)
        self.send_line("%s %s" % (cid, text))
        ln = self.wait_line(lambda l: l.kind == "R" and l.label == cid, timeout or tmo(15), "answer to %r" % text)
        if ok and ln.what != "ok":
            raise Fail("%s: command %r failed: %s" % (self.tag, text, ln.raw))
        return ln

    def event(self, label, what, pred=None, timeout=None, desc=None):
        """Waits for (and consumes) an event of worker `label`."""
        return self.wait_line(lambda l: l.kind == "E" and l.label == label and l.what == what and (pred is None or pred(l)),
                              timeout or tmo(10), desc or "event %s %s" % (label, what))

    def pending(self, label=None, what=None, pred=None):
        """Events not consumed yet that match."""
        with self.cond:
            return [l for l in self.lines if not l.used and l.kind == "E" and (label is None or l.label == label)
                    and (what is None or l.what == what) and (pred is None or pred(l))]

    def history(self, label, whats=None):
        """Every event of worker `label` so far (consumed or not), in order."""
        with self.cond:
            return [l for l in self.lines if l.kind == "E" and l.label == label and (whats is None or l.what in whats)]

    def barrier(self, label):
        """Everything already in the worker's mailbox has been printed."""
        self.cmd("echo", label)

    def expect_none(self, label, what, pred=None, window=0.3, desc=None):
        """No such event within `window` (scaled), checked after a barrier."""
        time.sleep(tmo(window))  # the only fixed wait: an absence check needs a window
        if self.alive():
            self.barrier(label)
        bad = self.pending(label, what, pred)
        check(not bad, "%s: unexpected %s: %s" % (self.tag, desc or what, "; ".join(l.pretty() for l in bad)))

    def alive(self):
        return self.p.poll() is None and not self.eof

    def drop_consumed(self):
        """Forgets lines already consumed, so waits stay cheap in a long
        run (history() then covers only what was not consumed)."""
        with self.cond:
            self.lines = [ln for ln in self.lines if not ln.used]

    # -- signals

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            os.kill(self.pid, sig)
        if sig == signal.SIGKILL:
            self.killed = True
            self.p.wait(timeout=tmo(10))
            with self.cond:
                deadline = time.monotonic() + tmo(5)
                while not self.eof and time.monotonic() < deadline:
                    self.cond.wait(0.2)
        elif sig == signal.SIGSTOP:
            self.stopped = True
        elif sig == signal.SIGCONT:
            self.stopped = False

    def close(self):
        """Asks the node to stop (halt + stdin EOF); kills it if it does not.
        Returns a complaint string or None."""
        complaint = None
        if self.stopped and self.p.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
            self.stopped = False
        if self.p.poll() is None:
            try:
                self.p.stdin.write(b"0 halt\n")
                self.p.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.p.wait(timeout=tmo(10))
            except subprocess.TimeoutExpired:
                complaint = "%s did not stop within %.0fs after halt; killed" % (self.tag, tmo(10))
                os.kill(self.pid, signal.SIGKILL)
                self.killed = True
                self.p.wait()
        rc = self.p.returncode
        if complaint is None and not self.killed and rc != 0:
            complaint = "%s exited with status %s" % (self.tag, rc)
        self.reader.join(timeout=5)
        self.log.close()
        return complaint

    def tail(self, n=40):
        with self.cond:
            out = [l.pretty() for l in self.lines[-n:]]
        try:
            with open(self.log_path, "rb") as f:
                err = f.read().decode("utf-8", "replace").splitlines()[-n:]
        except OSError:
            err = []
        return out, err


class SnowNode(Proc):
    """A tests/dist/snow_node process."""

    def __init__(self, ctx, short, cookie="snowcookie", tick=None, env=None, expect_ready=True, host=HOST):
        name = "%s@%s" % (short, host)
        argv = [ctx.binary, name, cookie] + ([str(tick)] if tick else [])
        super().__init__(ctx, name, argv, env=env, tag=short)
        self.cookie = cookie
        self.tick = tick
        self.start_line = None
        if expect_ready:
            self.start_line = self.wait_line(lambda l: l.kind in ("ready", "startfail"), tmo(15), "ready")
            check(self.start_line.kind == "ready", "%s did not start: %s" % (name, self.start_line.raw))

    def spawn(self, label, trap=False):
        """Spawns worker `label`; returns its pid hex (after it started)."""
        ln = self.cmd("spawn", label, "trap" if trap else "")
        pid = ln.args[0]
        st = self.event(label, "STARTED")
        check(st.kv.get("pid") == pid, "%s: STARTED pid %s differs from spawn's %s" % (label, st.kv.get("pid"), pid))
        check(st.kv.get("register") == "0", "%s: register failed: %s" % (label, st.raw))
        return pid


# ---------------------------------------------------------------- test runner


class Ctx:
    """Per-test context: names, processes, cleanup."""

    def __init__(self, runner, index, binary):
        self.runner = runner
        self.index = index
        self.binary = binary
        self.procs = []
        self.logdir = runner.logdir
        self.notes = []
        # Nodes in sessions of their own: a node the test SIGSTOPs is not
        # sent SIGHUP when the driver's process group becomes orphaned (its
        # parent shell exits), as happens to a long run started in the
        # background. The driver then must stop them itself, by pid.
        self.new_sessions = False

    def uname(self, short):
        """A node short name unique to this driver run and test."""
        return "%s%dt%d" % (short, os.getpid(), self.index)

    def node(self, short, **kw):
        return SnowNode(self, self.uname(short), **kw)

    def note(self, text):
        self.notes.append(text)


class Runner:
    def __init__(self, title, binary):
        self.title = title
        self.binary = binary
        self.tests = []
        self.logdir = tempfile.mkdtemp(prefix="snow-%s-" % title)
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []
        self.tscale = TSCALE

    def add(self, name, fn, *args):
        self.tests.append((name, fn, args))

    def run(self, args):
        """args: substrings selecting tests by name (none: all), and
        --exclude=SUBSTRING to leave tests out."""
        excludes = [a.split("=", 1)[1] for a in args if a.startswith("--exclude=")]
        filters = [a for a in args if not a.startswith("--")]
        selected = [t for t in self.tests if (not filters or any(f in t[0] for f in filters))
                    and not any(x in t[0] for x in excludes)]
        t_all = time.monotonic()
        for index, (name, fn, args) in enumerate(selected):
            ctx = Ctx(self, index, self.binary)
            t0 = time.monotonic()
            err = None
            skip = None
            try:
                fn(ctx, *args)
            except Skip as e:
                skip = str(e)
            except Fail as e:
                err = str(e)
            except Exception:  # a driver bug or an unexpected answer: a failure, with the trace
                err = traceback.format_exc()
            complaints = []
            for p in ctx.procs:
                try:
                    c = p.close()
                except Exception as e:  # noqa: BLE001
                    c = "%s: close failed: %s" % (p.tag, e)
                if c:
                    complaints.append(c)
            if err is None and complaints:
                err = "; ".join(complaints)
            dt = time.monotonic() - t0
            notes = ("  (" + "; ".join(ctx.notes) + ")") if ctx.notes else ""
            if err is None and skip is not None:
                self.skipped += 1
                print("skip %-44s %6.2fs  (%s)" % (name, dt, skip), flush=True)
            elif err is None:
                self.passed += 1
                print("ok   %-44s %6.2fs%s" % (name, dt, notes), flush=True)
            else:
                self.failed += 1
                self.failures.append(name)
                print("FAIL %-44s %6.2fs%s\n     %s" % (name, dt, notes, err.replace("\n", "\n     ")), flush=True)
                for c in complaints:
                    print("     also: %s" % c)
                for p in ctx.procs:
                    out, errl = p.tail()
                    print("     --- %s (%s, pid %d, exit %s) last stdout lines:" % (p.tag, p.name, p.pid, p.p.returncode))
                    for l in out:
                        print("       " + l)
                    print("     --- %s stderr (%s):" % (p.tag, p.log_path))
                    for l in errl:
                        print("       " + l)
                sys.stdout.flush()
        print("%d passed, %d failed%s (%.1fs)" % (self.passed, self.failed,
                                                 (", %d skipped" % self.skipped) if self.skipped else "",
                                                 time.monotonic() - t_all))
        if self.failures:
            print("failed: " + ", ".join(self.failures))
        if self.failed or os.environ.get("SNOW_TEST_KEEP_LOGS"):
            print("node logs: %s" % self.logdir)
        else:
            import shutil
            shutil.rmtree(self.logdir, ignore_errors=True)
        return 0 if self.failed == 0 else 1
