"""pip_venv.py: a fresh virtual environment with the snowrt package
installed by pip, as a user would have it (used by test_python_package.py
and test_remote_monitor.py).

make(tmp, cmake, build_dir, package) installs the built libsnowrt into
<tmp>/prefix with `cmake --install`, makes <tmp>/venv
(--system-site-packages, so setuptools comes from the system) and installs
a copy of `package` into it with `pip install --no-build-isolation
--no-index` (offline). install() adds another project to the environment
the same way. clean_env() is os.environ without the variables that could
lead snowrt to a library other than the one under test.
"""

import glob
import os
import shutil
import subprocess
import sys

STEP_TIMEOUT_S = 120


def run(cmd, env=None, cwd=None, timeout=STEP_TIMEOUT_S):
    """Runs cmd, prints it and its output; exits with FAIL on an error.
    Returns its output."""
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(r.stdout + r.stderr)
    if r.returncode != 0:
        raise SystemExit("FAIL: exit status %d from %s" % (r.returncode, cmd[0]))
    return r.stdout


class Venv:
    """The environment: python (its interpreter), bindir, lib (the installed
    libsnowrt.so.2) and pc_dir (its pkg-config directory)."""

    def __init__(self, root, lib):
        self.root = root
        self.bindir = os.path.join(root, "bin")
        self.python = os.path.join(self.bindir, "python")
        self.lib = lib
        self.pc_dir = os.path.join(os.path.dirname(lib), "pkgconfig")

    def install(self, project, tmp):
        """pip install of a copy of the project directory (pip builds in the
        source directory: egg-info), offline."""
        src = os.path.join(tmp, "src-" + os.path.basename(os.path.normpath(project)))
        shutil.copytree(project, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        run([self.python, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-cache-dir", "-q", src])


def make(tmp, cmake, build_dir, package):
    prefix = os.path.join(tmp, "prefix")
    run([cmake, "--install", build_dir, "--prefix", prefix])
    libs = glob.glob(os.path.join(prefix, "lib*", "libsnowrt.so.2"))
    if len(libs) != 1:
        raise SystemExit("FAIL: expected one libsnowrt.so.2 under %s, found %r" % (prefix, libs))
    root = os.path.join(tmp, "venv")
    run([sys.executable, "-m", "venv", "--system-site-packages", root])
    venv = Venv(root, libs[0])
    venv.install(package, tmp)
    return venv


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("SNOWRT_LIBRARY", "SNOWRT_LIB", "PKG_CONFIG_PATH", "PYTHONPATH", "LD_LIBRARY_PATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
