#!/usr/bin/python3
"""Measures an NVIDIA GPU with PyTorch and writes records in the schema of
reference/h100/microbench.jsonl (one JSON object per line), for `tessera compare`
and `tessera calibrate`.

usage: scripts/measure_gpu.py --out my-gpu.jsonl [--sections gemm,gemm_sync,attn,vec,membw,energy,energy2,conv,conv3d,e2eg,decode,evoformer,train,train_amp]

All sections take long (the GEMM grid alone is several hundred cases). For a short
session, the whole-model and library-choice sections first, e.g.
    --sections evoformer,decode,e2eg,train_amp,gemm_odd,conv,conv3d --budget-ms 50
(gemm_odd: the gemm section's shapes off the power-of-two grid only).

Method (as in the reference data): CUDA events around the operation alone, warm-up
first, repetitions filling about --budget-ms, the median reported with min and max;
with a cold L2 (the default) a 256 MiB buffer is overwritten before every repetition.
Whole models: CUDA graphs (decode: shared/reference/models/decode_static.py), CUDA
events around an eager forward (evoformer: evoformer_sdpa.py, both found with
--models) or the profiler's summed kernel time (e2eg, and train: one training step,
forward + backward + optimizer.step(); train_amp: the same under torch.autocast
bf16, and fp16 with GradScaler). Every section starts from PyTorch's default
backend flags (fp32 matmuls in fp32, fp32 convolutions on TF32, no cuDNN
benchmarking); a model whose Python package (torchvision, transformers, openfold)
is missing is skipped with a line on stderr. A section that fails is reported
with its traceback and the others still run; the file keeps every record taken,
and the exit status is then 1.
Energy: sustained ~3 s runs read from the GPU's energy counter via nvidia-smi-compatible
NVML (pynvml), with SM clock samples.
"""
import argparse
import json
import os
import statistics
import sys
import time

# PyTorch is imported by main() after the arguments are checked, so that --help
# and argument errors work on a machine without it.
torch = None
F = None

FLUSH_BYTES = 256 * 1024 * 1024
# The reference modules (decode_static.py, evoformer_sdpa.py): shared/ beside the
# repository, or inside it (a copy carried to a GPU machine); --models overrides.
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = next((d for d in (os.path.join(_REPO, "..", "shared", "reference", "models"),
                               os.path.join(_REPO, "shared", "reference", "models")) if os.path.isdir(d)),
                  os.path.join(_REPO, "..", "shared", "reference", "models"))


class Timer:
    def __init__(self, budget_ms, cold=True):
        self.budget_ms = budget_ms
        self.cold = cold
        self.flush = torch.empty(FLUSH_BYTES, dtype=torch.uint8, device="cuda")

    def run(self, fn):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        one = max(start.elapsed_time(end), 1e-3)
        reps = int(min(1000, max(10, self.budget_ms / one)))
        times = []
        for _ in range(reps):
            if self.cold:
                self.flush.fill_(1)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times), "reps": reps}


DT = {}   # format name -> torch dtype, filled by main() once torch is imported


def torch_defaults():
    """PyTorch's default backend settings, which the reference modules are measured
    under (shared/reference/models/README.md): fp32 matmuls in fp32, fp32
    convolutions on TF32, cuDNN's heuristic algorithm choice (no benchmarking).
    Sections that change a flag change it after this."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = False


def gemm(timer, out, tags=("square", "llm", "odd")):
    shapes = [("square", n, n, n) for n in (128, 256, 512, 1024, 2048, 3072, 4096, 6144, 8192)]
    shapes += [("llm", m, n, k) for m in (1, 16, 128, 512, 2048, 8192)
               for n, k in ((4096, 4096), (11008, 4096), (4096, 11008), (12288, 4096), (32000, 4096))]
    # Off the power-of-two grid: rows whose length in bytes is not a multiple of 16
    # (N = 4097), sizes that leave partial tiles (1000, 3000 x 5000 x 7000) and a
    # long reduction over a small output (256 x 256 x 65536).
    shapes += [("odd", m, n, k) for m, n, k in ((4095, 4097, 4096), (4097, 4095, 4096), (1000, 1000, 1000),
                                                  (3000, 5000, 7000), (256, 256, 65536), (2000, 3000, 1000))]
    shapes = [sh for sh in shapes if sh[0] in tags]
    for dtype in ("bf16", "fp16", "tf32", "fp32", "fp8_e4m3", "fp8_e4m3_fastacc", "int8"):
        torch_defaults()
        torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
        for tag, m, n, k in shapes:
            if dtype.startswith(("fp8", "int8")) and (m < 16 or m % 16) and tag != "odd":
                continue
            if dtype.startswith("fp8"):
                a = torch.randn(m, k, device="cuda").to(torch.float8_e4m3fn)
                b = torch.randn(n, k, device="cuda").to(torch.float8_e4m3fn).t()
                one = torch.tensor(1.0, device="cuda")
                fast = dtype.endswith("fastacc")
                fn = lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16,
                                              use_fast_accum=fast)
            elif dtype == "int8":
                a = torch.randint(-8, 8, (m, k), dtype=torch.int8, device="cuda")
                b = torch.randint(-8, 8, (n, k), dtype=torch.int8, device="cuda").t()
                fn = lambda: torch._int_mm(a, b)
            else:
                a = torch.randn(m, k, device="cuda", dtype=DT[dtype])
                b = torch.randn(k, n, device="cuda", dtype=DT[dtype])
                fn = lambda: a @ b
            try:
                r = timer.run(fn)
            except RuntimeError as e:   # _scaled_mm / _int_mm refuse some shapes (multiples of 16 / of 8)
                print(f"gemm {dtype} {m}x{n}x{k}: {e}", file=sys.stderr)
                continue
            r.update(section="gemm", dtype=dtype, M=m, N=n, K=k, tag=tag, l2="cold" if timer.cold else "hot")
            r["tflops"] = 2 * m * n * k / (r["median_ms"] * 1e-3) / 1e12
            # The library kernels of every shape (one profiled call): compare reads
            # their generation, tile and split of K beside the model's choice.
            r["kernels"] = kernel_names(fn)
            out(r)


def gemm_odd(timer, out):
    """The gemm section's shapes off the power-of-two grid alone (tag "odd"), every
    format, with kernel names: a short device session's share of the GEMMs."""
    gemm(timer, out, tags=("odd",))


