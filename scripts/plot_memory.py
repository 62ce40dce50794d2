#!/usr/bin/python3
"""Latency-throughput curve of one DRAM preset from `tessera memsim`.

For sequential and random 64 B reads, sweeps the issue interval (cycles between
requests) and plots the mean read latency against the achieved bandwidth, with
the pins' peak and the unloaded latency formula as reference lines.

    plot_memory.py --tessera build/tessera --hw HBM3-6400 --out docs/img/hbm3_latency_throughput.png
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

INTERVALS = [2.0, 1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.17, 0.15, 0.13, 0.12, 0.11, 0.1, 0.09, 0.08, 0.06, 0.0]


def run(tessera, hw, pattern):
    out = subprocess.run([tessera, "memsim", "--hw", hw, "--pattern", pattern, "--format", "json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"plot_memory.py: tessera memsim failed ({out.returncode}): {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tessera", default="build/tessera")
    ap.add_argument("--hw", default="HBM3-6400")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bytes", default="4MiB", help="bytes requested per point")
    a = ap.parse_args()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    peak = None
    unloaded = None
    for kind, style in (("sequential", "o-"), ("random", "s-")):
        xs, ys = [], []
        for iv in INTERVALS:
            j = run(a.tessera, a.hw, f"{kind}:bytes={a.bytes},size=64,interval={iv}")
            peak = j["device"]["peak_bandwidth_bps"]
            xs.append(j["bandwidth_bps"] / 1e9)
            ys.append(j["read_latency"]["mean_ns"])
            if kind == "random" and iv == INTERVALS[0]:
                unloaded = j["read_latency"]["p50_ns"]
        ax.plot(xs, ys, style, label=f"{kind} 64 B reads", markersize=4)
    ax.axvline(peak / 1e9, color="grey", linestyle="--", label=f"pin peak {peak / 1e9:.0f} GB/s")
    if unloaded is not None:
        ax.axhline(unloaded, color="grey", linestyle=":", label=f"light-load latency {unloaded:.1f} ns")
    ax.set_yscale("log")
    ax.set_xlabel("achieved bandwidth (GB/s)")
    ax.set_ylabel("mean read latency (ns)")
    ax.set_title(f"{a.hw}: latency vs throughput (one stack, tessera memsim)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    # Written to a temporary file and renamed: no partial output on failure.
    d = os.path.dirname(os.path.abspath(a.out))
    with tempfile.NamedTemporaryFile(dir=d, suffix=".png", delete=False) as tmp:
        fig.savefig(tmp.name, dpi=110)
    os.replace(tmp.name, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
