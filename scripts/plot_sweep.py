#!/usr/bin/python3
"""Plots of a sweep results database (tessera sweep ... --out results.db).

    /usr/bin/python3 scripts/plot_sweep.py results.db [--out-dir DIR]
        [--x time_s --y energy_j]          Pareto scatter of two metrics (front highlighted)
        [--heat AXIS,AXIS --metric M]      heat map of a metric over two parameter columns
                                           (the best value where other axes vary)
    writes DIR/pareto.png, DIR/heatmap.png and DIR/roofline.png (achieved FLOP/s
    against FLOP per DRAM byte, with each hardware point's compute and bandwidth roofs;
    needs the metrics flops, dram_bytes and peak_flops, recorded by default).

Needs Debian's python3-matplotlib; runs headless (Agg backend)."""
import argparse
import math
import os
import sqlite3
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_sweep.py: matplotlib is missing; install Debian's python3-matplotlib "
             "(scripts/setup-deps.sh) and run with /usr/bin/python3")

MAXIMISED = {"utilization", "tops_per_w", "perf_per_mm2", "flops", "peak_flops"}


def load(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    cur = con.execute("SELECT * FROM points WHERE status = 'ok' ORDER BY seq, id")
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    con.close()
    return cols, rows


def pareto(points, kx, ky):
    sx = -1 if kx in MAXIMISED else 1
    sy = -1 if ky in MAXIMISED else 1
    v = [(sx * p[kx], sy * p[ky]) for p in points]
    front = []
    for i, a in enumerate(v):
        dominated = any(b[0] <= a[0] and b[1] <= a[1] and b != a for j, b in enumerate(v) if j != i)
        front.append(not dominated)
    return front


def plot_pareto(rows, kx, ky, path):
    pts = [r for r in rows if r.get(kx) is not None and r.get(ky) is not None]
    if not pts:
        sys.exit(f"plot_sweep.py: no points with both {kx} and {ky}")
    front = pareto(pts, kx, ky)
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter([p[kx] for p in pts], [p[ky] for p in pts], s=12, c="#9aa5b1", label="points")
    fp = sorted((p for p, f in zip(pts, front) if f), key=lambda p: p[kx])
    ax.plot([p[kx] for p in fp], [p[ky] for p in fp], "o-", c="#d1495b", ms=5, label=f"Pareto front ({len(fp)})")
    ax.set_xlabel(kx)
    ax.set_ylabel(ky)
    if all(p[kx] > 0 for p in pts):
        ax.set_xscale("log")
    if all(p[ky] > 0 for p in pts):
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(f"{len(pts)} points: {ky} vs {kx}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_heat(rows, axes, metric, path):
    a, b = axes
    pts = [r for r in rows if r.get(a) is not None and r.get(b) is not None and r.get(metric) is not None]
    if not pts:
        sys.exit(f"plot_sweep.py: no points with {a}, {b} and {metric}")
    xs = sorted({p[a] for p in pts}, key=lambda v: (isinstance(v, str), v))
    ys = sorted({p[b] for p in pts}, key=lambda v: (isinstance(v, str), v))
    best = max if metric in MAXIMISED else min
    grid = [[math.nan] * len(xs) for _ in ys]
    for p in pts:
        i, j = ys.index(p[b]), xs.index(p[a])
        cur = grid[i][j]
        grid[i][j] = p[metric] if math.isnan(cur) else best(cur, p[metric])
    fig, ax = plt.subplots(figsize=(7, 5))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([str(x) for x in xs], rotation=45)
    ax.set_yticks(range(len(ys)))
    ax.set_yticklabels([str(y) for y in ys])
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not math.isnan(grid[i][j]):
                ax.text(j, i, f"{grid[i][j]:.3g}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(im, ax=ax, label=f"{metric} ({'max' if metric in MAXIMISED else 'min'} over other axes)")
    ax.set_title(f"{metric} over {a} x {b}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_roofline(rows, path):
    need = ("flops", "dram_bytes", "peak_flops", "time_s")
    pts = [r for r in rows if all(r.get(k) for k in need)]
    fig, ax = plt.subplots(figsize=(7, 5))
    if not pts:
        ax.text(0.5, 0.5, "no points with flops, dram_bytes, peak_flops", ha="center", transform=ax.transAxes)
    else:
        oi = [p["flops"] / p["dram_bytes"] for p in pts]
        perf = [p["flops"] / p["time_s"] for p in pts]
        ax.scatter(oi, perf, s=12, c="#2e86ab", label="points")
        # Roofs: each distinct (peak, bandwidth) of the points. Bandwidth is the
        # column memory.*.bandwidth when swept, else the bytes / time of the point.
        bw_cols = [k for k in pts[0] if k.startswith("memory.") and k.endswith(".bandwidth")]
        roofs = set()
        for p in pts:
            bw = p[bw_cols[0]] if bw_cols and p.get(bw_cols[0]) else None
            if bw:
                roofs.add((p["peak_flops"], bw))
        xs = [min(oi) / 4, max(oi) * 4]
        for peak, bw in sorted(roofs)[:8]:
            ridge = peak / bw
            x = [xs[0], max(xs[0], min(ridge, xs[1])), xs[1]]
            ax.plot(x, [min(peak, bw * v) for v in x], "-", lw=1, alpha=0.6)
        peaks = sorted({p["peak_flops"] for p in pts})
        for pk in peaks[:8]:
            ax.axhline(pk, ls="--", lw=0.8, c="#d1495b", alpha=0.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend()
    ax.set_xlabel("operational intensity (FLOP per DRAM byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("roofline")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db")
    ap.add_argument("--out-dir", default=".")
    ap.add_argument("--x", default="time_s")
    ap.add_argument("--y", default="energy_j")
    ap.add_argument("--heat", help="two parameter columns, comma-separated (default: the first two)")
    ap.add_argument("--metric", default="time_s")
    a = ap.parse_args()
    if not os.path.isfile(a.db):
        sys.exit(f"plot_sweep.py: {a.db}: no such file")
    cols, rows = load(a.db)
    if not rows:
        sys.exit(f"plot_sweep.py: {a.db} has no successful points")
    for k in (a.x, a.y, a.metric):
        if k not in cols:
            sys.exit(f"plot_sweep.py: {a.db} has no column '{k}'; it has: {', '.join(cols)}")
    params = cols[cols.index("workload_identity") + 1:cols.index("status")]
    heat = a.heat.split(",") if a.heat else params[:2]
    if len(heat) != 2 or any(h not in cols for h in heat):
        sys.exit(f"plot_sweep.py: --heat needs two parameter columns of {a.db}: {', '.join(params)}")
    os.makedirs(a.out_dir, exist_ok=True)
    plot_pareto(rows, a.x, a.y, os.path.join(a.out_dir, "pareto.png"))
    plot_heat(rows, heat, a.metric, os.path.join(a.out_dir, "heatmap.png"))
    plot_roofline(rows, os.path.join(a.out_dir, "roofline.png"))
    print(f"plot_sweep.py: wrote pareto.png, heatmap.png, roofline.png into {a.out_dir}")


if __name__ == "__main__":
    main()
