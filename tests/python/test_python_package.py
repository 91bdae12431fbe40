#!/usr/bin/env python3
"""test_python_package.py: the snowrt Python package as a user installs it.

    test_python_package.py --cmake CMAKE --build-dir BUILD --package abi/bindings/python

In a temporary directory: installs the built libsnowrt into a prefix and
the package into a fresh virtual environment with pip (pip_venv.py), then
runs python_package_program.py from that environment twice: once finding
the library through $SNOWRT_LIBRARY, once through pkg-config
(PKG_CONFIG_PATH=<prefix>/lib/pkgconfig, no SNOWRT_LIBRARY). Exits 0 when
every step and both runs pass. The interpreter running this script is the
one used for the environment.
"""

import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pip_venv  # noqa: E402
from pip_venv import run  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmake", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--package", required=True, help="abi/bindings/python")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="snowrt-pip-") as tmp:
        venv = pip_venv.make(tmp, args.cmake, args.build_dir, args.package)
        program = os.path.join(tmp, "program.py")
        shutil.copy(os.path.join(HERE, "python_package_program.py"), program)
        base = pip_venv.clean_env()
        print("--- library through $SNOWRT_LIBRARY", flush=True)
        run([venv.python, program, "SNOWRT_LIBRARY", venv.lib], env=dict(base, SNOWRT_LIBRARY=venv.lib), cwd=tmp)
        print("--- library through pkg-config", flush=True)
        run([venv.python, program, "pkg-config", venv.lib], env=dict(base, PKG_CONFIG_PATH=venv.pc_dir), cwd=tmp)
    print("PASS: pip install and both ways of finding the library", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
