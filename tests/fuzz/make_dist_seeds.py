#!/usr/bin/env python3
"""Writes the seed corpora of the distribution fuzz targets.

tests/fuzz/corpus/fuzz_dist_reader/: inputs for fuzz_dist_reader ([start][chunk]
then what the peer sends; see that file's header), one per handshake step
and per control message the reader implements; pids of this node use the
node name "fz@h" (the target points them at live processes).
tests/fuzz/corpus/fuzz_epmd/: port mapper replies.

Run it from anywhere; it rewrites both directories.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def atom(a):
    b = a.encode()
    return bytes([119, len(b)]) + b


def latin1_atom(a):
    b = a.encode("latin-1")
    return bytes([100]) + struct.pack(">H", len(b)) + b


def pid(node, pid_id, serial=0, creation=7):
    return bytes([88]) + atom(node) + struct.pack(">III", pid_id, serial, creation)


def small_int(i):
    return bytes([97, i])


def tup(*items):
    return bytes([104, len(items)]) + b"".join(items)


def lst(*items):
    if not items:
        return bytes([106])
    return bytes([108]) + struct.pack(">I", len(items)) + b"".join(items) + bytes([106])


def binary(b):
    return bytes([109]) + struct.pack(">I", len(b)) + b


def ref(node, creation=7, ids=(1, 2, 3)):
    return bytes([90]) + struct.pack(">H", len(ids)) + atom(node) + struct.pack(">I", creation) + \
        b"".join(struct.pack(">I", i) for i in ids)


def frame(control, payload=None):
    body = bytes([112, 131]) + control
    if payload is not None:
        body += bytes([131]) + payload
    return struct.pack(">I", len(body)) + body


def header_frame(control, payload=b""):
    """A frame in header form (peers with fragments): [131][68][0], then
    the terms without version bytes."""
    body = bytes([131, 68, 0]) + control + payload
    return struct.pack(">I", len(body)) + body


def fragments(seq, control, payload, size):
    """One message as a list of fragment frames of `size` payload bytes each."""
    parts = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    out = []
    for i, part in enumerate(parts):
        head = bytes([131, 69 if i == 0 else 70]) + struct.pack(">QQ", seq, len(parts) - i)
        body = head + (bytes([0]) + control if i == 0 else b"") + part
        out.append(struct.pack(">I", len(body)) + body)
    return out


def hs(body):
    return struct.pack(">H", len(body)) + body


PEER = pid("peer@h", 1)
OURS = [pid("fz@h", i) for i in range(4)]
FLAGS = (1 << 37) - 1

SEEDS = {
    # start 0: incoming, awaiting the name
    "name": bytes([0, 0]) + hs(b"N" + struct.pack(">QI", FLAGS, 7) + struct.pack(">H", 6) + b"peer@h"),
    "name_then_reply": bytes([0, 3]) + hs(b"N" + struct.pack(">QI", FLAGS, 7) + struct.pack(">H", 6) + b"peer@h") +
    hs(b"r" + struct.pack(">I", 5) + bytes(16)),
    "version5_name": bytes([0, 0]) + hs(b"n" + struct.pack(">HI", 5, 0) + b"peer@h"),
    # start 1: our outgoing connection, awaiting the status
    "status_ok_challenge": bytes([1, 0]) + hs(b"sok") +
    hs(b"N" + struct.pack(">QII", FLAGS, 99, 7) + struct.pack(">H", 6) + b"peer@h") + hs(b"a" + bytes(16)),
    "status_alive": bytes([1, 1]) + hs(b"salive"),
    "status_nok": bytes([1, 0]) + hs(b"snok"),
    # start 2: up
    "tick": bytes([2, 0]) + struct.pack(">I", 0),
    "link": bytes([2, 0]) + frame(tup(small_int(1), PEER, OURS[0])),
    "send_sender": bytes([2, 0]) + frame(tup(small_int(22), PEER, OURS[1]), binary(b"hello")),
    "send_term": bytes([2, 0]) + frame(tup(small_int(2), atom(""), OURS[2]), tup(atom("x"), lst(small_int(1)))),
    "reg_send": bytes([2, 0]) + frame(tup(small_int(6), PEER, atom(""), atom("reg")), binary(b"hi")),
    "net_kernel_call": bytes([2, 0]) + frame(tup(small_int(6), PEER, atom(""), atom("net_kernel")),
                                              tup(atom("$gen_call"), tup(PEER, ref("peer@h")),
                                                  tup(atom("is_auth"), atom("peer@h")))),
    "exit": bytes([2, 0]) + frame(tup(small_int(1), PEER, OURS[1])) +
    frame(tup(small_int(3), PEER, OURS[1], tup(atom("custom"), binary(b"\xff")))),
    "exit2": bytes([2, 0]) + frame(tup(small_int(8), PEER, OURS[3], atom("normal"))),
    "payload_exit2_kill": bytes([2, 0]) + frame(tup(small_int(26), PEER, OURS[2]), atom("kill")),
    "monitor_pid": bytes([2, 0]) + frame(tup(small_int(19), PEER, OURS[0], ref("peer@h"))) +
    frame(tup(small_int(20), PEER, OURS[0], ref("peer@h"))),
    "monitor_name": bytes([2, 0]) + frame(tup(small_int(19), PEER, atom("reg"), ref("peer@h", ids=(9, 9, 9)))),
    "monitor_latin1": bytes([2, 0]) + frame(tup(small_int(19), PEER, latin1_atom("r\xe9g"),
                                                 bytes([90]) + struct.pack(">H", 1) + latin1_atom("peer@h") +
                                                 struct.pack(">II", 7, 1))),
    "monitor_exit": bytes([2, 0]) + frame(tup(small_int(21), PEER, OURS[0], ref("fz@h"), atom("noproc"))),
    "unlink_id": bytes([2, 0]) + frame(tup(small_int(1), PEER, OURS[0])) +
    frame(tup(small_int(35), small_int(5), PEER, OURS[0])) + frame(tup(small_int(36), small_int(5), PEER, OURS[0])),
    "spawn_request": bytes([2, 0]) + frame(tup(small_int(29), ref("peer@h"), PEER, PEER,
                                              tup(atom("snow"), atom("worker"), small_int(1)), lst(atom("link"))),
                                          lst(binary(b"args"))),
    "spawn_reply": bytes([2, 0]) + frame(tup(small_int(31), ref("fz@h"), OURS[0], small_int(0), PEER)),
    "link_empty_node": bytes([2, 0]) + frame(tup(small_int(1), pid("", 1), OURS[0])),
    "link_other_node": bytes([2, 0]) + frame(tup(small_int(1), pid("x@10.255.255.1", 1), OURS[0])),
    "send_to_other_node": bytes([2, 0]) + frame(tup(small_int(2), atom(""), pid("y@h", 1)), binary(b"relay")),
    "deep_payload": bytes([2, 4]) + frame(tup(small_int(22), PEER, OURS[1]), bytes([104, 1]) * 300 + bytes([106])),
    # Header form and fragments (DFLAG_FRAGMENTS): a message in header form,
    # two sequences interleaved, then a continuation out of order.
    "header_form": bytes([2, 0]) + header_frame(tup(small_int(22), PEER, OURS[1]), binary(b"header")) +
    header_frame(tup(small_int(1), PEER, OURS[0])),
    "fragments_interleaved": bytes([2, 7]) + b"".join(
        a + b for a, b in zip(fragments(1, tup(small_int(22), PEER, OURS[1]), binary(bytes(range(200))), 64),
                              fragments(2, tup(small_int(2), atom(""), OURS[2]), tup(atom("big"), binary(b"z" * 150)),
                                        50))),
    "fragments_out_of_order": bytes([2, 0]) + b"".join(
        fragments(3, tup(small_int(22), PEER, OURS[1]), binary(b"q" * 300), 100)[::-1]),
}

EPMD = {
    "alive2_x_ok": bytes([118, 0, 0, 0, 0, 7]),
    "alive2_ok": bytes([121, 0, 0, 7]),
    "alive2_taken": bytes([118, 1]),
    "port2_ok": bytes([119, 0, 0x23, 0x28, 77, 0, 0, 6, 0, 6, 0, 4]) + b"peer" + bytes([0, 0]),
    "port2_unknown": bytes([119, 1]),
}


def write(dirname, seeds):
    d = os.path.join(HERE, "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("fuzz_dist_reader", SEEDS)
    write("fuzz_epmd", EPMD)
