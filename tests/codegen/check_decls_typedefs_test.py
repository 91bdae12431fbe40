#!/usr/bin/env python3
"""Proves that check_decls.py holds the bindings to the header's callback
typedefs: on temporary copies of the Rust and Python bindings with one
typedef changed (a return type, a parameter) or missing, the check must fail
(exit 1) and name that typedef; on the real bindings it must pass.

usage: check_decls_typedefs_test.py CHECK_DECLS HEADER PY_BINDING RS_BINDING
"""

import os
import subprocess
import sys
import tempfile


def run_check(check, header, flag, binding):
    r = subprocess.run([sys.executable, check, "--header", header, flag, binding], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


# (flag, what, old text, new text, name the report must carry)
CASES = [
    ("--rust", "return type changed",
     "pub type snow_job_fn = unsafe extern \"C\" fn(env: *mut c_void) -> i64;",
     "pub type snow_job_fn = unsafe extern \"C\" fn(env: *mut c_void) -> i32;", "snow_job_fn"),
    ("--rust", "missing",
     "pub type snow_terminate_fn = unsafe extern \"C\" fn(state: *const u8, reason: *const u8);", "",
     "snow_terminate_fn"),
    ("--python", "parameter dropped",
     "SNOW_JOB_MAP_FN = CFUNCTYPE(c_int64, c_void_p, c_int64)", "SNOW_JOB_MAP_FN = CFUNCTYPE(c_int64, c_void_p)",
     "SNOW_JOB_MAP_FN"),
    ("--python", "return type changed",
     "SNOW_MATCH_FN = CFUNCTYPE(c_int, POINTER(snow_msg), c_void_p)",
     "SNOW_MATCH_FN = CFUNCTYPE(c_int64, POINTER(snow_msg), c_void_p)", "SNOW_MATCH_FN"),
]


def main(argv):
    check, header, py, rs = argv[1:5]
    binding = {"--python": py, "--rust": rs}
    failures = []
    for flag, path in binding.items():
        rc, out = run_check(check, header, flag, path)
        if rc != 0:
            failures.append("the real binding %s fails (exit %d):\n%s" % (path, rc, out))
    with tempfile.TemporaryDirectory() as td:
        for flag, what, old, new, name in CASES:
            text = open(binding[flag], encoding="utf-8").read()
            if old not in text:
                failures.append("%s no longer contains %r: update this test" % (binding[flag], old))
                continue
            copy = os.path.join(td, os.path.basename(binding[flag]))
            with open(copy, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new))
            rc, out = run_check(check, header, flag, copy)
            if rc != 1 or name not in out:
                failures.append("%s %s %s: exit %d (want 1 and a report naming it):\n%s" % (flag, name, what, rc, out))
            else:
                print("ok: %s %s %s: reported" % (flag, name, what))
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