def gemm_sync(timer, out):
    """fp16 GEMMs timed as LLMCompass timed its A100 rows (../shared/peer-data/
    llmcompass): a host clock around `a @ b` and torch.cuda.synchronize(), call
    after call, no cache flush. Records with timing "sync": compare predicts them
    as the op's host time plus the kernel, the device idling for the host's time
    between calls and its power limit holding for the loop's average."""
    torch_defaults()
    shapes = [(m, 12288, 12288) for m in (64, 128, 256, 512, 1024, 2048)]
    shapes += [(8192, n, n) for n in (64, 256, 1024, 4096, 8192)]
    for m, n, k in shapes:
        a = torch.randn(m, k, device="cuda", dtype=torch.float16)
        b = torch.randn(k, n, device="cuda", dtype=torch.float16)

        def call():
            t0 = time.perf_counter()
            a @ b
            torch.cuda.synchronize()
            return (time.perf_counter() - t0) * 1e3

        for _ in range(3):
            call()
        reps = int(min(1000, max(10, timer.budget_ms / max(call(), 1e-3))))
        times = [call() for _ in range(reps)]
        out({"section": "gemm", "timing": "sync", "dtype": "fp16", "M": m, "N": n, "K": k, "l2": "hot",
             "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times), "reps": reps,
             "tflops": 2 * m * n * k / (statistics.median(times) * 1e-3) / 1e12})


def attn(timer, out):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backends = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
                "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
    for H, D in ((32, 64), (16, 128)):
        for B, S in ((32, 512), (16, 1024), (8, 2048), (4, 4096), (2, 8192), (1, 16384)):
            q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
            for causal in (False, True):
                for name, be in backends.items():
                    if name == "math" and S > 4096:
                        continue
                    try:
                        with sdpa_kernel(be):
                            r = timer.run(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
                    except RuntimeError as e:
                        print(f"attn {name} B={B} S={S} D={D}: {e}", file=sys.stderr)
                        continue
                    r.update(section="attn", backend=name, dtype="bf16", B=B, H=H, S=S, D=D, causal=causal)
                    r["tflops"] = 4 * B * H * S * S * D / (2 if causal else 1) / (r["median_ms"] * 1e-3) / 1e12
                    out(r)
                    if name not in ("flash", "cudnn"):
                        continue
                    # The backward kernels alone (`pass: backward`; 2.5x the forward's
                    # FLOPs): gradients of q, k, v for a fixed dO, the graph kept.
                    qg, kg, vg = (t.detach().requires_grad_() for t in (q, k, v))
                    try:
                        with sdpa_kernel(be):
                            o = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal)
                            do = torch.randn_like(o)
                            r = timer.run(lambda: torch.autograd.grad(o, (qg, kg, vg), do, retain_graph=True))
                    except RuntimeError as e:
                        print(f"attn backward {name} B={B} S={S} D={D}: {e}", file=sys.stderr)
                        continue
                    r.update(section="attn", backend=name, dtype="bf16", B=B, H=H, S=S, D=D, causal=causal,
                             **{"pass": "backward"})
                    r["tflops"] = 2.5 * 4 * B * H * S * S * D / (2 if causal else 1) / (r["median_ms"] * 1e-3) / 1e12
                    out(r)
    for B in (1, 8, 32):
        for S in (1024, 4096, 16384):
            q = torch.randn(B, 32, 1, 128, device="cuda", dtype=torch.bfloat16)
            k, v = (torch.randn(B, 32, S, 128, device="cuda", dtype=torch.bfloat16) for _ in range(2))
            r = timer.run(lambda: F.scaled_dot_product_attention(q, k, v))
            kv = 2 * B * 32 * S * 128 * 2
            r.update(section="attn", backend="default", dtype="bf16", B=B, H=32, Sq=1, S=S, D=128, causal=False,
                     kv_bytes=kv, GBps=kv / (r["median_ms"] * 1e-3) / 1e9)
            out(r)


def vec(timer, out):
    for dtype in ("bf16", "fp32"):
        for T in (512, 4096, 32768):
            for d in (768, 4096, 12288):
                x = torch.randn(T, d, device="cuda", dtype=DT[dtype])
                w = torch.ones(d, device="cuda", dtype=DT[dtype])
                ops = {"layernorm": lambda: F.layer_norm(x, (d,), w, w), "rmsnorm": lambda: F.rms_norm(x, (d,), w),
                       "softmax": lambda: torch.softmax(x, -1), "gelu": lambda: F.gelu(x), "add": lambda: x + x}
                for name, fn in ops.items():
                    r = timer.run(fn)
                    nbytes = 2 * x.numel() * x.element_size()
                    r.update(section="vec", op=name, dtype=dtype, T=T, d=d, bytes_moved=nbytes,
                             GBps=nbytes / (r["median_ms"] * 1e-3) / 1e9)
                    out(r)


def membw(timer, out):
    for shift in (20, 22, 24, 25, 26, 27, 28, 30, 32):
        n = (1 << shift) // 4
        src = torch.randn(n, device="cuda")
        dst = torch.empty_like(src)
        r = timer.run(lambda: dst.copy_(src))
        r.update(section="membw", op="copy", bytes_moved=8 * n, l2="cold" if timer.cold else "hot",
                 GBps=8 * n / (r["median_ms"] * 1e-3) / 1e9)
        out(r)
        r = timer.run(lambda: src.sum())
        r.update(section="membw", op="read_sum_fp32", bytes_moved=4 * n, l2="cold" if timer.cold else "hot",
                 GBps=4 * n / (r["median_ms"] * 1e-3) / 1e9)
        out(r)


