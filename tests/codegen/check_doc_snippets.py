#!/usr/bin/env python3
"""Checks that every code snippet of a Markdown page is real code.

  check_doc_snippets.py --doc PAGE --root SRC --excerpts DIR [--excerpts DIR]
                        [--cc CC] [--build BUILD] [--program FILE.ll]

Each fenced block must name its language, one of:
  llvm  an excerpt of a test program: its lines, in order and with their
        indentation, must appear as consecutive lines of one of the .ll
        files under an --excerpts directory (so it is compiled and run by
        the test that builds that program);
  c     a complete translation unit: compiled with --cc (-std=c11, all
        warnings as errors) against abi/include and codegen-shims;
  sh    commands: run with `sh -e` in a scratch directory that holds a copy
        of --program as prog.ll, with BUILD set to --build; they must exit 0.
Any other block (or one without a language) is an error. Prints one line per
problem and exits 1 if there is any; prints a summary and exits 0 otherwise.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)\s*$")


def blocks(path):
    """(language, first line number, lines) for every fenced block."""
    out = []
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start, body = m.group(1), i + 1, []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i].rstrip())
            i += 1
        if i == len(lines):
            out.append(("unterminated", start, body))
        else:
            out.append((lang, start, body))
        i += 1
    return out


def ll_sources(dirs):
    files = {}
    for d in dirs:
        for dirpath, _, names in os.walk(d):
            for n in sorted(names):
                if n.endswith(".ll"):
                    p = os.path.join(dirpath, n)
                    with open(p) as f:
                        files[p] = [l.rstrip() for l in f.read().split("\n")]
    return files


def excerpt_of(body, files):
    """The file that holds `body` as consecutive lines, or None."""
    n = len(body)
    for path, lines in files.items():
        for i in range(len(lines) - n + 1):
            if lines[i] == body[0] and lines[i:i + n] == body:
                return path
    return None


def check_c(body, cc, root, scratch):
    src = os.path.join(scratch, "snippet.c")
    with open(src, "w") as f:
        f.write("\n".join(body) + "\n")
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(root, "abi", "include"),
           "-I", os.path.join(root, "codegen-shims"), "-c", src, "-o", os.path.join(scratch, "snippet.o")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stdout + r.stderr).strip()


def check_sh(body, build, program, scratch):
    shutil.copy(program, os.path.join(scratch, "prog.ll"))
    env = dict(os.environ, BUILD=build)
    r = subprocess.run(["sh", "-e", "-c", "\n".join(body)], cwd=scratch, env=env, capture_output=True, text=True,
                       timeout=120)
    return None if r.returncode == 0 else ("exit status %d\n%s%s" % (r.returncode, r.stdout, r.stderr)).strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doc", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--excerpts", action="append", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--build")
    ap.add_argument("--program")
    a = ap.parse_args()

    files = ll_sources(a.excerpts)
    problems = []
    counts = {}
    for lang, line, body in blocks(a.doc):
        where = "%s:%d" % (a.doc, line)
        counts[lang] = counts.get(lang, 0) + 1
        if not body:
            problems.append("%s: empty %s block" % (where, lang or "unlabelled"))
        elif lang == "llvm":
            if not excerpt_of(body, files):
                problems.append("%s: llvm block is not an excerpt of any test program (first line: %r)" %
                                (where, body[0]))
        elif lang in ("c", "sh"):
            with tempfile.TemporaryDirectory(prefix="snow-doc-") as scratch:
                if lang == "c":
                    err = check_c(body, a.cc, a.root, scratch)
                elif not (a.build and a.program):
                    err = "sh blocks need --build and --program"
                else:
                    err = check_sh(body, a.build, a.program, scratch)
            if err:
                problems.append("%s: %s block fails:\n    %s" % (where, lang, err.replace("\n", "\n    ")))
        else:
            problems.append("%s: block language %r is not checked (use llvm, c or sh)" % (where, lang))
    for p in problems:
        print(p)
    summary = ", ".join("%d %s" % (n, k or "unlabelled") for k, n in sorted(counts.items()))
    print("%s: %s; %d problem(s)" % (a.doc, summary or "no blocks", len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
