#!/usr/bin/env python3
"""TLS distribution interop: libsnowrt nodes (tests/dist/snow_node.c) with
TLS on and real Erlang nodes started with -proto_dist inet_tls
-ssl_dist_optfile, with certificates the test makes for each run with the
openssl command (a CA, a node certificate it signed, and a second CA with a
certificate of its own for the wrong-certificate cases).

  test_tls.py <path to snow_node> [name filters...]

Skips (prints "SKIP interop: ...", then "0 passed, 0 failed, 1 skipped",
exit 0) when erl, erlc or openssl are missing. Output as
tests/interop/test_interop.py, whose erl peer (snowpeer.erl) it drives.

Scenarios: erl_to_snow (erl pings a TLS libsnowrt node, messages both
ways, links and monitors, node down when our node dies), snow_to_erl
(snow_node_connect to erl, messages, monitor, node down when erl leaves),
settings_through_variables (the single SNOW_DIST_TLS_* variables instead of
an optfile), wrong_certificate (a certificate signed by another CA is
refused both ways, by us and by erl, and the nodes stay up: a good peer
still connects), plain_peer_refused (a plain TCP node and a TLS node do not
connect, in either role), unusable_settings (snow_node_start fails with
SNOW_ETLS).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "dist"))
sys.path.insert(0, HERE)

from nodelib import check, tmo  # noqa: E402
from test_interop import (ErlNode, down_and_exit, erl_proc_watched_by_snow, hx, interop_runner, rp,  # noqa: E402
                          snow_proc_watched_by_erl)

SNOW_ETLS = "-21"


# ---------------------------------------------------------------- certificates


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stderr))


class Pki:
    """Certificates for one run, in a temporary directory: ca (trusted by
    every good node), good (signed by ca, for 127.0.0.1), other_ca and
    rogue (signed by other_ca, also for 127.0.0.1). Each certificate is
    <name>.pem with its key in <name>.key."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="snow-tls-pki-")
        for ca in ("ca", "other_ca"):
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2", "-subj", "/CN=snowrt test " + ca,
                    cwd=self.dir)
        ext = os.path.join(self.dir, "node.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n"
                    "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\n")
        for name, ca in (("good", "ca"), ("rogue", "other_ca")):
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    name + ".key", "-out", name + ".csr", "-subj", "/CN=127.0.0.1", cwd=self.dir)
            openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                    "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", name + ".pem", cwd=self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def optfile(self, cert, ca="ca"):
        """An ssl_dist.conf for certificate `cert` trusting `ca`, verifying
        the peer on both sides (erl and libsnowrt read the same file)."""
        side = ('{certfile, "%s"}, {keyfile, "%s"}, {cacertfile, "%s"}, {verify, verify_peer}'
                % (self.path(cert + ".pem"), self.path(cert + ".key"), self.path(ca + ".pem")))
        text = ("%% written by test_tls.py\n"
                "[{server, [%s, {fail_if_no_peer_cert, true}]},\n"
                " {client, [%s]}].\n" % (side, side))
        path = self.path("%s-%s.conf" % (cert, ca))
        with open(path, "w") as f:
            f.write(text)
        return path

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


PKI = None


def tls_erl(ctx, short, cert="good", ca="ca"):
    return ErlNode(ctx, ctx.uname(short), args=["-proto_dist", "inet_tls", "-ssl_dist_optfile",
                                                PKI.optfile(cert, ca)])


def tls_snow(ctx, short, cert="good", ca="ca", **kw):
    return ctx.node(short, env={"SNOW_DIST_TLS_OPTFILE": PKI.optfile(cert, ca)}, **kw)


def pings(e, node):
    return e.cmd("ping", "w", node).args[0]


def check_good_pair_connects(ctx, s):
    """A good erl node reaches TLS node s, and s reaches it: the node is
    unharmed by whatever came before."""
    e = tls_erl(ctx, "eok")
    e.spawn("w")
    check(pings(e, s.name) == "pong", "a good erl node pings %s: pang" % s.name)
    s.spawn("ok")
    e2 = tls_erl(ctx, "eok2")
    ln = s.cmd("connect", "ok", e2.name)
    check(ln.args[0] == "0", "%s connects to a good erl node: %s" % (s.name, ln.raw))


# ---------------------------------------------------------------- both directions