class EnergyMeter:
    """The GPU's energy counter (NVML): idle power after a pause, and sustained runs
    of ~3 s with the joules spent, the wall time, the iterations and SM clock samples."""

    def __init__(self):
        import pynvml
        self.nvml = pynvml
        pynvml.nvmlInit()
        self.h = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())

    def idle_watts(self):
        time.sleep(2)
        return self.nvml.nvmlDeviceGetPowerUsage(self.h) / 1e3

    def sustained(self, fn, seconds=3.0):
        nv, h = self.nvml, self.h
        fn()
        torch.cuda.synchronize()
        e0, t0, iters, clocks = nv.nvmlDeviceGetTotalEnergyConsumption(h), time.time(), 0, []
        while time.time() - t0 < seconds:
            for _ in range(10):
                fn()
            iters += 10
            torch.cuda.synchronize()
            clocks.append(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM))
        dt = time.time() - t0
        return (nv.nvmlDeviceGetTotalEnergyConsumption(h) - e0) / 1e3, dt, iters, clocks


def energy(timer, out):
    meter = EnergyMeter()
    sustained = meter.sustained
    idle = meter.idle_watts()
    out({"section": "energy", "op": "idle", "watts": idle})
    # The same formats as the reference data, so that `tessera calibrate` fits an
    # energy per FLOP for each tensor pipe (fp8 and int8 included).
    for dtype, n in (("bf16", 8192), ("fp16", 8192), ("fp8_e4m3", 8192), ("tf32", 8192), ("fp32", 4096),
                     ("int8", 8192)):
        torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
        if dtype == "fp8_e4m3":
            a = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn)
            bt = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn).t()
            one = torch.tensor(1.0, device="cuda")
            fn = lambda: torch._scaled_mm(a, bt, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        elif dtype == "int8":
            a = torch.randint(-8, 8, (n, n), dtype=torch.int8, device="cuda")
            bt = torch.randint(-8, 8, (n, n), dtype=torch.int8, device="cuda").t()
            fn = lambda: torch._int_mm(a, bt)
        else:
            a = torch.randn(n, n, device="cuda", dtype=DT[dtype])
            fn = lambda: a @ a
        j, s, it, clk = sustained(fn)
        fl = 2 * n ** 3 * it
        out({"section": "energy", "op": "gemm", "dtype": dtype, "M": n, "N": n, "K": n, "iters": it, "joules": j,
             "seconds": s, "avg_watts": j / s, "idle_watts": idle, "pj_per_flop": j / fl * 1e12,
             "pj_per_flop_above_idle": (j - idle * s) / fl * 1e12, "sm_clock_mhz": clk, "tflops": fl / s / 1e12})
    src = torch.randn(1 << 28, device="cuda")
    dst = torch.empty_like(src)
    j, s, it, clk = sustained(lambda: dst.copy_(src))
    b = 8 * src.numel() * it
    out({"section": "energy", "op": "copy", "bytes_moved_per_iter": 8 * src.numel(), "iters": it, "joules": j,
         "seconds": s, "avg_watts": j / s, "idle_watts": idle, "pj_per_byte": j / b * 1e12,
         "pj_per_byte_above_idle": (j - idle * s) / b * 1e12, "GBps": b / s / 1e9})


def energy2(timer, out):
    """Memory energies as in the reference `energy2` records: replayed CUDA graphs
    (no launch gaps) of an L2-resident copy (8 MiB, 50 copies per graph), a 1 GiB
    fp32 read-sum and a 1 GiB copy, each sustained for ~3 s."""
    meter = EnergyMeter()
    idle = meter.idle_watts()
    out({"section": "energy2", "op": "idle", "watts": idle})

    def graph_of(fn, times):
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            fn()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(times):
                fn()
        return g

    small_src = torch.randn(2 << 20, device="cuda")   # 8 MiB of fp32
    small_dst = torch.empty_like(small_src)
    big_src = torch.randn(1 << 28, device="cuda")     # 1 GiB of fp32
    big_dst = torch.empty_like(big_src)
    cases = (("copy_l2_resident_8MiB_x50", graph_of(lambda: small_dst.copy_(small_src), 50), 50 * 2 * (8 << 20)),
             ("read_sum_hbm_1GiB", graph_of(lambda: big_src.sum(), 1), 1 << 30),
             ("copy_hbm_1GiB", graph_of(lambda: big_dst.copy_(big_src), 1), 2 << 30))
    for op, g, nbytes in cases:
        j, dt, iters, clocks = meter.sustained(g.replay)
        b = nbytes * iters
        out({"section": "energy2", "op": op, "iters": iters, "joules": j, "seconds": dt, "avg_watts": j / dt,
             "idle_watts": idle, "sm_clock_mhz": clocks, "bytes_per_iter": nbytes, "pj_per_byte": j / b * 1e12,
             "pj_per_byte_above_idle": (j - idle * dt) / b * 1e12, "GBps": b / dt / 1e9})


def resnet50_convs():
    """The 23 distinct convolutions of torchvision's ResNet-50 v1.5 at 224 x 224: (name,
    cin, cout, H, R, stride, pad), H the input height (= width). Bottleneck blocks
    put the stride on the 3x3 convolution; the first block of each stage has a
    strided (or, in layer1, unstrided) 1x1 downsample."""
    convs = [("conv1", 3, 64, 224, 7, 2, 3)]
    cin, h = 64, 56
    for stage, (width, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
        out_c = 4 * width
        convs += [(f"layer{stage}.0.conv1", cin, width, h, 1, 1, 0),
                  (f"layer{stage}.0.conv2", width, width, h, 3, stride, 1),
                  (f"layer{stage}.0.conv3", width, out_c, h // stride, 1, 1, 0),
                  (f"layer{stage}.0.downsample", cin, out_c, h, 1, stride, 0),
                  (f"layer{stage}.1.conv1", out_c, width, h // stride, 1, 1, 0),
                  (f"layer{stage}.1.conv2", width, width, h // stride, 3, 1, 1)]
        cin, h = out_c, h // stride
    seen = set()   # layer1's downsample is shaped like its conv3, layer1.1.conv2 like layer1.0.conv2
    return [c for c in convs if c[1:] not in seen and not seen.add(c[1:])]


def conv(timer, out):
    """ResNet-50's convolutions alone, cuDNN's default algorithm choice
    (torch.backends.cudnn.benchmark off), bf16 and fp32 on TF32 (PyTorch's default
    torch.backends.cudnn.allow_tf32): channels-last at batch 1 to 256, and PyTorch's
    default NCHW layout (contiguous) at batch 32, whose kernel names show any layout
    conversions cuDNN adds around its NHWC kernels."""
    runs = [(N, "channels_last", torch.channels_last) for N in (1, 8, 32, 128, 256)]
    runs.append((32, "contiguous", torch.contiguous_format))
    for dtype in ("bf16", "tf32"):
        torch_defaults()
        torch.backends.cudnn.allow_tf32 = dtype == "tf32"
        for N, fmt_name, fmt in runs:
            for name, cin, cout, H, R, st, pad in resnet50_convs():
                x = torch.randn(N, cin, H, H, device="cuda", dtype=DT[dtype]).to(memory_format=fmt)
                w = torch.randn(cout, cin, R, R, device="cuda", dtype=DT[dtype]).to(memory_format=fmt)
                r = timer.run(lambda: F.conv2d(x, w, stride=st, padding=pad))
                ho = (H + 2 * pad - R) // st + 1
                r.update(section="conv", dtype=dtype, layer=name, N=N, Cin=cin, Cout=cout, H=H, W=H, R=R, S=R,
                         stride=st, pad=pad, Ho=ho, memory_format=fmt_name, cudnn_benchmark=False,
                         l2="cold" if timer.cold else "hot")
                r["tflops"] = 2 * N * ho * ho * cout * cin * R * R / (r["median_ms"] * 1e-3) / 1e12
                r["kernels"] = kernel_names(lambda: F.conv2d(x, w, stride=st, padding=pad))
                out(r)
                x = w = None


def r3d18_convs():
    """The 11 distinct Conv3d layers of torchvision's R3D-18 on 16 x 112 x 112 clips:
    (name, cin, cout, (D, H), (T, R), (stride_d, stride), (pad_d, pad)). The stem is 3x7x7
    with stride (1, 2, 2); each stage's first block strides 2 on all three axes, with a
    1x1x1 downsample."""
    convs = [("stem.0", 3, 64, (16, 112), (3, 7), (1, 2), (1, 3)),
             ("layer1.0.conv1.0", 64, 64, (16, 56), (3, 3), (1, 1), (1, 1))]
    d, h, cin = 16, 56, 64
    for stage, cout in ((2, 128), (3, 256), (4, 512)):
        convs += [(f"layer{stage}.0.conv1.0", cin, cout, (d, h), (3, 3), (2, 2), (1, 1)),
                  (f"layer{stage}.0.downsample.0", cin, cout, (d, h), (1, 1), (2, 2), (0, 0))]
        d, h, cin = d // 2, h // 2, cout
        convs.append((f"layer{stage}.0.conv2.0", cout, cout, (d, h), (3, 3), (1, 1), (1, 1)))
    return convs


def conv3d(timer, out):
    """R3D-18's Conv3d layers alone (section "conv" records with D, T, stride_d and
    pad_d), channels_last_3d, bf16 and fp32 on TF32 at batch 1 and 8, cuDNN's default
    algorithm choice, with the kernels that ran."""
    for dtype in ("bf16", "tf32"):
        torch_defaults()
        torch.backends.cudnn.allow_tf32 = dtype == "tf32"
        for N in (1, 8):
            for name, cin, cout, (D, H), (T, R), (sd, st), (pd, pad) in r3d18_convs():
                x = torch.randn(N, cin, D, H, H, device="cuda", dtype=DT[dtype])
                x = x.to(memory_format=torch.channels_last_3d)
                w = torch.randn(cout, cin, T, R, R, device="cuda", dtype=DT[dtype])
                w = w.to(memory_format=torch.channels_last_3d)
                fn = lambda: F.conv3d(x, w, stride=(sd, st, st), padding=(pd, pad, pad))  # noqa: E731
                r = timer.run(fn)
                do, ho = (D + 2 * pd - T) // sd + 1, (H + 2 * pad - R) // st + 1
                r.update(section="conv", dtype=dtype, layer=name, N=N, Cin=cin, Cout=cout, D=D, H=H, W=H, T=T,
                         R=R, S=R, stride=st, stride_d=sd, pad=pad, pad_d=pd, memory_format="channels_last",
                         cudnn_benchmark=False, l2="cold" if timer.cold else "hot")
                r["tflops"] = 2 * N * do * ho * ho * cout * cin * T * R * R / (r["median_ms"] * 1e-3) / 1e12
                r["kernels"] = kernel_names(fn)
                out(r)
                x = w = None


def profiled_kernels(fn):
    """One call of fn under the profiler: (summed GPU kernel time in us, the kernels
    as [name, calls, us] rows, longest first). Kernel (and memcpy/memset) events
    carry the device type CUDA; their self device time is their own duration
    (microseconds). Operator events carry the same kernels' time again as their self
    device time, so only device events count. The rows let a whole-model record be
    compared kernel by kernel (which library kernel ran, and for how long)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        fn()
        torch.cuda.synchronize()
    rows = [[e.key, e.count, round(e.self_device_time_total, 3)] for e in p.key_averages()
            if e.device_type == DeviceType.CUDA]
    rows.sort(key=lambda r: -r[2])
    return sum(r[2] for r in rows), rows


def kernel_names(fn):
    """The names of the GPU kernels one call of fn launches (profiler, after a warm-up
    call), sorted: which library kernel ran (cuBLAS's choice for a misaligned or
    partial-tile GEMM, cuDNN's algorithm for a convolution), for the model's rules."""
    fn()
    return sorted(r[0] for r in profiled_kernels(fn)[1])


def _busy_into(fn, rec):
    """Summed GPU kernel time of one profiled call; with rec, the per-kernel rows go
    to rec["kernel_us"]."""
    us, rows = profiled_kernels(fn)
    if rec is not None:
        rec["kernel_us"] = rows
    return us


def busy_us(fn, rec=None):
    """Sum of GPU kernel time of one call, after one warm-up call (rows into rec)."""
    fn()
    return _busy_into(fn, rec)


def step_busy_us(step, zero_grad, rec=None):
    """Summed GPU kernel time of one training step. Warm-up steps first (the
    optimizer creates its state on the first); zero_grad(set_to_none=True) runs
    before each step, outside the profiled region. With rec, the per-kernel rows go
    to rec["kernel_us"]."""
    for _ in range(3):
        zero_grad()
        step()
    zero_grad()
    return _busy_into(step, rec)


def train(timer, out):
    """One training step per model and optimizer: the forward, out.backward(dy) from a
    given output gradient (no loss kernel), optimizer.step() with torch.optim's CUDA
    defaults (foreach unless fused=True). model.train() (batch-norm on batch
    statistics) with every dropout probability 0 (dropout is not modelled); HF models
    return last_hidden_state (BERT's pooler gets no gradient) and run with
    use_cache=False where they have a cache. Parameters and optimizer state are in
    the model's dtype (model.to(bf16))."""
    tv, hf = optional_module("torchvision", "train"), optional_module("transformers", "train")
    optimizers = {"adamw": lambda ps: torch.optim.AdamW(ps),
                  "adamw_fused": lambda ps: torch.optim.AdamW(ps, fused=True),
                  "sgd": lambda ps: torch.optim.SGD(ps, lr=1e-3),
                  "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9)}

    def measure(name, model, batch, seq, forward, fields=None):
        model.train()
        with torch.no_grad():
            dy = torch.randn_like(forward())
        for oname, make in optimizers.items():
            opt = make(model.parameters())

            def step():
                forward().backward(dy)
                opt.step()

            rec = {"section": "train", "model": name, "dtype": "bf16", "batch": batch, "seq": seq,
                   "optimizer": oname, "params": sum(p.numel() for p in model.parameters()), **(fields or {})}
            rec["device_busy_us"] = step_busy_us(step, lambda: opt.zero_grad(set_to_none=True), rec)
            out(rec)
            opt = None   # free the optimizer state before the next one
            torch.cuda.empty_cache()

    # nn.LSTM / nn.GRU at the built-ins' defaults (input = hidden = 1024, 2 layers, 32
    # steps of 16 sequences): _cudnn_rnn forward, _cudnn_rnn_backward, the optimizer.
    for name, cls in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
        m = cls(1024, 1024, 2).cuda().to(torch.bfloat16)
        x = torch.randn(32, 16, 1024, device="cuda", dtype=torch.bfloat16)
        measure(name, m, 16, 32, lambda: m(x)[0], {"input": 1024, "hidden": 1024, "layers": 2})
        m = x = None
    if tv is not None:
        m = tv.models.resnet50().cuda().to(torch.bfloat16).to(memory_format=torch.channels_last)
        x = torch.randn(32, 3, 224, 224, device="cuda", dtype=torch.bfloat16).to(memory_format=torch.channels_last)
        measure("resnet50", m, 32, 0, lambda: m(x))
        m = x = None
    if hf is None:
        return
    for name, model, batch, seq in (
            ("bert-base", hf.BertModel(hf.BertConfig(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)),
             8, 512),
            ("gpt2-small", hf.GPT2Model(hf.GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)), 8, 1024),
            ("llama7b-4layers", hf.LlamaModel(hf.LlamaConfig(num_hidden_layers=4)), 1, 2048)):
        model = model.cuda().to(torch.bfloat16)
        ids = torch.randint(0, model.config.vocab_size, (batch, seq), device="cuda")
        kwargs = {} if name == "bert-base" else {"use_cache": False}
        measure(name, model, batch, seq, lambda: model(ids, **kwargs).last_hidden_state)
        model = ids = None
        torch.cuda.empty_cache()


def train_amp(timer, out):
    """Mixed-precision training steps as shared/reference/models/train_amp.py writes
    them: an fp32 model (its master weights) under torch.autocast("cuda", bf16 or
    fp16), the loss y.float().pow(2).mean(), loss.backward(), optimizer.step(); with
    fp16 the step most fp16 users run, torch.amp.GradScaler's
    scaler.scale(loss).backward(), scaler.step(opt), scaler.update(). One record per
    model, amp type and optimizer (fused AdamW, train_amp.py's, and the foreach
    default), in the `train` section with fields amp, loss, optimizer."""
    tv, hf = optional_module("torchvision", "train_amp"), optional_module("transformers", "train_amp")
    optimizers = {"adamw_fused": lambda ps: torch.optim.AdamW(ps, lr=1e-4, fused=True),
                  "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-4)}
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}

    def measure(name, model, batch, seq, forward, amps=tuple(dtypes), opts=tuple(optimizers), extra=None):
        model.train()
        for amp in amps:
            dt = dtypes[amp]
            for oname in opts:
                make = optimizers[oname]
                opt = make(model.parameters())
                scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None

                def step():
                    with torch.autocast("cuda", dtype=dt):
                        loss = forward().float().pow(2).mean()
                    if scaler is None:
                        loss.backward()
                        opt.step()
                    else:
                        scaler.scale(loss).backward()
                        scaler.step(opt)
                        scaler.update()

                rec = {"section": "train", "model": name, "amp": amp, "loss": "pow2_mean", "batch": batch,
                       "seq": seq, "optimizer": oname, "params": sum(p.numel() for p in model.parameters()),
                       **(extra or {})}
                rec["device_busy_us"] = step_busy_us(step, lambda: opt.zero_grad(set_to_none=True), rec)
                out(rec)
                opt = scaler = None
                torch.cuda.empty_cache()

    if tv is not None:
        m = tv.models.resnet50().cuda().to(memory_format=torch.channels_last)
        x = torch.randn(32, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
        measure("resnet50", m, 32, 0, lambda: m(x))
        m = x = None
    if hf is None:
        return
    for name, model, batch, seq in (
            ("bert-base", hf.BertModel(hf.BertConfig(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                                     attn_implementation="sdpa")), 8, 512),
            ("gpt2-small", hf.GPT2Model(hf.GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                                      attn_implementation="sdpa")), 8, 1024)):
        model = model.cuda()
        ids = torch.randint(0, model.config.vocab_size, (batch, seq), device="cuda")
        kwargs = {} if name == "bert-base" else {"use_cache": False}
        measure(name, model, batch, seq, lambda: model(ids, **kwargs).last_hidden_state)
        model = ids = None
        torch.cuda.empty_cache()
    # HF's default configs train with every dropout at 0.1 (BERT hidden and
    # attention, GPT-2 embeddings, residuals and attention): one bf16 fused-AdamW
    # step each, recorded with the field dropout.
    for name, model, batch, seq in (
            ("bert-base", hf.BertModel(hf.BertConfig(attn_implementation="sdpa")), 8, 512),
            ("gpt2-small", hf.GPT2Model(hf.GPT2Config(attn_implementation="sdpa")), 8, 1024)):
        model = model.cuda()
        ids = torch.randint(0, model.config.vocab_size, (batch, seq), device="cuda")
        kwargs = {} if name == "bert-base" else {"use_cache": False}
        measure(name, model, batch, seq, lambda: model(ids, **kwargs).last_hidden_state, amps=("bf16",),
                opts=("adamw_fused",), extra={"dropout": 0.1})
        model = ids = None
        torch.cuda.empty_cache()


def optional_module(name, section):
    """The module, or None after a line on stderr saying which part of the section
    is skipped without it (the GPU machine may lack torchvision or transformers)."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"{section}: Python module {name} is not installed; its models are skipped", file=sys.stderr)
        return None


def reference_module(name, section):
    """A module of shared/reference/models (--models), or None after a line on stderr."""
    import importlib.util
    path = os.path.join(MODELS_DIR, name + ".py")
    if not os.path.isfile(path):
        print(f"{section}: reference module {path} not found (--models DIR); section skipped", file=sys.stderr)
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def e2eg(timer, out):
    """Whole models' inference forward: the profiler's summed kernel time of one call
    (device_busy_us, what compare predicts) and CUDA events around it (median_ms,
    host time included, no L2 flush)."""
    hot = Timer(timer.budget_ms, cold=False)

    def measure(rec, fn):
        with torch.no_grad():
            rec["device_busy_us"] = busy_us(fn, rec)
            rec["median_ms"] = hot.run(fn)["median_ms"]
        out(rec)

    def batches_of(m, batches, make_x, fields):
        """One record per batch: the kernels one forward launches, then its time."""
        for batch in batches:
            x = make_x(batch)
            rec = {"section": "e2eg", **fields, "batch": batch}
            with torch.no_grad():
                rec["kernels"] = kernel_names(lambda: m(x))
            measure(rec, lambda: m(x))
            x = None
        torch.cuda.empty_cache()

    # torch.nn.LSTM / nn.GRU (one _cudnn_rnn call each forward): the built-ins'
    # defaults (input = hidden = 1024, 2 layers, 32 steps) at batch 1, 16 and 64, and a
    # small network (hidden 128, 1 layer, 100 steps: PyTorch's get_algo picks cuDNN's
    # persistent small-h algorithm there), bf16 and fp32; the kernel names show the
    # algorithm cuDNN ran.
    for dtype in ("bf16", "fp32"):
        for name, cls in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
            for size, layers, seq, batches in ((1024, 2, 32, (1, 16, 64)), (128, 1, 100, (1, 16))):
                m = cls(size, size, layers).cuda().to(DT[dtype]).eval()
                batches_of(m, batches, lambda b: torch.randn(seq, b, size, device="cuda", dtype=DT[dtype]),
                           {"model": name, "dtype": dtype, "seq": seq, "input": size, "hidden": size,
                            "layers": layers})
                m = None
    tv = optional_module("torchvision", "e2eg")
    if tv is not None:
        # fp32 runs its convolutions on TF32 and its fc layer in fp32 (PyTorch's defaults).
        # channels_last at every batch, PyTorch's default layout (contiguous, NCHW) at
        # batch 32 and 256; each record names the kernels one forward launches (which
        # convolution kernels cuDNN takes for the layout and format, and any layout
        # transposes around them).
        for dtype in ("bf16", "fp32"):
            for fmt_name, fmt, batches in (("channels_last", torch.channels_last, (1, 8, 32, 128, 256)),
                                           ("contiguous", torch.contiguous_format, (32, 256))):
                m = tv.models.resnet50().cuda().to(DT[dtype]).eval().to(memory_format=fmt)
                batches_of(m, batches,
                           lambda b: torch.randn(b, 3, 224, 224, device="cuda", dtype=DT[dtype]).to(memory_format=fmt),
                           {"model": "resnet50", "dtype": dtype, "seq": 0, "layers": 50, "memory_format": fmt_name})
                m = None
        # torchvision.models.video (Conv3d, BatchNorm3d): Kinetics clips of 16 frames
        # of 112 x 112, channels_last_3d (cuDNN's NDHWC kernels), bf16 and fp32 (TF32).
        for dtype in ("bf16", "fp32"):
            for name in ("r3d_18", "r2plus1d_18"):
                m = getattr(tv.models.video, name)().cuda().to(DT[dtype]).eval()
                m = m.to(memory_format=torch.channels_last_3d)
                batches_of(m, (1, 8, 32),
                           lambda b: torch.randn(b, 3, 16, 112, 112, device="cuda",
                                                 dtype=DT[dtype]).to(memory_format=torch.channels_last_3d),
                           {"model": name, "dtype": dtype, "frames": 16, "image": 112, "seq": 0,
                            "memory_format": "channels_last"})
                m = None
    hf = optional_module("transformers", "e2eg")
    if hf is None:
        return
    for name, model, seq in (("bert-base", hf.BertModel(hf.BertConfig()), 512),
                             ("gpt2-small", hf.GPT2Model(hf.GPT2Config()), 1024),
                             ("llama7b-4layers-prefill", hf.LlamaModel(hf.LlamaConfig(num_hidden_layers=4)), 2048)):
        model = model.cuda().to(torch.bfloat16).eval()
        for batch in (1, 8):
            ids = torch.randint(0, 1000, (batch, seq), device="cuda")
            measure({"section": "e2eg", "model": name, "dtype": "bf16", "batch": batch, "seq": seq,
                     "layers": model.config.num_hidden_layers}, lambda: model(ids))
            if name == "bert-base" and batch > 1:
                # A tokenizer's attention_mask: all ones (HF checks it and passes no
                # mask), and padded (every other sequence 3/4 long: HF builds a
                # [batch, 1, seq, seq] bool mask that SDPA reads).
                ones = torch.ones(batch, seq, dtype=torch.int64, device="cuda")
                padded = ones.clone()
                padded[::2, seq * 3 // 4:] = 0
                for kind, mask in (("ones", ones), ("padded", padded)):
                    rec = {"section": "e2eg", "model": name, "dtype": "bf16", "batch": batch, "seq": seq,
                           "layers": model.config.num_hidden_layers, "attention_mask": kind}
                    with torch.no_grad():
                        rec["kernels"] = kernel_names(lambda: model(ids, attention_mask=mask))
                    measure(rec, lambda: model(ids, attention_mask=mask))
        model = ids = None
        torch.cuda.empty_cache()


def decode(timer, out):
    """shared/reference/models/decode_static.py: one decode step of 32 LLaMA-7B-shaped
    layers against a static KV cache of ctx positions, captured as a CUDA graph; the
    record is the median replay (CUDA events, no L2 flush)."""
    ref = reference_module("decode_static", "decode")
    if ref is None:
        return
    # KV cache: 32 layers x 2 x ctx x 4096 x 2 B = 512 KiB per position and sequence.
    for batch, ctx in ((1, 1024), (1, 4096), (8, 2048), (16, 4096), (64, 1024)):
        # The parameters are initialised on the GPU (torch.device("cuda") as the
        # default device), not as 6.5e9 fp32 values on the CPU for each case. Only
        # their values differ, not the step.
        with torch.no_grad(), torch.device("cuda"):
            step = ref.make_step(batch, ctx)
            side = torch.cuda.Stream()   # warm-up off the default stream before capture
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                step()
            r = Timer(timer.budget_ms, cold=False).run(g.replay)
            # The same kernels run eagerly once under the profiler: their own durations.
            rows = profiled_kernels(step)[1]
        out({"section": "decode", "model": "decode_static", "dtype": "bf16", "batch": batch, "ctx": ctx, "layers": 32,
             "graph_median_ms": r["median_ms"], "min_ms": r["min_ms"], "max_ms": r["max_ms"], "reps": r["reps"],
             "kernel_us": rows})
        step = g = None
        torch.cuda.empty_cache()


def evoformer(timer, out):
    """shared/reference/models/evoformer_sdpa.py: one Evoformer block's eager forward
    under torch.inference_mode(), CUDA events, no L2 flush, fp32 and bf16. With
    OpenFold installed, its EvoformerBlock too (records with variant "openfold")."""
    hot = Timer(timer.budget_ms, cold=False)
    shapes = ((128, 256), (256, 256), (128, 384), (512, 384))
    ref = reference_module("evoformer_sdpa", "evoformer")
    if ref is not None:
        for dtype in ("fp32", "bf16"):
            for n_seq, n_res in shapes:
                blk = ref.Evoformer().to("cuda", DT[dtype]).eval()
                m = torch.randn(n_seq, n_res, 256, device="cuda", dtype=DT[dtype])
                z = torch.randn(n_res, n_res, 128, device="cuda", dtype=DT[dtype])
                with torch.inference_mode():
                    r = hot.run(lambda: blk(m, z))
                    # The kernels one forward launches (which SDPA backend each attention
                    # took: the pair bias's stride sends three of them to the math path)
                    # and their summed time, beside the event time compare predicts.
                    r["kernels"] = kernel_names(lambda: blk(m, z))
                    r["device_busy_us"] = busy_us(lambda: blk(m, z), r)
                r.update(section="evoformer", variant="sdpa", dtype=dtype, n_seq=n_seq, n_res=n_res, c_m=256, c_z=128)
                out(r)
                blk = m = z = None
                torch.cuda.empty_cache()
    try:
        from openfold.model.evoformer import EvoformerBlock
    except ImportError:
        print("evoformer: openfold is not installed; its EvoformerBlock is skipped", file=sys.stderr)
        return
    # AlphaFold-2's block (OpenFold's model_1 config). The constructor's arguments
    # differ between OpenFold releases (opm_first and fuse_projection_weights from
    # 2.0, transition_type later): only those this release takes are passed.
    import inspect
    config = dict(c_m=256, c_z=128, c_hidden_msa_att=32, c_hidden_opm=32, c_hidden_mul=128, c_hidden_pair_att=32,
                  no_heads_msa=8, no_heads_pair=4, transition_type="relu", transition_n=4, msa_dropout=0.0,
                  pair_dropout=0.0, no_column_attention=False, opm_first=False, fuse_projection_weights=False,
                  inf=1e9, eps=1e-10)
    takes = inspect.signature(EvoformerBlock.__init__).parameters
    missing = [n for n, prm in takes.items() if n not in ("self", "args", "kwargs") and n not in config
               and prm.default is inspect.Parameter.empty]
    if missing:
        print(f"evoformer: this OpenFold's EvoformerBlock needs {', '.join(missing)}, which this script does "
              "not know; its records are skipped", file=sys.stderr)
        return
    config = {k: v for k, v in config.items() if k in takes}
    for n_seq, n_res in shapes:
        blk = EvoformerBlock(**config).cuda().to(torch.bfloat16).eval()
        m = torch.randn(1, n_seq, n_res, 256, device="cuda", dtype=torch.bfloat16)
        z = torch.randn(1, n_res, n_res, 128, device="cuda", dtype=torch.bfloat16)
        mm = torch.ones(1, n_seq, n_res, device="cuda", dtype=torch.bfloat16)
        pm = torch.ones(1, n_res, n_res, device="cuda", dtype=torch.bfloat16)
        with torch.no_grad():
            r = hot.run(lambda: blk(m, z, mm, pm))
        r.update(section="evoformer", variant="openfold", dtype="bf16", n_seq=n_seq, n_res=n_res, c_m=256, c_z=128)
        out(r)


SECTIONS = {"gemm": gemm, "gemm_odd": gemm_odd, "gemm_sync": gemm_sync, "attn": attn, "vec": vec, "membw": membw, "energy": energy, "energy2": energy2, "conv": conv, "conv3d": conv3d,
            "e2eg": e2eg, "decode": decode, "evoformer": evoformer, "train": train, "train_amp": train_amp}


def _need(modules, hint):
    """When this interpreter lacks `modules`, runs the script again under Debian's
    /usr/bin/python3 if that one has them, or exits with one line naming them."""
    import importlib.util
    import os
    import subprocess
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    system = "/usr/bin/python3"
    if (os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system)
            and subprocess.run([system, "-c", "import " + ", ".join(modules)],
                               capture_output=True).returncode == 0):
        os.execv(system, [system, os.path.abspath(sys.argv[0])] + sys.argv[1:])
    sys.exit(f"{os.path.basename(sys.argv[0])}: Python module {', '.join(missing)} not found "
             f"for {sys.executable}; {hint}")


def main():
    global torch, F, MODELS_DIR
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sections", default=",".join(k for k in SECTIONS if k != "gemm_odd"),
                    help="comma-separated sections (default: all but gemm_odd, which gemm contains)")
    ap.add_argument("--budget-ms", type=float, default=150.0, help="time the repetitions of one case fill")
    ap.add_argument("--hot", action="store_true", help="do not flush the L2 between repetitions")
    ap.add_argument("--models", default=MODELS_DIR,
                    help="directory of the reference modules decode_static.py and evoformer_sdpa.py "
                         "(default: shared/reference/models beside the repository)")
    args = ap.parse_args()
    for name in args.sections.split(","):
        if name not in SECTIONS:
            print(f"measure_gpu.py: --sections: unknown section '{name}'; accepted: {', '.join(SECTIONS)}",
                  file=sys.stderr)
            sys.exit(2)
    MODELS_DIR = args.models
    _need(["torch"], "it needs PyTorch with CUDA and an NVIDIA GPU")
    try:
        import torch as torch_module
        import torch.nn.functional as functional
    except ImportError:
        print("measure_gpu.py: PyTorch is not installed (it needs PyTorch with CUDA and an NVIDIA GPU)",
              file=sys.stderr)
        sys.exit(2)
    torch, F = torch_module, functional
    DT.update(bf16=torch.bfloat16, fp16=torch.float16, fp32=torch.float32, tf32=torch.float32)
    if not torch.cuda.is_available():
        print("measure_gpu.py: PyTorch sees no CUDA GPU", file=sys.stderr)
        sys.exit(2)
    timer = Timer(args.budget_ms, cold=not args.hot)
    # Records go to a temporary file renamed at the end: an interrupted run leaves
    # no partial file under the requested name.
    tmp = args.out + ".partial"
    with open(tmp, "w") as f:
        p = torch.cuda.get_device_properties(0)
        info = {"section": "info", "name": p.name, "sm_count": p.multi_processor_count, "total_mem": p.total_memory,
                "cc": f"{p.major}.{p.minor}", "l2_bytes": getattr(p, "L2_cache_size", 0), "torch": torch.__version__,
                "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
        f.write(json.dumps(info) + "\n")

        def out(rec):
            f.write(json.dumps(rec) + "\n")
            f.flush()

        # A section that fails (a library missing an operator, an out-of-memory on a
        # smaller GPU) is named with its traceback, and the other sections still run:
        # a device session is short. The file keeps what the run measured; the exit
        # status is 1 when a section failed.
        failed = []
        for name in args.sections.split(","):
            torch_defaults()
            try:
                SECTIONS[name](timer, out)
            except Exception:  # noqa: BLE001 - reported, then the next section runs
                import traceback
                traceback.print_exc()
                print(f"measure_gpu.py: section '{name}' failed (above); its remaining records are missing",
                      file=sys.stderr)
                failed.append(name)
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
    os.replace(tmp, args.out)
    if failed:
        print(f"measure_gpu.py: wrote {args.out} without the rest of section(s) {', '.join(failed)}",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
