#!/usr/bin/env python3
"""test_check_decls_rust.py: check_decls.py --rust catches what it must.

    test_check_decls_rust.py --check-decls codegen-shims/check_decls.py \
        --header abi/include/snowrt.h --rust abi/bindings/rust/snowrt-sys/src/lib.rs

The declarations as they are must pass. Then each mutation below, applied
to a copy, must fail the check (exit status 1) with a MISMATCH line naming
the problem: a missing function, a wrong return type, a wrong parameter
type, a plain `extern "C"` block (an error in the 2024 edition), an
extern_c! macro whose modern arm is a plain block, a wrong struct field
and a wrong constant. Exits 0 when every case behaves.
"""

import argparse
import os
import subprocess
import sys
import tempfile

# (name, text to replace, replacement, expected words in a MISMATCH line)
MUTATIONS = [
    ("missing function", "    pub fn snow_node_connect(node: *const c_char, len: u64) -> i64;\n", "",
     "lacks snow_node_connect"),
    ("wrong return type", "pub fn snow_node_stop() -> i64;", "pub fn snow_node_stop() -> i32;",
     "snow_node_stop returns i32"),
    ("wrong parameter type", "pub fn snow_timer_sleep(ms: i64);", "pub fn snow_timer_sleep(ms: i32);",
     "snow_timer_sleep takes (i32)"),
    ("plain extern block", "extern_c! {\n", 'extern "C" {\n', 'plain `extern "C"` block'),
    ("plain block in the modern macro arm",
     '    ($($decl:tt)*) => { unsafe extern "C" { $($decl)* } };',
     '    ($($decl:tt)*) => { extern "C" { $($decl)* } };', "extern_c! needs two macro_rules! arms"),
    ("wrong struct field", "    pub stack_size: u64,", "    pub stack_size: u32,", "struct snow_spawn_opts fields"),
    ("wrong constant", "pub const SNOW_ETIMEDOUT: i64 = -10;", "pub const SNOW_ETIMEDOUT: i64 = -11;",
     "SNOW_ETIMEDOUT = -11"),
]


def run_check(args, path):
    r = subprocess.run([sys.executable, args.check_decls, "--header", args.header, "--rust", path],
                       capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-decls", required=True)
    ap.add_argument("--header", required=True)
    ap.add_argument("--rust", required=True)
    args = ap.parse_args()
    original = open(args.rust, encoding="utf-8").read()
    failures = 0
    rc, out = run_check(args, args.rust)
    if rc != 0:
        print("FAIL the declarations as they are do not pass:\n" + out)
        return 1
    print("ok   the declarations as they are pass")
    with tempfile.TemporaryDirectory(prefix="snowrt-check-decls-") as tmp:
        for name, old, new, expected in MUTATIONS:
            if original.count(old) != 1:
                print("FAIL %s: the text to mutate is not in %s exactly once: %r" % (name, args.rust, old))
                failures += 1
                continue
            path = os.path.join(tmp, "lib.rs")
            with open(path, "w", encoding="utf-8") as f:
                f.write(original.replace(old, new))
            rc, out = run_check(args, path)
            hit = any(line.startswith("MISMATCH") and expected in line for line in out.splitlines())
            if rc == 1 and hit:
                print("ok   %s is caught" % name)
            else:
                print("FAIL %s: exit %d, no MISMATCH with %r:\n%s" % (name, rc, expected, out))
                failures += 1
    print("%d case(s) failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
