#!/usr/bin/python3
"""scripts/nccl_tests_to_jsonl.py on a sample all_reduce_perf output (8 x H100).

    test_nccl_parser.py SCRIPT DATA_DIR      exit 0 when every check passes
"""
import json
import os
import subprocess
import sys
import tempfile

script, data = sys.argv[1], sys.argv[2]
sample = os.path.join(data, "all_reduce_perf_dgx_h100.txt")


def run(*args):
    return subprocess.run(["/usr/bin/python3", script, *args], capture_output=True, text=True)


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


r = run(sample, "--algo", "nvls")
check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
recs = [json.loads(l) for l in r.stdout.splitlines()]
check(len(recs) == 6, f"6 rows expected, got {len(recs)}")
last = recs[-1]
check(last == {"section": "collective", "system": "dgx-h100", "op": "all_reduce", "ranks": 8,
               "bytes": 1073741824, "dtype": "float", "busbw_GBps": 481.81, "time_us": 3900.0,
               "algbw_GBps": 275.32, "source": "all_reduce_perf_dgx_h100.txt", "algo": "nvls"},
      f"last record: {last}")
# In-place columns and a size floor.
r = run(sample, "--in-place", "--min-bytes", "268435456")
recs = [json.loads(l) for l in r.stdout.splitlines()]
check([x["busbw_GBps"] for x in recs] == [477.40, 481.93], f"in-place: {recs}")
# Written whole to --out.
with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "x.jsonl")
    r = run(sample, "--out", out)
    check(r.returncode == 0 and len(open(out).read().splitlines()) == 6, "--out")
    # Bad input: exit 2, the file named, nothing written.
    bad = os.path.join(d, "bad_perf.txt")
    with open(bad, "w") as f:
        f.write("#  Rank  0 Group  0\n     1048576        262144     float     sum      -1    x  y\n")
    out2 = os.path.join(d, "y.jsonl")
    r = run(bad, "--op", "all_reduce", "--out", out2)
    check(r.returncode == 2 and "bad_perf.txt:2" in r.stderr and not os.path.exists(out2),
          f"bad row: {r.returncode} {r.stderr}")
    r = run(os.path.join(d, "unnamed.txt"))
    check(r.returncode == 2 and "unnamed.txt" in r.stderr, f"missing file: {r.stderr}")
    noop = os.path.join(d, "results.txt")
    with open(noop, "w") as f:
        f.write(open(sample).read())
    r = run(noop)
    check(r.returncode == 2 and "give --op" in r.stderr, f"op unknown: {r.stderr}")

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
