#!/usr/bin/env python3
"""run_doc_commands.py: runs every command of a documentation page.

    run_doc_commands.py PAGE.md DIR [--file NAME=SOURCE ...]
                        [--substitute OLD NEW ...] [--env NAME=VALUE ...]

Each line of each ```sh block of PAGE.md is a command (lines starting with
'#' are comments; a line ending in '\\' continues on the next). They run in
order in one /bin/sh -e, as a reader types them into one terminal (an
`export` or a `cd` holds for the commands after it), from DIR; the first
one that exits with a non-zero status fails the test, with its output.

For a page written for a reader's own project (docs/using.md):
  --file NAME=SOURCE   DIR is then a fresh temporary directory (DIR names
                       it: it is created under the system's temporary
                       directory with DIR as its prefix) holding a copy of
                       SOURCE (a file or a directory) as NAME (a relative
                       path): the reader's files the page uses, and
                       directories that the commands write into (pip
                       builds in the project's directory);
  --substitute OLD NEW every OLD in a command becomes NEW (in order, after
                       {workdir} in NEW becomes the working directory):
                       where the page names a place of the reader's, such as
                       an install prefix, the test's own one;
  --env NAME=VALUE     set for every command ({workdir} as above).
Each substitution must apply to some command, so that a page that drops a
command the test relies on fails it. Prints "N commands of PAGE ran" on
success.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

TIMEOUT_S = 1200


def commands(page):
    out, in_block, pending = [], False, ""
    for line in open(page, encoding="utf-8"):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_block = stripped == "```sh"
            continue
        if not in_block or (not pending and (not stripped or stripped.startswith("#"))):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        out.append(pending + stripped)
        pending = ""
    return out


def substituted(cmds, pairs):
    unused = []
    for old, new in pairs:
        if not any(old in c for c in cmds):
            unused.append(old)
        cmds = [c.replace(old, new) for c in cmds]
    return cmds, unused


def script(cmds):
    """One shell script: each command announced ("$ cmd") before it runs."""
    lines = ["set -e"]
    for c in cmds:
        lines.append("printf '%%s\\n' %s" % shlex.quote("$ " + c))
        lines.append(c)
    return "\n".join(lines) + "\n"


def run(page, workdir, args):
    cmds = commands(page)
    if not cmds:
        print("no ```sh commands in %s" % page)
        return 1
    pairs = [(old, new.replace("{workdir}", workdir)) for old, new in args.substitute or []]
    cmds, unused = substituted(cmds, pairs)
    if unused:
        print("FAILED: %s no longer has %r (the test substitutes it)" % (page, unused))
        return 1
    env = dict(os.environ)
    for item in args.env or []:
        name, _, value = item.partition("=")
        env[name] = value.replace("{workdir}", workdir)
    r = subprocess.run(["/bin/sh", "-c", script(cmds)], cwd=workdir, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=TIMEOUT_S)
    sys.stdout.write(r.stdout.decode("utf-8", "replace"))
    if r.returncode != 0:
        print("FAILED (status %d): the last command shown" % r.returncode)
        return 1
    print("%d commands of %s ran" % (len(cmds), page))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("dir")
    ap.add_argument("--file", action="append", help="NAME=SOURCE: a file of the reader's, in a fresh DIR")
    ap.add_argument("--substitute", nargs=2, action="append", metavar=("OLD", "NEW"))
    ap.add_argument("--env", action="append", help="NAME=VALUE")
    args = ap.parse_args()
    if not args.file:
        return run(args.page, args.dir, args)
    workdir = tempfile.mkdtemp(prefix=args.dir)
    try:
        for item in args.file:
            name, _, source = item.partition("=")
            target = os.path.join(workdir, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.isdir(source):
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            else:
                shutil.copy(source, target)
        return run(args.page, workdir, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
