#!/usr/bin/env python3
"""run_doc_commands.py: runs every command of a documentation page.

    run_doc_commands.py PAGE.md REPO_ROOT

Each line of each ```sh block of PAGE.md is a command (lines starting with
'#' are comments; a line ending in '\\' continues on the next). They run in
order with /bin/sh from REPO_ROOT, as a reader would type them; the first
one that exits with a non-zero status fails the test, with its output.
"""
import subprocess
import sys


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


def main():
    page, root = sys.argv[1], sys.argv[2]
    cmds = commands(page)
    if not cmds:
        print("no ```sh commands in %s" % page)
        return 1
    for cmd in cmds:
        print("$ " + cmd, flush=True)
        r = subprocess.run(["/bin/sh", "-c", cmd], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=600)
        sys.stdout.write(r.stdout.decode("utf-8", "replace"))
        if r.returncode != 0:
            print("FAILED (status %d): %s" % (r.returncode, cmd))
            return 1
    print("%d commands of %s ran" % (len(cmds), page))
    return 0


if __name__ == "__main__":
    sys.exit(main())
