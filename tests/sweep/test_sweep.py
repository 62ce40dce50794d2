#!/usr/bin/python3
"""End-to-end tests of `tessera sweep` (one case per ctest entry).

    test_sweep.py CASE --tessera BIN --shared DIR [--mpi-built ON|OFF]

Each case builds its specs in a temporary directory, runs the binary and
checks exit codes, messages and the results database (sqlite3). Exit 77 means
skipped (the reason is printed)."""
import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ARGS = None
TMP = None
GEMM = "gemm:m=256,n=256,k=256,dtype=int8"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def run(*args, expect=0, **kw):
    p = subprocess.run([ARGS.tessera] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if expect is not None and p.returncode != expect:
        fail(f"tessera {' '.join(args)}: rc {p.returncode}, expected {expect}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def rows(db, exclude=("finished_at",)):
    """Every row, every column but the timestamp, ordered by id."""
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(points)")]
    keep = [c for c in cols if c not in exclude]
    q = "SELECT " + ", ".join('"' + c + '"' for c in keep) + " FROM points ORDER BY id"
    out = con.execute(q).fetchall()
    con.close()
    return keep, out


def count(db):
    con = sqlite3.connect(db)
    n = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    con.close()
    return n


# A 3 x 3 x 3 x 2 = 54-point grid of a small int8 GEMM on tpu-v1.
BASE_SPEC = f"""hw: tpu-v1
workload: "{GEMM}"
engine: analytic
axes:
  compute.rows: [32, 64, 128]
  compute.cols: [32, 64, 128]
  compute.dataflow: [os, ws, is]
  memory.dram.bandwidth: [34GB/s, 1TB/s]
"""


def case_spec_errors():
    # Each mistake: exit 2 before any point runs (no database is created), a
    # message naming the file, the line and the key.
    cases = [
        ("unknown_path", BASE_SPEC.replace("compute.cols:", "compute.colz:"),
         ":6: axes.compute.colz: unknown parameter for hw 'tpu-v1' and workload"),
        ("empty_axis", BASE_SPEC.replace("[os, ws, is]", "[]"), ":7: axes.compute.dataflow: empty axis"),
        ("wrong_unit", BASE_SPEC.replace("[34GB/s, 1TB/s]", "[34GB/s, 1GHz]"),
         ":8: axes.memory.dram.bandwidth: '1GHz': "),
        ("bad_choice", BASE_SPEC.replace("[os, ws, is]", "[os, rs]"), ":7: axes.compute.dataflow: 'rs': "),
        ("where_path", BASE_SPEC + 'where: "compute.rowz * 2 < 9"\n',
         ":9: where: unknown path 'compute.rowz'"),
        ("where_syntax", BASE_SPEC + 'where: "compute.rows * < 9"\n', ":9: where: unexpected '<' at column 16"),
        ("malformed", BASE_SPEC.replace("  compute.rows: [32, 64, 128]", "  compute.rows: [32, 64, 128"),
         ": malformed YAML: "),
        ("metric", BASE_SPEC + "metrics: [time_s, speed]\n", ":9: metrics: unknown metric 'speed'; accepted: time_s"),
        ("top_key", BASE_SPEC + "axis: {}\n", ":9: axis: unknown key; accepted: hw, workload"),
        ("sample", BASE_SPEC + "sample: random\n", ":9: sample: 'random'; accepted: grid, random:N, lhs:N"),
        ("range", BASE_SPEC.replace("[34GB/s, 1TB/s]", "{log_range: [1TB/s, 34GB/s], points: 3}"),
         ":8: axes.memory.dram.bandwidth: LOW must be below HIGH"),
        ("hw", BASE_SPEC.replace("hw: tpu-v1", "hw: tpu-v9"), ":1: hw: --hw: unknown hardware preset 'tpu-v9'"),
    ]
    for name, text, expected in cases:
        spec = write(f"{name}.yaml", text)
        db = os.path.join(TMP, f"{name}.db")
        p = run("sweep", spec, "--out", db, expect=2)
        check(expected in p.stderr and spec in p.stderr,
              f"{name}: expected '{spec}...{expected}' in the message, got: {p.stderr}")
        check(not os.path.exists(db), f"{name}: a database was written although the spec is wrong")
    print(f"ok: {len(cases)} spec errors exit 2 naming file, line and key")


def case_grid_count():
    spec = write("grid.yaml", BASE_SPEC)
    db = os.path.join(TMP, "grid.db")
    p = run("sweep", spec, "--out", db, "--jobs", "2", "-q")
    check(count(db) == 54, f"grid: {count(db)} points, expected 3*3*3*2 = 54")
    check("54 points in the spec" in p.stdout, p.stdout)
    cols, data = rows(db)
    # Typed columns: rows INTEGER, bandwidth REAL in B/s, dataflow TEXT.
    con = sqlite3.connect(db)
    types = set(con.execute('SELECT typeof("compute.rows"), typeof("memory.dram.bandwidth"), '
                            'typeof("compute.dataflow"), typeof(time_s) FROM points').fetchall())
    check(types == {("integer", "real", "text", "real")}, f"column types {types}")
    bws = sorted({r[0] for r in con.execute('SELECT "memory.dram.bandwidth" FROM points')})
    check(bws == [34e9, 1e12], f"bandwidths stored in B/s: {bws}")
    st = set(con.execute("SELECT status, version FROM points").fetchall())
    check(len(st) == 1 and list(st)[0][0] == "ok", f"status/version {st}")
    con.close()
    # Resume: the same spec again runs nothing.
    p = run("sweep", spec, "--out", db, "-q")
    check("54 already in" in p.stdout and "ran 0 " in p.stdout, p.stdout)
    # A changed spec is refused unless --append.
    spec2 = write("grid2.yaml", BASE_SPEC.replace("[32, 64, 128]", "[32, 64, 256]", 1))
    p = run("sweep", spec2, "--out", db, "-q", expect=2)
    check("holds the results of another sweep spec" in p.stderr and "--append" in p.stderr, p.stderr)
    p = run("sweep", spec2, "--out", db, "-q", "--append")
    # 18 of the new spec's 54 points (rows=256) are new; 36 are the same points.
    check(count(db) == 72, f"append: {count(db)} points, expected 54 + 18 = 72")
    check("36 already in" in p.stdout, p.stdout)
    # --limit
    db3 = os.path.join(TMP, "limit.db")
    p = run("sweep", spec, "--out", db3, "--limit", "5", "-q")
    check(count(db3) == 5 and "49 left (--limit)" in p.stdout, p.stdout)
    print("ok: grid of 54, typed columns, resume, --append, --limit")


def point_ids(db):
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT id FROM points ORDER BY seq")]
    con.close()
    return ids


def case_random_lhs():
    spec_r1 = write("r1.yaml", BASE_SPEC + "sample: random:10\nseed: 7\n")
    spec_r2 = write("r2.yaml", BASE_SPEC + "sample: random:10\nseed: 8\n")
    a, b, c = (os.path.join(TMP, n) for n in ("ra.db", "rb.db", "rc.db"))
    run("sweep", spec_r1, "--out", a, "-q")
    run("sweep", spec_r1, "--out", b, "-q")
    run("sweep", spec_r2, "--out", c, "-q")
    check(count(a) == 10, f"random:10 gave {count(a)} points")
    check(rows(a) == rows(b), "random:10 with the same seed is not deterministic")
    check(set(point_ids(a)) != set(point_ids(c)), "seeds 7 and 8 drew the same points")
    # Latin hypercube over two 9-value axes with 9 samples: every value of each
    # axis exactly once (one sample per stratum).
    lhs = """hw: tpu-v1
workload: "gemm:m=256,n=256,k=256,dtype=int8"
axes:
  compute.rows: {range: [16, 144], points: 9}
  compute.cols: {range: [16, 144], points: 9}
sample: lhs:9
seed: 3
"""
    d = os.path.join(TMP, "lhs.db")
    run("sweep", write("lhs.yaml", lhs), "--out", d, "-q")
    con = sqlite3.connect(d)
    rws = sorted(r[0] for r in con.execute('SELECT "compute.rows" FROM points'))
    cls = sorted(r[0] for r in con.execute('SELECT "compute.cols" FROM points'))
    con.close()
    expected = [16, 32, 48, 64, 80, 96, 112, 128, 144]
    check(rws == expected and cls == expected, f"lhs strata: rows {rws}, cols {cls}")
    # sample larger than the grid: the whole grid.
    e = os.path.join(TMP, "big.db")
    run("sweep", write("big.yaml", BASE_SPEC + "sample: random:1000\n"), "--out", e, "-q")
    check(count(e) == 54, f"random:1000 of a 54-point grid gave {count(e)}")
    print("ok: random:N deterministic per seed, lhs one sample per stratum")


def case_where():
    spec = write("where.yaml", BASE_SPEC + 'where: "compute.rows * compute.cols <= 4096 && '
                 '(compute.dataflow != \\"is\\" || memory.dram.bandwidth > 100GB/s)"\n')
    db = os.path.join(TMP, "where.db")
    run("sweep", spec, "--out", db, "-q")
    # rows*cols <= 4096: (32,32) (32,64) (32,128) (64,32) (64,64) (128,32) = 6 of 9;
    # x (os, ws at both bandwidths = 4, is only at 1 TB/s = 1) = 6 * 5 = 30.
    check(count(db) == 30, f"where: {count(db)} points, expected 30")
    print("ok: where constraint keeps 30 of 54 points")


def case_resume_kill():
    # 2 x 2 x 3 x 60 = 720 points, slow enough to kill part-way.
    spec = write("kill.yaml", f"""hw: tpu-v1
workload: "{ARGS.shared}/peer-data/scale-sim/topologies/GEMM_mnk/gpt2.csv"
axes:
  compute.rows: [64, 128]
  compute.cols: [64, 128]
  compute.dataflow: [os, ws, is]
  memory.dram.bandwidth: {{log_range: [10GB/s, 1TB/s], points: 60}}
metrics: [time_s, energy_j, utilization, area_mm2]
""")
    full = os.path.join(TMP, "full.db")
    run("sweep", spec, "--out", full, "--jobs", "2", "-q")
    check(count(full) == 720, f"uninterrupted run: {count(full)} points")
    db = os.path.join(TMP, "killed.db")
    p = subprocess.Popen([ARGS.tessera, "sweep", spec, "--out", db, "--jobs", "2", "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    n = 0
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None:
        if os.path.exists(db):
            try:
                n = count(db)
            except sqlite3.Error:
                n = 0
            if n >= 20:
                break
        time.sleep(0.005)
    if p.poll() is not None:
        fail("the sweep finished before it could be killed; make the spec larger")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    partial = count(db)
    check(20 <= partial < 720, f"after kill -9: {partial} points")
    con = sqlite3.connect(db)
    check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "database corrupt after kill -9")
    con.close()
    out = run("sweep", spec, "--out", db, "--jobs", "2", "-q").stdout
    check(f"{partial} already in" in out, out)
    check(rows(db) == rows(full), "resumed database differs from the uninterrupted run")
    print(f"ok: killed after {partial} points; the resumed database equals the uninterrupted run")


def case_jobs_equal():
    spec = write("jobs.yaml", BASE_SPEC + "metrics: [time_s, energy_j, avg_power_w, utilization, tops_per_w, "
                 "area_mm2, perf_per_mm2, precision.rel_err]\n")
    a, b = os.path.join(TMP, "j1.db"), os.path.join(TMP, "j2.db")
    run("sweep", spec, "--out", a, "--jobs", "1", "-q")
    run("sweep", spec, "--out", b, "--jobs", "2", "-q")
    check(rows(a) == rows(b), "--jobs 1 and --jobs 2 databases differ")
    print("ok: --jobs 1 == --jobs 2 (54 points, every column but finished_at)")


def case_shards_merge():
    spec = write("shard.yaml", BASE_SPEC)
    single = os.path.join(TMP, "single.db")
    run("sweep", spec, "--out", single, "-q")
    shards = []
    for i in range(3):
        s = os.path.join(TMP, f"shard{i}.db")
        out = run("sweep", spec, "--out", s, "--shard", f"{i}/3", "-q").stdout
        check("18 in shard" in out, out)
        shards.append(s)
    merged = os.path.join(TMP, "merged.db")
    run("sweep", "merge", merged, *shards)
    check(rows(merged) == rows(single), "3 shards merged differ from the single run")
    # The Slurm job-array script, as Slurm would start its three tasks.
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "sweep.sbatch")
    prefix = os.path.join(TMP, "slurm")
    for i in range(1, 4):   # --array=1-3
        env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(i), SLURM_ARRAY_TASK_MIN="1", SLURM_ARRAY_TASK_COUNT="3",
                   TESSERA=ARGS.tessera, SWEEP_JOBS="1")
        p = subprocess.run(["bash", script, spec, prefix], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        check(p.returncode == 0 and f"in shard {i - 1}/3" in p.stdout, f"sweep.sbatch task {i}: {p.stdout}{p.stderr}")
    run("sweep", "merge", prefix + ".db", *(f"{prefix}.shard{i}.db" for i in range(3)))
    check(rows(prefix + ".db") == rows(single), "sweep.sbatch shards merged differ from the single run")
    other = os.path.join(TMP, "other.db")
    run("sweep", write("other.yaml", BASE_SPEC.replace("[os, ws, is]", "[os]")), "--out", other, "-q")
    p = run("sweep", "merge", os.path.join(TMP, "bad.db"), shards[0], other, expect=2)
    check("holds other sweep specs" in p.stderr, p.stderr)
    check(not os.path.exists(os.path.join(TMP, "bad.db")), "a refused merge left a file")
    p = run("sweep", write("s.yaml", BASE_SPEC), "--out", os.path.join(TMP, "x.db"), "--shard", "3/3", expect=2)
    check("--shard: '3/3'; expected I/N with 0 <= I < N" in p.stderr, p.stderr)
    print("ok: 3 shards + merge == single run; merging different specs refused")


def case_mpi():
    if ARGS.mpi_built != "ON":
        print("SKIP: MPI was not found when this build was configured (install libopenmpi-dev, reconfigure)")
        sys.exit(77)
    mpirun = shutil.which("mpirun")
    if not mpirun:
        print("SKIP: mpirun is not installed (openmpi-bin)")
        sys.exit(77)
    spec = write("mpi.yaml", BASE_SPEC)
    single, par = os.path.join(TMP, "single.db"), os.path.join(TMP, "mpi.db")
    run("sweep", spec, "--out", single, "-q")
    p = subprocess.run([mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2", ARGS.tessera, "sweep", spec,
                        "--out", par, "--mpi", "--jobs", "1", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    check(p.returncode == 0, f"mpirun: rc {p.returncode}\n{p.stdout}\n{p.stderr}")
    check("on 2 MPI ranks" in p.stdout, p.stdout)
    check(rows(par) == rows(single), "MPI (2 ranks) database differs from the single-process run")
    print("ok: mpirun -np 2 == single process")


def make_db(path, points):
    """A results database written by hand: (id, time_s, energy_j, tops_per_w, status)."""
    con = sqlite3.connect(path)
    con.executescript("""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE specs(hash TEXT PRIMARY KEY, spec TEXT);
CREATE TABLE points(id TEXT PRIMARY KEY, seq INTEGER, spec TEXT, hw TEXT, workload TEXT, engine TEXT,
  hw_identity TEXT, workload_identity TEXT, "compute.rows" INTEGER, status TEXT, error TEXT,
  time_s REAL, energy_j REAL, tops_per_w REAL, version TEXT, finished_at TEXT);
INSERT INTO meta VALUES('format', 'tessera-sweep 1');
INSERT INTO specs VALUES('0123456789abcdef', '{}');
""")
    for i, (pid, t, e, tw, st) in enumerate(points):
        con.execute("INSERT INTO points VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (pid, i, "0123456789abcdef", "tpu-v1", "w", "analytic", "h", "w", 32 * (i + 1), st,
                     None if st == "ok" else "boom", t, e, tw, "0.1", "2026-01-01T00:00:00Z"))
    con.commit()
    con.close()


def case_report_exact():
    db = os.path.join(TMP, "hand.db")
    # (time, energy): a (1, 5), b (2, 3), c (3, 4) dominated by b, d (4, 1),
    # e (2, 3.5) dominated by b, f an error (left out).
    make_db(db, [("a", 1.0, 5.0, 0.5, "ok"), ("b", 2.0, 3.0, 0.9, "ok"), ("c", 3.0, 4.0, 0.1, "ok"),
                 ("d", 4.0, 1.0, 0.3, "ok"), ("e", 2.0, 3.5, 0.2, "ok"), ("f", None, None, None, "error")])
    csv = run("sweep", "report", db, "--pareto", "time_s,energy_j", "--format", "csv").stdout.splitlines()
    check(csv[0] == "id,seq,spec,hw,workload,engine,hw_identity,workload_identity,compute.rows,status,error,"
          "time_s,energy_j,tops_per_w,version,finished_at,pareto", csv[0])
    front = [l.split(",")[0] for l in csv[1:] if l.endswith(",1")]
    check(front == ["a", "b", "d"], f"front {front}, expected a, b, d")
    check(csv[2] == "b,1,0123456789abcdef,tpu-v1,w,analytic,h,w,64,ok,,2,3,0.9,0.1,2026-01-01T00:00:00Z,1", csv[2])
    # Three metrics, tops_per_w maximised: c (0.1) and e (0.2) stay dominated by b (0.9).
    csv3 = run("sweep", "report", db, "--pareto", "time_s,energy_j,tops_per_w", "--format", "csv").stdout
    front3 = [l.split(",")[0] for l in csv3.splitlines()[1:] if l.endswith(",1")]
    check(front3 == ["a", "b", "d"], f"3-metric front {front3}")
    text = run("sweep", "report", db, "--pareto", "time_s,energy_j").stdout
    check("points 6 (5 ok, 1 errors)" in text, text)
    check("Pareto front over time_s (min), energy_j (min): 3 points" in text, text)
    check("    time_s                        1 (min)  hw=tpu-v1 workload=w compute.rows=32" in text, text)
    check("    tops_per_w                  0.9 (max)  hw=tpu-v1 workload=w compute.rows=64" in text, text)
    check("         1 x boom" in text, text)
    w = run("sweep", "report", db, "--where", "compute.rows >= 96 && energy_j < 4", "--format", "csv").stdout
    check([l.split(",")[0] for l in w.splitlines()[1:]] == ["d", "e"], w)
    import json
    j = json.loads(run("sweep", "report", db, "--format", "json", "--pareto", "time_s,energy_j").stdout)
    check(len(j["points"]) == 6 and j["points"][0]["pareto"] is True and j["points"][2]["pareto"] is False, str(j))
    p = run("sweep", "report", db, "--pareto", "time_s", expect=2)
    check("--pareto: give 2 or 3 metrics" in p.stderr, p.stderr)
    p = run("sweep", "report", db, "--where", "speed > 1", expect=2)
    check("--where: unknown column 'speed'" in p.stderr, p.stderr)
    print("ok: Pareto fronts (2 and 3 metrics), best points, --where, CSV and JSON exact")


def case_plots():
    spec = write("plot.yaml", BASE_SPEC)
    db = os.path.join(TMP, "plot.db")
    run("sweep", spec, "--out", db, "-q")
    outdir = os.path.join(TMP, "plots")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "plot_sweep.py")
    p = subprocess.run(["/usr/bin/python3", script, db, "--out-dir", outdir, "--x", "time_s", "--y", "energy_j",
                        "--heat", "compute.rows,compute.cols", "--metric", "time_s"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    check(p.returncode == 0, f"plot_sweep.py: rc {p.returncode}\n{p.stdout}\n{p.stderr}")
    import matplotlib.image as mpimg
    for name in ("pareto.png", "heatmap.png", "roofline.png"):
        path = os.path.join(outdir, name)
        check(os.path.exists(path), f"{name} missing")
        check(os.path.getsize(path) > 10000, f"{name} is only {os.path.getsize(path)} bytes")
        img = mpimg.imread(path)
        check(img.std() > 0.05, f"{name} is nearly blank (pixel std {img.std():.3f})")
    print("ok: pareto.png, heatmap.png, roofline.png written and non-trivial")


def case_formats():
    # tpu-v1's PEs run int8: a bf16 workload is exit 2 for run, a recorded error in a sweep.
    p = run("run", "--hw", "tpu-v1", "--workload", "gemm:m=256,n=256,k=256,dtype=bf16", expect=2)
    check("op 'gemm' multiplies bf16 operands, but this systolic array's PEs run int8 (compute.formats)" in p.stderr,
          p.stderr)
    spec = write("fmt.yaml", f"""hw: tpu-v1
workload: "{GEMM}"
axes:
  compute.operand_dtype: [int8, bf16, fp8_e4m3]
  compute.formats: [int8, any]
metrics: [time_s, energy_j, area_mm2]
""")
    db = os.path.join(TMP, "fmt.db")
    run("sweep", spec, "--out", db, "-q")
    con = sqlite3.connect(db)
    res = {(r[0], r[1]): r[2:] for r in con.execute(
        'SELECT "compute.operand_dtype", "compute.formats", status, error, time_s, energy_j, area_mm2 FROM points')}
    con.close()
    check(res[("bf16", "int8")][0] == "error" and "PEs run int8" in res[("bf16", "int8")][1], str(res))
    check(res[("int8", "int8")][0] == "ok" and res[("bf16", "any")][0] == "ok", str(res))
    # On other PEs the format moves everything: bf16 words are 2 bytes (the
    # memory-bound GEMM takes longer than int8's), its MACs cost more, its PEs are larger.
    i8, b16, f8 = res[("int8", "any")], res[("bf16", "any")], res[("fp8_e4m3", "any")]
    check(b16[2] > 1.5 * i8[2], f"bf16 time {b16[2]} vs int8 {i8[2]}")
    check(b16[3] > i8[3] and b16[4] > i8[4], f"bf16 energy/area {b16} vs int8 {i8}")
    check(f8[2] == i8[2], f"fp8 (1-byte words) time {f8[2]} vs int8 {i8[2]}")
    # An explicit accumulator that cannot add the products: exit 2 naming it.
    p = run("run", "--hw", "tpu-v1", "--workload", GEMM, "--set", "compute.operand_dtype=bf16", "--set",
            "compute.formats=any", "--set", "compute.acc_dtype=int32", expect=2)
    check("an int32 accumulator (compute.acc_dtype) cannot add bf16 products" in p.stderr, p.stderr)
    p = run("run", "--hw", "eyeriss", "--workload", "gemm:m=64,n=64,k=64,dtype=fp32", expect=2)
    check("compute.word_bytes=2 cannot hold fp32 operands (4 bytes)" in p.stderr, p.stderr)
    out = run("list", "formats").stdout
    check(out.startswith("fp64") and "fp8_e4m3" in out and "int8" in out, out)
    print("ok: formats move together; unsupported formats exit 2 / recorded errors")


def case_area():
    spec = write("area.yaml", f"""hw: tpu-v1
workload: "{GEMM}"
axes:
  compute.pe_area_overhead: [7.5, 5]
metrics: [time_s, area_mm2, perf_per_mm2]
""")
    db = os.path.join(TMP, "area.db")
    run("sweep", spec, "--out", db, "-q")
    con = sqlite3.connect(db)
    got = dict(con.execute('SELECT "compute.pe_area_overhead", area_mm2 FROM points'))
    perf = con.execute('SELECT time_s, area_mm2, perf_per_mm2 FROM points WHERE "compute.pe_area_overhead" = 7.5').fetchone()
    con.close()
    # PE: (282 + 137) um^2 (Horowitz int8 mult + 32-bit add) * 7.5 * (28/45)^2;
    # SRAM: (24 MiB + 256 KiB + 4 MiB) = 28928 KiB * 0.0039 mm^2 at 28 nm.
    pe = 419 * 7.5 * (28 / 45) ** 2 * 1e-6
    sram = 28928 * 0.0039
    expected = 65536 * pe + sram
    check(abs(got[7.5] - expected) < 1e-9 * expected, f"tpu-v1 area {got[7.5]}, expected {expected}")
    # Fit check: the matrix unit is 24 % of TPU v1's 331 mm^2 die (Jouppi et al.
    # 2017): within 1 % with the fitted overhead, not with a wrong one.
    mxu = 0.24 * 331
    check(abs(65536 * pe - mxu) / mxu < 0.01, f"matrix unit {65536 * pe} mm^2 vs {mxu}")
    wrong = got[5] - sram
    check(abs(wrong - mxu) / mxu > 0.3, f"pe_area_overhead=5 still matches the floor plan ({wrong})")
    flops = 2 * 256 ** 3
    check(abs(perf[2] - flops / perf[0] / 1e12 / perf[1]) < 1e-12 * perf[2], f"perf_per_mm2 {perf}")
    comps = run("list", "components").stdout
    for key in ("pe_area_overhead", "sram_area_per_kib", "sram_ports", "die_area"):
        check(key in comps, f"list components lacks {key}")
    print(f"ok: tpu-v1 area {got[7.5]:.2f} mm^2; matrix unit {65536 * pe:.1f} mm^2 vs floor plan {mxu:.1f}")


def case_gpu_spec():
    spec = write("gpu.yaml", """hw: [h100-sxm, a100-80gb]
workload: "gemm:m=2048,n=2048,k=2048"
axes:
  compute.max_clock: [1.2GHz, 1.4GHz]
  workload.batch: [1, 2]
metrics: [time_s, energy_j, area_mm2, perf_per_mm2, utilization]
""")
    db = os.path.join(TMP, "gpu.db")
    run("sweep", spec, "--out", db, "-q")
    con = sqlite3.connect(db)
    areas = dict(con.execute("SELECT hw, area_mm2 FROM points GROUP BY hw"))
    n = con.execute("SELECT COUNT(*) FROM points WHERE status = 'ok'").fetchone()[0]
    wl = sorted({r[0] for r in con.execute("SELECT workload_identity FROM points")})
    con.close()
    check(n == 8, f"{n} ok points, expected 2 * 2 * 2 = 8")
    check(areas == {"h100-sxm": 814.0, "a100-80gb": 826.0}, str(areas))
    check(wl == ["gemm:m=2048,n=2048,k=2048,batch=1", "gemm:m=2048,n=2048,k=2048,batch=2"], str(wl))
    print("ok: GPU presets sweep (hw x clock x batch), die areas 814 / 826 mm^2")


def case_parallel():
    """A multi-device workload's point is its whole iteration, as `tessera run` gives it
    (the pipeline schedule and the collectives on the system), not one device's ops."""
    wl = "gpt:layers=4,hidden=1024,heads=16,seq=512,tp=2,dp=4,global_batch=8,train=1"
    spec = write("par.yaml", f"""hw: dgx-h100
workload: "{wl}"
axes:
  workload.zero: [0, 1]
metrics: [time_s, flops, peak_flops, utilization, precision.rel_err]
""")
    db = os.path.join(TMP, "par.db")
    run("sweep", spec, "--out", db, "-q")
    con = sqlite3.connect(db)
    got = {r[0]: r[1:] for r in con.execute(
        'SELECT "workload.zero", status, time_s, flops, peak_flops, utilization, "precision.rel_err" FROM points')}
    con.close()
    import json
    for zero in ("0", "1"):
        rep = json.loads(run("run", "--hw", "dgx-h100", "--workload", f"{wl},zero={zero}", "--format", "json").stdout)
        status, t, flops, peak, util, prec = got[zero]
        check(status == "ok", f"zero={zero}: {got[zero]}")
        # The same iteration to the last digit (one simulation, two front ends).
        check(t == rep["time_s"], f"zero={zero}: sweep time_s {t} != run {rep['time_s']}")
        # Summed over the 8 devices: utilization is the report's HFU.
        check(flops == rep["flops"] and peak == rep["peak_flops_per_s"], f"zero={zero}: {flops} {peak}")
        check(abs(util - rep["parallel"]["hfu"]) < 1e-12, f"zero={zero}: utilization {util} vs hfu")
        check(prec is None, f"zero={zero}: precision.rel_err {prec} for a multi-device workload")
    print(f"ok: multi-device sweep points are `run`'s iterations ({got['0'][1] * 1e3:.3f} / {got['1'][1] * 1e3:.3f} ms)")


def case_csv_precision():
    out = run("run", "--hw", "h100-sxm", "--workload", "gemm:m=512,n=512,k=512", "--precision", "--format",
              "csv").stdout.splitlines()
    check(out[0].endswith(",precision_path,normwise_rel_err,max_abs_err,snr_db"), out[0])
    check(out[1].startswith("gemm#0,") and ",h100_bf16," in out[1], out[1])
    check(out[-1].startswith("TOTAL,") and len(out[-1].split(",")) == len(out[0].split(",")), out[-1])
    print("ok: --format csv carries the precision columns")


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--mpi-built", default="OFF")
    ARGS = ap.parse_args()
    ARGS.tessera = os.path.abspath(ARGS.tessera)
    fn = globals().get("case_" + ARGS.case)
    if not fn:
        sys.exit(f"unknown case {ARGS.case}")
    TMP = tempfile.mkdtemp(prefix="tessera-sweep-")
    try:
        fn()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
