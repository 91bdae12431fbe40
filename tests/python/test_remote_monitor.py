#!/usr/bin/env python3
"""test_remote_monitor.py: a Python program installed with pip monitors a
process on another node.

    test_remote_monitor.py --cmake CMAKE --build-dir BUILD --package abi/bindings/python
                           --program tests/python/remote_monitor

In a temporary directory: the snowrt package in a fresh virtual environment
(pip_venv.py), then the program project (remote_monitor/, which depends on
snowrt) installed into it with pip as well; then runs the command pip made,
<venv>/bin/snowrt-remote-monitor, from outside the source tree with the
library found through pkg-config. The program starts the second node itself
(itself again, as a second OS process) and kills it by its pid. Passes when
it exits 0 having printed the DOWN with the exiting process's reason, the
DOWN noconnection and the NODEDOWN of the killed node; prints
"PASS: snowrt-remote-monitor".
"""

import argparse
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pip_venv  # noqa: E402

RUN_TIMEOUT_S = 180
EXPECTED_LINES = [
    r'remote monitor: DOWN from the process on pyb\d+@127\.0\.0\.1 that exited: custom "told to exit"',
    r"remote monitor: DOWN from the process on the killed node pyb\d+@127\.0\.0\.1: noconnection",
    r"remote monitor: NODEDOWN pyb\d+@127\.0\.0\.1",
    r"remote monitor ok",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmake", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--package", required=True, help="abi/bindings/python")
    ap.add_argument("--program", required=True, help="tests/python/remote_monitor")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="snowrt-pip-remote-") as tmp:
        venv = pip_venv.make(tmp, args.cmake, args.build_dir, args.package)
        venv.install(args.program, tmp)
        command = os.path.join(venv.bindir, "snowrt-remote-monitor")
        if not os.access(command, os.X_OK):
            raise SystemExit("FAIL: pip did not install the command %s" % command)
        out = pip_venv.run([command], env=dict(pip_venv.clean_env(), PKG_CONFIG_PATH=venv.pc_dir), cwd=tmp,
                           timeout=RUN_TIMEOUT_S)
    missing = [p for p in EXPECTED_LINES if not re.search("^" + p + "$", out, re.M)]
    if missing:
        raise SystemExit("FAIL: the program's output lacks %r" % missing)
    print("PASS: snowrt-remote-monitor monitored a process on another node", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
