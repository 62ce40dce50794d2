#!/usr/bin/python3
"""Turns nccl-tests text output into `collective` records for `tessera compare`.

    nccl_tests_to_jsonl.py OUTPUT.txt [--system PRESET] [--op OP] [--algo ALGO]
                           [--min-bytes N] [--in-place] [--out FILE.jsonl]

OUTPUT.txt is what all_reduce_perf, all_gather_perf, reduce_scatter_perf,
alltoall_perf, broadcast_perf, reduce_perf or sendrecv_perf print. Each result
row becomes one record (the schema of ../shared/peer-data/nccl-tests/README.md):

    {"section": "collective", "system": ..., "op": "all_reduce", "ranks": 8,
     "bytes": 1073741824, "dtype": "float", "busbw_GBps": 481.81,
     "time_us": 3900.0, "algbw_GBps": 275.32, "source": "OUTPUT.txt"}

The op is taken from --op, else from the file name (all_reduce_perf ...), else
from the redop/root columns (sum with root -1: all_reduce is ambiguous, so give
--op). The rank count is the number of "#  Rank" lines (or nGpus x nThread).
--algo adds the algorithm NCCL used (NCCL_ALGO; nccl-tests does not print it).
Out-of-place figures are used unless --in-place. Exit code 2 on input it cannot
read, naming the file and line; the output file is written whole or not at all.
"""
import argparse
import json
import os
import re
import sys
import tempfile

OPS = ["all_reduce", "all_gather", "reduce_scatter", "alltoall", "broadcast", "reduce", "sendrecv"]
ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(.*)$")


def fail(msg):
    print(f"nccl_tests_to_jsonl: {msg}", file=sys.stderr)
    sys.exit(2)


def op_from_name(path):
    base = os.path.basename(path)
    for op in sorted(OPS, key=len, reverse=True):
        if op in base:
            return op
    return None


def parse(path, text, op, system, algo, min_bytes, in_place):
    ranks = 0
    ngpus = nthread = None
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            if re.match(r"^#\s+Rank\s+\d+", line):
                ranks += 1
            m = re.search(r"nThread (\d+) nGpus (\d+)", line)
            if m:
                nthread, ngpus = int(m.group(1)), int(m.group(2))
            continue
        if not line.strip():
            continue
        m = ROW.match(line)
        if not m:
            continue   # NCCL INFO lines and other chatter
        size, _count, dtype, _redop, _root, rest = m.groups()
        fields = rest.split()
        # out-of-place: time algbw busbw #wrong; in-place: the same four again.
        if len(fields) < 3:
            fail(f"{path}:{lineno}: expected time, algbw and busbw after the root column, got {rest!r}")
        off = 4 if in_place else 0
        if len(fields) < off + 3:
            fail(f"{path}:{lineno}: no in-place columns")
        try:
            time_us, algbw, busbw = (float(fields[off]), float(fields[off + 1]), float(fields[off + 2]))
        except ValueError:
            fail(f"{path}:{lineno}: time/algbw/busbw are not numbers: {fields[off:off + 3]}")
        if int(size) < min_bytes:
            continue
        records.append({"section": "collective", "system": system, "op": op, "ranks": None,
                        "bytes": int(size), "dtype": dtype, "busbw_GBps": busbw, "time_us": time_us,
                        "algbw_GBps": algbw, "source": os.path.basename(path)})
        if algo:
            records[-1]["algo"] = algo
    if ranks == 0 and ngpus is not None:
        ranks = ngpus * nthread
    if ranks == 0:
        fail(f"{path}: no '#  Rank' lines and no 'nThread N nGpus M' header: cannot tell the rank count")
    if not records:
        fail(f"{path}: no result rows (lines of size count type redop root time algbw busbw ...)")
    for r in records:
        r["ranks"] = ranks
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output")
    ap.add_argument("--system", default="dgx-h100", help="Tessera system preset the run corresponds to")
    ap.add_argument("--op", choices=OPS)
    ap.add_argument("--algo", choices=["ring", "tree", "nvls", "direct", "halving_doubling", "hierarchical"])
    ap.add_argument("--min-bytes", type=int, default=0)
    ap.add_argument("--in-place", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    try:
        with open(a.output) as f:
            text = f.read()
    except OSError as e:
        fail(f"{a.output}: {e.strerror}")
    op = a.op or op_from_name(a.output)
    if not op:
        fail(f"{a.output}: cannot tell the collective from the file name; give --op ({', '.join(OPS)})")
    lines = "".join(json.dumps(r) + "\n" for r in parse(a.output, text, op, a.system, a.algo, a.min_bytes,
                                                         a.in_place))
    if not a.out:
        sys.stdout.write(lines)
        return
    d = os.path.dirname(os.path.abspath(a.out))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".nccl_tests.")
    with os.fdopen(fd, "w") as f:
        f.write(lines)
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
