#!/usr/bin/python3
"""Seed corpus of one fuzz target, gathered from the repository and ../shared.

    corpus.py TARGET OUT_DIR --source DIR --shared DIR

Copies small files (or, for JSON lines, single records) that exercise TARGET's
parser into OUT_DIR, plus the checked-in seeds of tests/fuzz/seeds/TARGET.
"""
import argparse
import glob
import hashlib
import os
import shutil


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("out")
    ap.add_argument("--source", required=True)
    ap.add_argument("--shared", required=True)
    a = ap.parse_args()
    src, shared = a.source, a.shared
    os.makedirs(a.out, exist_ok=True)

    def add_bytes(data):
        if len(data) > 64 * 1024:
            return
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(data)

    def add_files(pattern, limit=200):
        for p in sorted(glob.glob(pattern, recursive=True))[:limit]:
            with open(p, "rb") as f:
                add_bytes(f.read())

    t = a.target
    add_files(os.path.join(src, "tests/fuzz/seeds", t, "*"))
    if t == "hw_yaml":
        add_files(os.path.join(src, "configs/hw/*.yaml"))
    elif t == "json_trace":
        add_files(os.path.join(src, "tests/**/*.json"))
    elif t == "scalesim_csv":
        add_files(os.path.join(src, "tests/systolic/data/*.csv"))
        add_files(os.path.join(shared, "peer-data/scale-sim/topologies/**/*.csv"), limit=60)
    elif t == "scalesim_cfg":
        add_files(os.path.join(shared, "peer-data/scale-sim/configs/*.cfg"))
    elif t == "onnx":
        add_files(os.path.join(src, "tests/**/*.onnx"))
    elif t == "sweep_spec":
        add_files(os.path.join(src, "docs/examples/sweep-*.yaml"))
    elif t == "chakra":
        # the first byte picks the rank count (1 + byte % 8): 2 ranks
        for p in sorted(glob.glob(os.path.join(src, "tests/**/*.et"), recursive=True)):
            with open(p, "rb") as f:
                add_bytes(b"\x01" + f.read())
    elif t == "memsim":
        # the first byte picks a trace file (odd) or a pattern spec (even)
        for p in sorted(glob.glob(os.path.join(src, "docs/examples/*.trace"))):
            with open(p, "rb") as f:
                add_bytes(b"1" + f.read()[:4096])
        for spec in ["sequential:bytes=1MiB", "strided:stride=8192,size=128,bytes=4MiB",
                     "random:range=1GiB,write_fraction=0.5,seed=3",
                     "gather:rows=512,row_bytes=256,table_bytes=64MiB,order=sequential"]:
            add_bytes(b"0" + spec.encode())
    elif t in ("measurements", "calibrate_records"):
        seen = set()
        for p in sorted(glob.glob(os.path.join(shared, "reference/**/*.jsonl"), recursive=True)):
            with open(p, "rb") as f:
                for line in f:
                    # one record of each section and op/dtype, as a one-line file
                    key = line[:60]
                    if key in seen:
                        continue
                    seen.add(key)
                    add_bytes(line)
    elif t in ("workload_spec", "parallel_spec"):
        cmds = os.path.join(src, "tests/regression/commands.txt")
        if os.path.exists(cmds):
            for line in open(cmds, encoding="utf-8"):
                words = line.split()
                for i, w in enumerate(words[:-1]):
                    if w == "--workload" and "{" not in words[i + 1] and "/" not in words[i + 1]:
                        add_bytes(words[i + 1].encode())


if __name__ == "__main__":
    main()
