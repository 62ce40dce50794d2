#!/usr/bin/python3
"""Docs that run: every command in a fenced code block whose info string is
`sh run` (in README.md and docs/*.md) is executed, and must exit 0 (or the code
its comment states, `# exit 2`). Where the command's trailing comment states a
figure with a unit ("# time 2.065 ms, energy 1.229 J"), the output must contain
that figure as written.

    run_docs.py --build DIR --shared DIR FILE.md...   exit 1 naming each failure
    run_docs.py --self-test                           checks that a wrong figure fails

Commands run with bash in a scratch directory that mirrors the checkout
(every top-level entry linked, `build` -> the build directory, `../shared` ->
the reference data), so that files they write (r.json, reports/) land there.
A line ending in a backslash continues on the next.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FENCE = re.compile(r"^```\s*sh\s+run\s*$")
# A figure: a number (digits, optional thousands commas and decimals) and a unit.
FIGURE = re.compile(r"(?<![\w.])(-?\d[\d,]*(?:\.\d+)?)\s?(ms|us|ns|s|J|W|GHz|MHz|%|TFLOP/s|GB/s|TB/s|cycles)(?![\w/])")
EXIT = re.compile(r"\bexit (\d+)\b")
TIMEOUT_S = 120


def blocks(path):
    """(line number, command, comment) of every command in `sh run` blocks."""
    out = []
    with open(path) as f:
        lines = f.read().split("\n")
    inside = False
    pending, start = "", 0
    for n, line in enumerate(lines, 1):
        if not inside:
            if FENCE.match(line.strip()):
                inside = True
            continue
        if line.strip().startswith("```"):
            inside = False
            continue
        if not pending and (not line.strip() or line.strip().startswith("#")):
            continue
        if not pending:
            start = n
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = pending + line
        pending = ""
        cmd, comment = split_comment(full)
        out.append((start, cmd.strip(), comment))
    return out


def split_comment(line):
    """Splits `cmd  # comment` at the first # outside quotes."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i], line[i + 1:].strip()
    return line, ""


def figures(comment):
    return [f"{num} {unit}" if unit not in ("%",) else f"{num}{unit}" for num, unit in FIGURE.findall(comment)]


def contains_figure(output, fig):
    num, _, unit = fig.partition(" ") if " " in fig else (fig[:-1], "", fig[-1])
    pattern = r"(?<![\d.])" + re.escape(num) + r"\s*" + re.escape(unit) + r"(?![\w])"
    return re.search(pattern, output) is not None


def scratch(build, shared):
    top = tempfile.mkdtemp(prefix="tessera_docs_")
    work = os.path.join(top, "work")
    os.mkdir(work)
    for entry in os.listdir(ROOT):
        if entry in ("build", ".git"):
            continue
        os.symlink(os.path.join(ROOT, entry), os.path.join(work, entry))
    os.symlink(os.path.abspath(build), os.path.join(work, "build"))
    os.symlink(os.path.abspath(shared), os.path.join(top, "shared"))
    return top, work


def run_file(path, work):
    failures, count = [], 0
    rel = os.path.relpath(path, ROOT)
    for line, cmd, comment in blocks(path):
        count += 1
        want_rc = int(EXIT.search(comment).group(1)) if EXIT.search(comment) else 0
        try:
            r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=work, capture_output=True, text=True,
                               timeout=TIMEOUT_S)
            output, rc = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired:
            failures.append(f"{rel}:{line}: `{cmd}` ran past {TIMEOUT_S} s")
            continue
        if rc != want_rc:
            failures.append(f"{rel}:{line}: `{cmd}` exited {rc} (expected {want_rc}): {output.strip()[-400:]}")
            continue
        missing = [fig for fig in figures(comment) if not contains_figure(output, fig)]
        for fig in missing:
            failures.append(f"{rel}:{line}: `{cmd}`: the text states {fig!r}; the output does not show it")
        if not missing:
            print(f"ok   {rel}:{line}: {cmd[:100]}")
    return count, failures


def self_test():
    assert figures("time 2.065 ms, energy 1.229 J") == ["2.065 ms", "1.229 J"]
    assert figures("MAPE 8.4 %") == ["8.4 %"] or figures("MAPE 8.4%") == ["8.4%"]
    assert contains_figure("  time       2.065 ms  (4089097 cycles", "2.065 ms")
    assert not contains_figure("  time       2.065 ms", "2.06 ms")
    assert not contains_figure("  time       12.065 ms", "2.065 ms")
    with tempfile.TemporaryDirectory() as d:
        md = os.path.join(d, "t.md")
        with open(md, "w") as f:
            f.write("```sh run\necho 'time 2.065 ms'   # time 2.065 ms\necho 'time 2.065 ms'   # time 2.07 ms\n"
                    "false   # exit 1\ntrue \\\n  && echo \\\n  done\n```\n    not run\n```sh\nfalse\n```\n")
        count, failures = run_file(md, d)
        assert count == 4, count
        assert len(failures) == 1 and "2.07 ms" in failures[0], failures
    print("self-test passed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build")
    ap.add_argument("--shared")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return 0
    if not a.build or not a.shared or not a.files:
        ap.error("--build, --shared and at least one FILE.md are required")
    if not os.path.isdir(a.shared):
        print(f"FAIL: reference data not found at {a.shared}")
        return 1
    top, work = scratch(a.build, a.shared)
    total, failures = 0, []
    for f in a.files:
        count, fails = run_file(os.path.join(ROOT, f) if not os.path.isabs(f) else f, work)
        total += count
        failures += fails
    subprocess.run(["rm", "-rf", top])
    if total == 0:
        failures.append("no `sh run` block in " + ", ".join(a.files))
    for f in failures:
        print("FAIL", f)
    print(f"{total} commands, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
