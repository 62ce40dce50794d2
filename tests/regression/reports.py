#!/usr/bin/python3
"""Report regression: a fixed list of tessera commands whose reports must stay
byte-identical across refactors.

    reports.py record --tessera BIN --shared DIR   # (re)writes golden/*.gz from BIN
    reports.py check  --tessera BIN --shared DIR   # exit 1 naming each report that changed

commands.txt holds one command a line: `NAME<TAB>arguments`. In the arguments,
{shared} is the reference-data directory and {out} a fresh output path; a command
whose arguments contain `--out {out}` is judged by the file or directory it
writes, any other by its standard output. The exit code is part of the record.
A golden file that is missing fails the check (it never passes silently).
"""
import argparse
import concurrent.futures
import gzip
import os
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")


def commands():
    out = []
    with open(os.path.join(HERE, "commands.txt")) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, _, args = line.partition("\t")
            if not args:
                sys.exit(f"commands.txt:{n}: expected NAME<TAB>arguments")
            out.append((name, args))
    return out


def run_one(tessera, shared, args):
    """The bytes that stand for one command's result: exit code, then output."""
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "out")
        argv = [tessera] + [a.replace("{shared}", shared).replace("{out}", out_path)
                            for a in shlex.split(args)]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        blob = f"rc={p.returncode}\n".encode()
        if "{out}" in args:
            if os.path.isdir(out_path):
                for f in sorted(os.listdir(out_path)):
                    with open(os.path.join(out_path, f), "rb") as fh:
                        blob += f"== {f}\n".encode() + fh.read()
            elif os.path.exists(out_path):
                with open(out_path, "rb") as fh:
                    blob += fh.read()
        else:
            blob += p.stdout
        if p.returncode not in (0, 1):
            blob += b"stderr:\n" + p.stderr
        return blob


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["record", "check"])
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--only", help="run only the commands whose name contains this")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="commands run at once (default: the CPU count)")
    a = ap.parse_args()
    os.makedirs(GOLDEN, exist_ok=True)
    failed = []
    cmds = [(n, c) for n, c in commands() if not a.only or a.only in n]
    # The commands run in a thread pool (each is its own process); results are
    # taken in file order, so the output does not depend on --jobs.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        blobs = list(pool.map(lambda c: run_one(a.tessera, a.shared, c[1]), cmds))
    for (name, args), blob in zip(cmds, blobs):
        path = os.path.join(GOLDEN, name + ".gz")
        if a.mode == "record":
            # mtime=0: the golden files are byte-for-byte reproducible.
            with open(path, "wb") as fh:
                with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as g:
                    g.write(blob)
            print(f"recorded {name}: {len(blob)} bytes")
            continue
        if not os.path.exists(path):
            failed.append(f"{name}: golden file {path} is missing")
            continue
        with gzip.open(path, "rb") as g:
            want = g.read()
        if want != blob:
            # First differing line, to point at the change.
            wl, bl = want.split(b"\n"), blob.split(b"\n")
            i = next((i for i in range(min(len(wl), len(bl))) if wl[i] != bl[i]), min(len(wl), len(bl)))
            show = lambda v: v[i].decode(errors="replace")[:200] if i < len(v) else "<end>"
            failed.append(f"{name}: report changed at line {i + 1}:\n  golden: {show(wl)}\n  now:    {show(bl)}\n"
                          f"  command: tessera {args}")
    if a.mode == "check":
        for f in failed:
            print("FAIL", f)
        print(f"{len(cmds) - len(failed)} passed, {len(failed)} failed")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