def t_erl_to_snow(ctx):
    e = tls_erl(ctx, "e")
    s = tls_snow(ctx, "s")
    s.spawn("all")
    s.cmd("nodemonall", "all", 1)
    e.spawn("w", trap=True)
    e.cmd("monitor_nodes", "w")
    check(pings(e, s.name) == "pong", "net_adm:ping over TLS: pang")
    up = s.event("all", "NODEUP")
    check(up.kv.get("node") == e.name, "NODEUP node %s" % up.kv.get("node"))
    # Messages both ways.
    p = s.spawn("p")
    e.cmd("send", "w", p, hx("over tls"))
    m = s.event("p", "MSG")
    check(m.kv.get("data") == hx("over tls"), "erl -> snow message bytes")
    pe = e.cmd("pid", "w").args[0]
    s.cmd("send", "p", pe, hx("and back"))
    m = e.event("w", "MSG", lambda l: l.kv.get("data") == hx("and back"))
    # Links and monitors: our process dies, erl sees it.
    q, ref = snow_proc_watched_by_erl(e, s, "q")
    s.cmd("kill", "q")
    down, ex = down_and_exit(e, "w", "q", ref)
    check(rp(down) == "killed" and rp(ex) == "killed", "erl saw %s / %s" % (rp(down), rp(ex)))
    # Our node dies: erl's link and monitor fire with noconnection, and
    # erl reports the node down.
    r, ref = snow_proc_watched_by_erl(e, s, "r")
    s.kill(signal.SIGKILL)
    down, ex = down_and_exit(e, "w", "r", ref)
    check(rp(down) == "noconnection" and rp(ex) == "noconnection", "erl saw %s / %s" % (rp(down), rp(ex)))
    nd = e.event("w", "NODEDOWN")
    check(nd.kv.get("node") == s.name, "erl NODEDOWN node %s" % nd.kv.get("node"))


def t_snow_to_erl(ctx):
    e = tls_erl(ctx, "e")
    s = tls_snow(ctx, "s")
    e.spawn("w")
    e.cmd("monitor_nodes", "w")
    s.spawn("c", trap=True)
    s.cmd("nodemon", "c", e.name)
    ln = s.cmd("connect", "c", e.name)
    check(ln.args[0] == "0", "snow_node_connect over TLS: %s" % ln.raw)
    up = e.event("w", "NODEUP")
    check(up.kv.get("node") == s.name, "erl nodeup %s" % up.kv.get("node"))
    pe = e.spawn("target")
    s.cmd("send", "c", pe, hx("snow to erl"))
    m = e.event("target", "MSG")
    check(m.kv.get("data") == hx("snow to erl"), "snow -> erl message bytes")
    # An erl process we link to and monitor dies.
    pe, ref = erl_proc_watched_by_snow(e, s, "c", "t")
    e.cmd("kill", "t")
    down, ex = down_and_exit(s, "c", "t", ref)
    check(down.kv.get("reason") == "killed" and ex.kv.get("reason") == "killed",
          "snow saw %s / %s" % (down.raw, ex.raw))
    # A large message crosses intact (many TLS records).
    big = e.spawn("big")
    ln = s.cmd("sendbig", "c", big, 256 << 10)
    check(ln.args[0] == "0", "sendbig: %s" % ln.raw)
    m = e.event("big", "MSG", desc="the 256 KiB message")
    check(m.kv.get("len") == str(256 << 10), "256 KiB message arrived as %s bytes" % m.kv.get("len"))
    # erl leaves: links, monitors and the node monitor fire.
    pe, ref = erl_proc_watched_by_snow(e, s, "c", "t2")
    e.kill(signal.SIGKILL)
    down, ex = down_and_exit(s, "c", "t2", ref)
    check(down.kv.get("reason") == "noconnection", "DOWN %s" % down.raw)
    nd = s.event("c", "NODEDOWN")
    check(nd.kv.get("node") == e.name, "NODEDOWN node %s" % nd.kv.get("node"))


def t_settings_through_variables(ctx):
    """The single variables (no optfile) configure the same: certificate,
    key, CA, verification."""
    env = {"SNOW_DIST_TLS": "1", "SNOW_DIST_TLS_CERTFILE": PKI.path("good.pem"),
           "SNOW_DIST_TLS_KEYFILE": PKI.path("good.key"), "SNOW_DIST_TLS_CACERTFILE": PKI.path("ca.pem"),
           "SNOW_DIST_TLS_VERIFY": "verify_peer", "SNOW_DIST_TLS_FAIL_IF_NO_PEER_CERT": "true"}
    s = ctx.node("s", env=env)
    e = tls_erl(ctx, "e")
    e.spawn("w")
    check(pings(e, s.name) == "pong", "erl pings a node configured by variables: pang")
    s.spawn("c")
    e2 = tls_erl(ctx, "e2")
    ln = s.cmd("connect", "c", e2.name)
    check(ln.args[0] == "0", "a node configured by variables connects to erl: %s" % ln.raw)


# ---------------------------------------------------------------- refusals


