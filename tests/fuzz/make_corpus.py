#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_etf (tests/fuzz/corpus/fuzz_etf/): terms
and frame bodies with atoms in the Latin-1 forms where they fit (as
term_to_binary writes them in OTP 25; a peer may send either form), every
tag the codec knows, and the regression inputs of issue 9.

  tests/fuzz/make_corpus.py      (rewrites the files; they are checked in)

Frame bodies are what follows a frame's length prefix: the pass-through byte
112, then the control tuple and payload, each with its version byte.
"""

import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_etf")


def atom(name, latin1=True):
    """ATOM_EXT when the atom fits Latin-1 (as term_to_binary writes it), else UTF-8."""
    try:
        b = name.encode("latin-1") if latin1 else None
    except UnicodeEncodeError:
        b = None
    if b is not None:
        return bytes([100]) + struct.pack(">H", len(b)) + b
    u = name.encode("utf-8")
    return (bytes([119, len(u)]) if len(u) < 256 else bytes([118]) + struct.pack(">H", len(u))) + u


def small_int(v):
    return bytes([97, v])


def integer(v):
    return bytes([98]) + struct.pack(">i", v)


def big(v):
    mag = abs(v)
    digits = mag.to_bytes(max(1, (mag.bit_length() + 7) // 8), "little")
    return bytes([110, len(digits), 1 if v < 0 else 0]) + digits


def pid(node, pid_id, serial=0, creation=1):
    return bytes([88]) + atom(node) + struct.pack(">III", pid_id, serial, creation)


def ref(node, ids, creation=1):
    return bytes([90]) + struct.pack(">H", len(ids)) + atom(node) + struct.pack(">I", creation) + b"".join(
        struct.pack(">I", i) for i in ids)


def tup(*elems):
    if len(elems) < 256:
        return bytes([104, len(elems)]) + b"".join(elems)
    return bytes([105]) + struct.pack(">I", len(elems)) + b"".join(elems)


def lst(*elems, tail=b"\x6a"):
    if not elems and tail == b"\x6a":
        return b"\x6a"
    return bytes([108]) + struct.pack(">I", len(elems)) + b"".join(elems) + tail


def binary(data):
    return bytes([109]) + struct.pack(">I", len(data)) + data


def frame(control, payload=None):
    b = bytes([112, 131]) + control
    if payload is not None:
        b += bytes([131]) + payload
    return b


def nested_claims(size):
    """Issue 9, finding 4: lists nested as deep as the bytes allow, each
    claiming as many elements as bytes remain, padded with []."""
    b = bytearray()
    while len(b) + 5 < size // 2:
        b += bytes([108]) + struct.pack(">I", size - len(b) - 5)
    b += b"\x6a" * (size - len(b))
    return bytes(b)


ERL = "e@127.0.0.1"
SNOW = "s@127.0.0.1"


def seeds():
    me, them = pid(ERL, 90), pid(SNOW, 5, 1)
    mref = ref(ERL, [1, 2, 3])
    yield "atoms", tup(atom("ok"), atom("caf\u00e9"), atom("\u00ff"), atom("\u65e5\u672c"), atom(""),
                       bytes([115, 2]) + b"hi", atom("x" * 255, latin1=False))
    yield "integers", lst(small_int(0), small_int(255), integer(-1), integer(2**31 - 1), big(2**63), big(-2**63),
                          big(2**64 - 1), big(2**80), bytes([111, 0, 0, 0, 1, 0, 7]))
    yield "pids_refs_ports", tup(me, bytes([103]) + atom(ERL) + struct.pack(">IIB", 1, 2, 3), mref,
                                 bytes([114, 0, 2]) + atom(ERL) + bytes([1]) + struct.pack(">II", 4, 5),
                                 bytes([101]) + atom(ERL) + struct.pack(">IB", 9, 1),
                                 bytes([89]) + atom(ERL) + struct.pack(">II", 1, 1),
                                 bytes([120]) + atom(ERL) + struct.pack(">QI", 1, 1))
    yield "containers", tup(lst(), lst(small_int(1), tail=atom("improper")), bytes([107, 0, 3]) + b"abc",
                            bytes([116]) + struct.pack(">I", 1) + atom("k") + binary(b"v"), tup(),
                            bytes([105, 0, 0, 0, 1]) + atom("large"))
    yield "binaries_floats_funs", tup(binary(b""), binary(bytes(range(256))), bytes([77, 0, 0, 0, 1, 3, 0xe0]),
                                      bytes([70]) + struct.pack(">d", 1.5), bytes([99]) + b"1.5".ljust(31, b"\0"),
                                      bytes([113]) + atom("m") + atom("f") + small_int(1))
    # A NEW_FUN_EXT is checked only as an envelope (size counts itself).
    yield "new_fun_envelope", bytes([112]) + struct.pack(">I", 8) + b"\0\0\0\0"
    yield "pid_tuple", bytes([131]) + tup(me, atom("hello"), lst(small_int(1), small_int(2), small_int(3)))
    # Control messages (with their atoms in the Latin-1 forms).
    yield "frame_link", frame(tup(small_int(1), me, them))
    yield "frame_send_sender", frame(tup(small_int(22), me, them), binary(b"hello"))
    yield "frame_reg_send", frame(tup(small_int(6), me, atom(""), atom("srv")), tup(atom("call"), small_int(1)))
    yield "frame_net_kernel_is_auth", frame(
        tup(small_int(6), me, atom(""), atom("net_kernel")),
        tup(atom("$gen_call"), tup(me, lst(atom("alias"), tail=mref)), tup(atom("is_auth"), atom(ERL))))
    yield "frame_monitor_p_latin1_name", frame(tup(small_int(19), me, atom("caf\u00e9"), mref))
    yield "frame_demonitor_p", frame(tup(small_int(20), me, them, mref))
    yield "frame_payload_exit_kill", frame(tup(small_int(24), me, them), atom("kill"))
    yield "frame_payload_exit2_error", frame(tup(small_int(26), me, them), tup(atom("error"), binary(b"boom")))
    yield "frame_payload_monitor_p_exit", frame(tup(small_int(28), me, them, ref(SNOW, [7, 0, 0])),
                                                tup(atom("badarith"), lst()))
    yield "frame_unlink_id", frame(tup(small_int(35), big(2**40), me, them))
    yield "frame_spawn_request", frame(
        tup(small_int(29), mref, me, me, tup(atom("snow"), atom("worker"), small_int(1)),
            lst(atom("link"), atom("monitor"), tup(atom("reply"), atom("yes")))),
        lst(binary(b"label\0")))
    yield "frame_spawn_reply", frame(tup(small_int(31), ref(SNOW, [7, 0, 0]), them, small_int(1), me))
    yield "frame_newer_otp_extra_elements", frame(tup(small_int(1), me, them, atom("extra"), lst(), small_int(9),
                                                      atom("more")))
    # Issue 9, finding 5: exit(P, {custom, <<255>>}) and a Latin-1 atom
    # reason from erl must never come back out as a malformed UTF-8 atom.
    yield "finding5_custom_ff", frame(tup(small_int(26), me, them), tup(atom("custom"), binary(b"\xff")))
    yield "finding5_latin1_atom_reason", frame(tup(small_int(24), me, them), atom("\u00ff"))
    # Issue 9, finding 8: {Pid, X} with X 300 deep.
    yield "finding8_pid_then_300_deep", bytes([131, 104, 2]) + me + b"\x68\x01" * 300 + b"\x6a"
    # Issue 9, finding 4: 48 KB of nested claims (the tree decoder needed
    # gigabytes and seconds for it), alone and as an EXIT reason.
    yield "finding4_nested_claims", nested_claims(48 * 1024)
    yield "finding4_in_exit_frame", frame(tup(small_int(3), me, them, nested_claims(32 * 1024)))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))
    for name, data in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(os.listdir(OUT)), OUT))


if __name__ == "__main__":
    main()
