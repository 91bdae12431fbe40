#!/usr/bin/env python3
"""test_python_package.py: the snowrt Python package as a user installs it.

    test_python_package.py --cmake CMAKE --build-dir BUILD --package abi/bindings/python

In a temporary directory: installs the built libsnowrt into a prefix with
`cmake --install`, makes a virtual environment (--system-site-packages, so
setuptools comes from the system), installs a copy of the package with
`pip install --no-build-isolation --no-index` (offline), then runs
python_package_program.py from that environment twice: once finding the
library through $SNOWRT_LIBRARY, once through pkg-config
(PKG_CONFIG_PATH=<prefix>/lib/pkgconfig, no SNOWRT_LIBRARY). Exits 0 when
every step and both runs pass. The interpreter running this script is the
one used for the environment.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
STEP_TIMEOUT_S = 120


def run(cmd, env=None, cwd=None):
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    sys.stdout.write(r.stdout + r.stderr)
    if r.returncode != 0:
        raise SystemExit("FAIL: exit status %d from %s" % (r.returncode, cmd[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmake", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--package", required=True, help="abi/bindings/python")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="snowrt-pip-") as tmp:
        prefix = os.path.join(tmp, "prefix")
        run([args.cmake, "--install", args.build_dir, "--prefix", prefix])
        libs = glob.glob(os.path.join(prefix, "lib*", "libsnowrt.so.2"))
        if len(libs) != 1:
            raise SystemExit("FAIL: expected one libsnowrt.so.2 under %s, found %r" % (prefix, libs))
        lib = libs[0]
        pc_dir = os.path.join(os.path.dirname(lib), "pkgconfig")

        # pip builds in the source directory (egg-info): build a copy.
        src = os.path.join(tmp, "src")
        shutil.copytree(args.package, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        venv = os.path.join(tmp, "venv")
        run([sys.executable, "-m", "venv", "--system-site-packages", venv])
        py = os.path.join(venv, "bin", "python")
        run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-cache-dir", "-q", src])

        program = os.path.join(tmp, "program.py")
        shutil.copy(os.path.join(HERE, "python_package_program.py"), program)
        base = {k: v for k, v in os.environ.items()
                if k not in ("SNOWRT_LIBRARY", "SNOWRT_LIB", "PKG_CONFIG_PATH", "PYTHONPATH", "LD_LIBRARY_PATH")}
        base["PYTHONDONTWRITEBYTECODE"] = "1"
        print("--- library through $SNOWRT_LIBRARY", flush=True)
        run([py, program, "SNOWRT_LIBRARY", lib], env=dict(base, SNOWRT_LIBRARY=lib), cwd=tmp)
        print("--- library through pkg-config", flush=True)
        run([py, program, "pkg-config", lib], env=dict(base, PKG_CONFIG_PATH=pc_dir), cwd=tmp)
    print("PASS: pip install and both ways of finding the library", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