def t_wrong_certificate(ctx):
    """Certificates signed by another CA are refused both ways, whoever
    connects, and refusing them harms no node."""
    good = tls_snow(ctx, "good")
    good.spawn("c")
    # An erl node with a certificate from the other CA (it trusts ours):
    # our node refuses its certificate, as server and as client.
    rogue_erl = tls_erl(ctx, "rogueerl", cert="rogue")
    rogue_erl.spawn("w")
    check(pings(rogue_erl, good.name) == "pang", "erl with a foreign certificate got pong from us")
    ln = good.cmd("connect", "c", rogue_erl.name, ok=False)
    check(ln.args[0] == SNOW_ETLS, "connect to erl with a foreign certificate: %s (want %s)" % (ln.raw, SNOW_ETLS))
    # Our node with a certificate from the other CA: erl refuses it, as
    # server and as client.
    erl = tls_erl(ctx, "e")
    erl.spawn("w")
    rogue = tls_snow(ctx, "rogue", cert="rogue")
    rogue.spawn("c")
    ln = rogue.cmd("connect", "c", erl.name, ok=False)
    check(ln.args[0] == SNOW_ETLS, "erl accepted our foreign certificate: %s (want %s)" % (ln.raw, SNOW_ETLS))
    check(pings(erl, rogue.name) == "pang", "erl accepted our foreign certificate as a server")
    check(good.alive() and rogue.alive(), "a node died refusing a certificate")
    check(pings(erl, good.name) == "pong", "the good pair no longer connects")
    check_good_pair_connects(ctx, good)


def t_plain_peer_refused(ctx):
    """A TLS node and a plain TCP node do not connect, in either role, and
    both stay up."""
    tls = tls_snow(ctx, "tls")
    plain = ctx.node("plain")
    plain_erl = ErlNode(ctx, ctx.uname("plainerl"))
    plain_erl.spawn("w")
    check(pings(plain_erl, tls.name) == "pang", "plain erl got pong from a TLS node")
    tls.spawn("c")
    ln = tls.cmd("connect", "c", plain_erl.name, ok=False)
    check(ln.args[0] != "0", "a TLS node connected to plain erl")
    plain.spawn("c")
    ln = plain.cmd("connect", "c", tls.name, ok=False)
    check(ln.args[0] != "0", "a plain node connected to a TLS node")
    ln = tls.cmd("connect", "c", plain.name, ok=False)
    check(ln.args[0] != "0", "a TLS node connected to a plain node")
    tls_e = tls_erl(ctx, "tlserl")
    tls_e.spawn("w")
    check(pings(tls_e, plain.name) == "pang", "TLS erl got pong from a plain node")
    check(plain.alive() and tls.alive(), "a node died refusing a peer")
    check(pings(plain_erl, plain.name) == "pong", "the plain pair no longer connects")
    check_good_pair_connects(ctx, tls)


def t_unusable_settings(ctx):
    """snow_node_start refuses TLS settings it cannot use with SNOW_ETLS."""
    bad_optfile = PKI.path("bad.conf")
    with open(bad_optfile, "w") as f:
        f.write('[{server, [{certfile, "%s"}, {verify_fun, {m, f, []}}]}].\n' % PKI.path("good.pem"))
    cases = [
        ("no certificate", {"SNOW_DIST_TLS": "1"}),
        ("missing file", {"SNOW_DIST_TLS_OPTFILE": PKI.path("absent.conf")}),
        ("unsupported option", {"SNOW_DIST_TLS_OPTFILE": bad_optfile}),
        ("key of another certificate", {"SNOW_DIST_TLS": "1", "SNOW_DIST_TLS_CERTFILE": PKI.path("good.pem"),
                                        "SNOW_DIST_TLS_KEYFILE": PKI.path("rogue.key"),
                                        "SNOW_DIST_TLS_CACERTFILE": PKI.path("ca.pem")}),
        ("verify_peer without a CA", {"SNOW_DIST_TLS": "1", "SNOW_DIST_TLS_CERTFILE": PKI.path("good.pem"),
                                      "SNOW_DIST_TLS_KEYFILE": PKI.path("good.key")}),
    ]
    for i, (what, env) in enumerate(cases):
        n = ctx.node("bad%d" % i, env=env, expect_ready=False)
        ln = n.wait_line(lambda l: l.kind in ("ready", "startfail"), tmo(15), "startfail")
        n.killed = True  # exits with status 2 by design
        check(ln.kind == "startfail" and ln.label == SNOW_ETLS, "%s: %s (want startfail %s)" % (what, ln.raw,
                                                                                              SNOW_ETLS))


def main():
    global PKI
    runner = interop_runner("tls", "test_tls.py", tools=("erl", "erlc", "openssl"))
    if isinstance(runner, int):
        return runner
    PKI = Pki()
    runner.add("erl_to_snow", t_erl_to_snow)
    runner.add("snow_to_erl", t_snow_to_erl)
    runner.add("settings_through_variables", t_settings_through_variables)
    runner.add("wrong_certificate", t_wrong_certificate)
    runner.add("plain_peer_refused", t_plain_peer_refused)
    runner.add("unusable_settings", t_unusable_settings)
    try:
        return runner.run(sys.argv[2:])
    finally:
        shutil.rmtree(runner.beamdir, ignore_errors=True)
        PKI.remove()


if __name__ == "__main__":
    sys.exit(main())
