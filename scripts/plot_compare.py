#!/usr/bin/python3
"""Plots predicted vs measured per section from `tessera compare --format json`.

usage: tessera compare --hw h100-sxm --measured M.jsonl --format json > cmp.json
       scripts/plot_compare.py cmp.json --out compare.png
One panel per section, log-log axes, the y = x line and +-10 % bands.
"""
import argparse
import json
import math
import os
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from need_modules import need as _need  # noqa: E402


_need(["matplotlib"], "install Debian's python3-matplotlib (scripts/setup-deps.sh) or run with an "
      "interpreter that has matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("compare_json")
    ap.add_argument("--out", default="compare.png")
    args = ap.parse_args()
    with open(args.compare_json) as f:
        data = json.load(f)
    groups = {}
    for r in data["records"]:
        if "skipped" in r or r.get("measured_value", 0) <= 0 or r.get("predicted_value", 0) <= 0:
            continue
        groups.setdefault(r["section"], []).append(r)
    if not groups:
        raise SystemExit("no predicted records in " + args.compare_json)
    n = len(groups)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4.5 * rows), squeeze=False)
    for ax, (sec, recs) in zip(axes.flat, sorted(groups.items())):
        by_group = {}
        for r in recs:
            by_group.setdefault(r.get("group", ""), []).append(r)
        lo = min(min(r["measured_value"], r["predicted_value"]) for r in recs)
        hi = max(max(r["measured_value"], r["predicted_value"]) for r in recs)
        for g, rs in sorted(by_group.items()):
            ax.scatter([r["measured_value"] for r in rs], [r["predicted_value"] for r in rs], s=12, label=g)
        xs = [lo / 1.2, hi * 1.2]
        ax.plot(xs, xs, "k-", lw=0.8)
        ax.plot(xs, [x * 1.1 for x in xs], "k:", lw=0.6)
        ax.plot(xs, [x / 1.1 for x in xs], "k:", lw=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        s = data["sections"][sec]
        ax.set_title(f"{sec}: {s['count']} records, MAPE {100 * s['mape']:.1f} %")
        ax.set_xlabel(f"measured {recs[0].get('quantity', '')}")
        ax.set_ylabel("predicted")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"Tessera vs measurements on {data.get('hardware', '')}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
