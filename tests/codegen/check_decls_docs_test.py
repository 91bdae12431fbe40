#!/usr/bin/env python3
"""Proves that check_decls.py fails on an undocumented SNOW_API function.

Runs the check on the real header (it must pass), then on temporary copies
of it in which one declaration lost its doc comment in each way the rule
covers: the comment deleted, separated from the declaration by a blank
line, or turned into a plain /* */ comment. Each copy must fail (exit 1)
and name that function, and only that one.

usage: check_decls_docs_test.py CHECK_DECLS HEADER
"""

import os
import re
import subprocess
import sys
import tempfile

VICTIMS = ["snow_actor_send", "snow_panic", "snow_job_map"]  # plain, noreturn, last


def run_check(check, header):
    r = subprocess.run([sys.executable, check, "--header", header], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def doc_span(lines, name):
    """(first, last) line indexes of the doc comment above `name`'s declaration."""
    decl = next(i for i, ln in enumerate(lines) if "SNOW_API" in ln and re.search(r"\b%s\s*\(" % name, ln))
    last = decl - 1
    first = last
    while not lines[first].lstrip().startswith("/**"):
        first -= 1
    return first, last


def deleted(lines, first, last):
    return lines[:first] + lines[last + 1 :]


def separated(lines, first, last):
    return lines[: last + 1] + [""] + lines[last + 1 :]


def plain_comment(lines, first, last):
    out = list(lines)
    out[first] = out[first].replace("/**", "/* ", 1)
    return out


def main(argv):
    check, header = argv[1], argv[2]
    failures = []
    rc, out = run_check(check, header)
    if rc != 0:
        failures.append("the real header fails the check (exit %d):\n%s" % (rc, out))
    lines = open(header, encoding="utf-8").read().split("\n")
    with tempfile.TemporaryDirectory() as td:
        for name in VICTIMS:
            first, last = doc_span(lines, name)
            for how in (deleted, separated, plain_comment):
                copy = os.path.join(td, "snowrt.h")
                with open(copy, "w", encoding="utf-8") as f:
                    f.write("\n".join(how(lines, first, last)))
                rc, out = run_check(check, copy)
                named = re.findall(r"SNOW_API function (\w+) has no doc comment", out)
                if rc != 1 or named != [name]:
                    failures.append("%s with its comment %s: exit %d, reported %r (want exit 1, [%r]):\n%s"
                                    % (name, how.__name__, rc, named, name, out))
                else:
                    print("ok: %s, comment %s: reported" % (name, how.__name__))
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
