"""A scripted distribution peer for tests/dist/test_hostile.py: control
messages encoded by hand (ETF), an authenticated peer that ticks and notes
when the node closes, a script that sends hostile frames one at a time and
proves each was handled, floods of handshake attempts, and a listener that
catches a node dialling a name it was never asked to.

Written from the protocol description (erl_dist_protocol: handshake version
6, OTP 23+ 'N' name messages); see nodelib.RawPeer for the handshake.
"""

import hashlib
import os
import socket
import threading
import time

from nodelib import (RAW_FLAGS, EpmdRegistration, Fail, RawPeer, check, epmd_port, etf_atom_body, etf_binary_body,
                     etf_pid_body, pid_etf_body, proc_fd_count, tmo)


# ---------------------------------------------------------------- ETF and control messages

def etf_int(v):
    if 0 <= v < 256:
        return bytes([97, v])
    if -(1 << 31) <= v < (1 << 31):
        return bytes([98]) + (v & 0xFFFFFFFF).to_bytes(4, "big")
    mag = abs(v).to_bytes((abs(v).bit_length() + 7) // 8, "little")
    return bytes([110, len(mag), 1 if v < 0 else 0]) + mag


def etf_ref(node, creation, ids):
    n = node.encode()
    return (bytes([90]) + len(ids).to_bytes(2, "big") + bytes([119, len(n)]) + n + creation.to_bytes(4, "big") +
            b"".join(i.to_bytes(4, "big") for i in ids))


def etf_tuple_body(*elems):
    return bytes([104, len(elems)]) + b"".join(elems)


def control(*elems, payload=None):
    """A distribution frame body: pass-through byte, the control tuple, and
    the message payload term if any (each with its version byte)."""
    body = b"\x70\x83" + etf_tuple_body(*elems)
    if payload is not None:
        body += b"\x83" + payload
    return body


def fragment(seq, frag_id, data, first_control=None):
    """One fragment frame body (erl_ext_dist "Distribution Header for
    fragmented messages"): the first of a sequence carries the control term
    (no version byte, no atom cache references), the others only data."""
    head = bytes([131, 69 if first_control is not None else 70]) + seq.to_bytes(8, "big") + frag_id.to_bytes(8, "big")
    if first_control is not None:
        return head + b"\x00" + first_control + data
    return head + data


def send_control_body(to):
    """{2, '', To} without version byte (the control term of a fragment)."""
    return etf_tuple_body(etf_int(2), etf_atom_body(""), to)


def link_msg(frm, to):
    return control(etf_int(1), frm, to)


def send_msg(to, data):
    return control(etf_int(2), etf_atom_body(""), to, payload=etf_binary_body(data))


def exit_msg(frm, to, reason):
    return control(etf_int(3), frm, to, etf_atom_body(reason))


def reg_send_msg(frm, name, data):
    return control(etf_int(6), frm, etf_atom_body(""), etf_atom_body(name), payload=etf_binary_body(data))


def exit2_msg(frm, to, reason):
    return control(etf_int(8), frm, to, etf_atom_body(reason))


def monitor_p_msg(frm, to, ref):
    return control(etf_int(19), frm, to, ref)


def send_sender_msg(frm, to, data):
    return control(etf_int(22), frm, to, payload=etf_binary_body(data))


def unlink_id_msg(uid, frm, to):
    return control(etf_int(35), etf_int(uid), frm, to)


def name_message(name, creation, flags=RAW_FLAGS):
    n = name.encode()
    return b"N" + flags.to_bytes(8, "big") + creation.to_bytes(4, "big") + len(n).to_bytes(2, "big") + n


def hs(body):
    return len(body).to_bytes(2, "big") + body


def digest(cookie, challenge):
    return hashlib.md5((cookie + str(challenge)).encode()).digest()


# ---------------------------------------------------------------- scripted peers


class AuthPeer(RawPeer):
    """A scripted peer that knows the cookie. After the handshake a thread
    reads (and drops) whatever the node sends, notes when it closes, and
    sends a tick whenever the peer has been quiet for 200 ms, so the node
    never times the connection out while a test waits."""

    def __init__(self, port, name, cookie, creation=0x1234):
        super().__init__(port, timeout=tmo(10))
        self.name = name
        self.creation = creation
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.last_send = time.monotonic()
        self.handshake(name, cookie, creation)
        self.sock.settimeout(0.25)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def own_pid(self, pid_id=1):
        return etf_pid_body(self.name, pid_id, 0, self.creation)

    def _read(self):
        while not self.closed.is_set():
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                chunk = None
            except OSError:
                chunk = b""
            if chunk == b"":
                self.closed.set()
                return
            if time.monotonic() - self.last_send > 0.2:  # nodes under test may use short tick times
                try:
                    self.send_frame(b"")  # a tick
                except OSError:
                    self.closed.set()
                    return

    def send_frame(self, body):
        with self.lock:
            self.sock.sendall(len(body).to_bytes(4, "big") + body)
            self.last_send = time.monotonic()

    def send_frames(self, bodies):
        with self.lock:
            self.sock.sendall(b"".join(len(b).to_bytes(4, "big") + b for b in bodies))
            self.last_send = time.monotonic()

    def close(self):
        self.closed.set()
        super().close()
        self.reader.join(timeout=2)


_marks = [0]


def wait_marker(node, sink, marker, peer, timeout):
    """Waits until worker `sink` printed the message `marker`: True, or
    False if the peer's connection closed first (the node refused
    something it sent before the marker)."""
    deadline = time.monotonic() + timeout
    want = marker.hex()
    while time.monotonic() < deadline:
        if node.pending(sink, "MSG", lambda l: l.kv.get("data") == want):
            node.event(sink, "MSG", lambda l: l.kv.get("data") == want)
            return True
        if peer.closed.is_set():
            return False
        check_alive(node, "while it handled the scripted peer's frames")
        time.sleep(0.01)
    raise Fail("%s: timed out after %.0fs waiting for sync message %r through the scripted peer" %
               (node.tag, timeout, marker))


def check_alive(node, when):
    """Fails, quoting a sanitizer's summary line if any, if the node exited."""
    if node.alive():
        return
    rc = node.p.wait(timeout=tmo(5))
    node.killed = True  # its death is the failure reported here
    summary = [ln for ln in stderr_lines(node) if "SUMMARY:" in ln or "runtime error" in ln]
    raise Fail("%s: the node died (exit status %s%s) %s%s" % (
        node.tag, rc, " = SIGSEGV" if rc == -11 else "", when, (": " + summary[0]) if summary else ""))


class Script:
    """Sends hostile frames one at a time through an authenticated peer,
    each followed by a message to the node's worker `sink` that proves the
    node handled the frame and kept the connection; if the node closes the
    connection instead (refusing the frame is fine), a new one is made for
    the next frame. Records which frames got the connection closed."""

    def __init__(self, ctx, node, sink_pid):
        self.node = node
        self.sink = pid_etf_body(sink_pid)
        self.port = epmd_port(node.name)
        check(self.port, "no port for %s" % node.name)
        self.name = "evil%dt%d@127.0.0.1" % (os.getpid(), ctx.index)
        self.refused = []
        self.peer = AuthPeer(self.port, self.name, node.cookie)

    def own_pid(self, pid_id=1):
        return self.peer.own_pid(pid_id)

    def send(self, what, body):
        self.send_batch(what, [body])

    def send_batch(self, what, bodies):
        check_alive(self.node, "before " + what)
        if self.peer.closed.is_set():
            self.peer.close()
            self.peer = AuthPeer(self.port, self.name, self.node.cookie)
        _marks[0] += 1
        marker = ("sync %d" % _marks[0]).encode()
        try:
            self.peer.send_frames(bodies + [send_sender_msg(self.own_pid(), self.sink, marker)])
            ok = wait_marker(self.node, "sink", marker, self.peer, tmo(15))
        except OSError:
            ok = False
        if not ok:
            check_alive(self.node, "after " + what)
            self.refused.append(what)

    def close(self):
        self.peer.close()


# ---------------------------------------------------------------- floods of handshakes


class Flood:
    """Opens `count` handshake attempts to a port from `concurrency`
    threads; `attempt(sock, i)` speaks on each connected socket. Stops early
    when the node is gone (connection refused, or its process exited)."""

    def __init__(self, node, port, count, attempt, concurrency=12):
        self.node = node
        self.port = port
        self.count = count
        self.attempt = attempt
        self.concurrency = concurrency
        self.next = 0
        self.done = 0
        self.errors = 0
        self.first_error = None
        self.refused = False
        self.mu = threading.Lock()

    def _take(self):
        with self.mu:
            if self.next >= self.count or self.refused:
                return None
            self.next += 1
            return self.next - 1

    def _worker(self):
        while True:
            i = self._take()
            if i is None:
                return
            s = None
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=tmo(10))
                # Close with a reset: no TIME_WAIT, so 70,000 connections do not
                # run out of local ports.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, (1).to_bytes(4, "little") + (0).to_bytes(4, "little"))
                self.attempt(s, i)
                with self.mu:
                    self.done += 1
            except ConnectionRefusedError:
                with self.mu:
                    self.refused = True
            except (OSError, EOFError, Fail) as e:
                with self.mu:
                    self.errors += 1
                    if self.first_error is None:
                        self.first_error = "attempt %d: %s" % (i, e)
                if not self.node.alive():
                    with self.mu:
                        self.refused = True
            finally:
                if s:
                    s.close()

    def run(self):
        t0 = time.monotonic()
        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.seconds = time.monotonic() - t0
        return self


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError("closed by the node after %d of %d bytes" % (len(b), n))
        b += chunk
    return b


def recv_hs(s):
    return recv_exact(s, int.from_bytes(recv_exact(s, 2), "big"))


def wait_fds_settle(node, ceiling, timeout):
    """Waits until the node holds at most `ceiling` descriptors (connections
    the flood left are closed by the node on EOF, reset or handshake
    timeout); returns the count."""
    deadline = time.monotonic() + timeout
    n = proc_fd_count(node.pid)
    while n is not None and n > ceiling and time.monotonic() < deadline:
        time.sleep(0.1)
        n = proc_fd_count(node.pid)
    return n


def stderr_lines(node):
    node.log.flush()
    with open(node.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace").splitlines()


class DialTrap:
    """A listener registered with the port mapper under a node name of its
    own: if the node under test ever connects to that name, the listener
    sees it."""

    def __init__(self, ctx):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.srv.settimeout(0.2)
        self.alive_name = "trap%dt%d" % (os.getpid(), ctx.index)
        self.name = self.alive_name + "@127.0.0.1"
        self.reg = EpmdRegistration(self.alive_name, self.srv.getsockname()[1])
        self.hits = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                s, addr = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(1)
            try:
                first = s.recv(300)
            except OSError:
                first = b""
            self.hits.append((addr, first))
            s.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)
        self.srv.close()
        self.reg.close()
