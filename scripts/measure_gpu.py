#!/usr/bin/python3
"""Measures an NVIDIA GPU with PyTorch and writes records in the schema of
reference/h100/microbench.jsonl (one JSON object per line), for `tessera compare`
and `tessera calibrate`.

usage: scripts/measure_gpu.py --out my-gpu.jsonl [--sections gemm,attn,vec,membw,energy,energy2,conv,e2eg,decode,evoformer,train,train_amp]

Method (as in the reference data): CUDA events around the operation alone, warm-up
first, repetitions filling about --budget-ms, the median reported with min and max;
with a cold L2 (the default) a 256 MiB buffer is overwritten before every repetition.
Whole models: CUDA graphs (decode) or the profiler's summed kernel time (e2eg, and
train: one training step, forward + backward + optimizer.step(); train_amp: the
same under torch.autocast bf16, and fp16 with GradScaler).
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


def gemm(timer, out):
    shapes = [("square", n, n, n) for n in (128, 256, 512, 1024, 2048, 3072, 4096, 6144, 8192)]
    shapes += [("llm", m, n, k) for m in (1, 16, 128, 512, 2048, 8192)
               for n, k in ((4096, 4096), (11008, 4096), (4096, 11008), (12288, 4096), (32000, 4096))]
    for dtype in ("bf16", "fp16", "tf32", "fp32", "fp8_e4m3", "fp8_e4m3_fastacc", "int8"):
        torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
        for tag, m, n, k in shapes:
            if dtype.startswith(("fp8", "int8")) and (m < 16 or m % 16):
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
            r = timer.run(fn)
            r.update(section="gemm", dtype=dtype, M=m, N=n, K=k, tag=tag, l2="cold" if timer.cold else "hot")
            r["tflops"] = 2 * m * n * k / (r["median_ms"] * 1e-3) / 1e12
            out(r)


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


def conv(timer, out):
    torch.backends.cudnn.benchmark = True
    layers = [("conv1", 64, 3, 64, 224, 224, 7, 7, 2, 3), ("res2", 64, 64, 64, 56, 56, 3, 3, 1, 1),
              ("res3", 64, 128, 128, 28, 28, 3, 3, 1, 1), ("res4", 64, 256, 256, 14, 14, 3, 3, 1, 1),
              ("res5", 64, 512, 512, 7, 7, 3, 3, 1, 1), ("pw", 64, 256, 1024, 14, 14, 1, 1, 1, 0)]
    for dtype in ("bf16", "tf32"):
        torch.backends.cudnn.allow_tf32 = dtype == "tf32"
        for name, N, cin, cout, H, W, R, S, st, pad in layers:
            x = torch.randn(N, cin, H, W, device="cuda", dtype=DT[dtype]).to(memory_format=torch.channels_last)
            w = torch.randn(cout, cin, R, S, device="cuda", dtype=DT[dtype]).to(memory_format=torch.channels_last)
            r = timer.run(lambda: F.conv2d(x, w, stride=st, padding=pad))
            r.update(section="conv", dtype=dtype, layer=name, N=N, Cin=cin, Cout=cout, H=H, W=W, R=R, S=S,
                     stride=st, pad=pad, Ho=(H + 2 * pad - R) // st + 1)
            out(r)


def profiled_kernel_us(fn):
    """Summed GPU kernel time of one call of fn (profiler). Kernel (and memcpy/memset)
    events carry the device type CUDA; their self device time is their own duration
    (microseconds). Operator events carry the same kernels' time again as their self
    device time, so only device events count."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        fn()
        torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in p.key_averages() if e.device_type == DeviceType.CUDA)


def busy_us(fn):
    """Sum of GPU kernel time of one call, after one warm-up call."""
    fn()
    return profiled_kernel_us(fn)


def step_busy_us(step, zero_grad):
    """Summed GPU kernel time of one training step. Warm-up steps first (the
    optimizer creates its state on the first); zero_grad(set_to_none=True) runs
    before each step, outside the profiled region."""
    for _ in range(3):
        zero_grad()
        step()
    zero_grad()
    return profiled_kernel_us(step)


def train(timer, out):
    """One training step per model and optimizer: the forward, out.backward(dy) from a
    given output gradient (no loss kernel), optimizer.step() with torch.optim's CUDA
    defaults (foreach unless fused=True). model.train() (batch-norm on batch
    statistics) with every dropout probability 0 (dropout is not modelled); HF models
    return last_hidden_state (BERT's pooler gets no gradient) and run with
    use_cache=False where they have a cache. Parameters and optimizer state are in
    the model's dtype (model.to(bf16))."""
    import torchvision
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel
    optimizers = {"adamw": lambda ps: torch.optim.AdamW(ps),
                  "adamw_fused": lambda ps: torch.optim.AdamW(ps, fused=True),
                  "sgd": lambda ps: torch.optim.SGD(ps, lr=1e-3),
                  "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9)}

    def measure(name, model, batch, seq, forward):
        model.train()
        with torch.no_grad():
            dy = torch.randn_like(forward())
        for oname, make in optimizers.items():
            opt = make(model.parameters())

            def step():
                forward().backward(dy)
                opt.step()

            us = step_busy_us(step, lambda: opt.zero_grad(set_to_none=True))
            out({"section": "train", "model": name, "dtype": "bf16", "batch": batch, "seq": seq, "optimizer": oname,
                 "params": sum(p.numel() for p in model.parameters()), "device_busy_us": us})
            opt = None   # free the optimizer state before the next one
            torch.cuda.empty_cache()

    m = torchvision.models.resnet50().cuda().to(torch.bfloat16).to(memory_format=torch.channels_last)
    x = torch.randn(32, 3, 224, 224, device="cuda", dtype=torch.bfloat16).to(memory_format=torch.channels_last)
    measure("resnet50", m, 32, 0, lambda: m(x))
    m = x = None
    for name, model, batch, seq in (
            ("bert-base", BertModel(BertConfig(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)), 8, 512),
            ("gpt2-small", GPT2Model(GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)), 8, 1024),
            ("llama7b-4layers", LlamaModel(LlamaConfig(num_hidden_layers=4)), 1, 2048)):
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
    import torchvision
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model
    optimizers = {"adamw_fused": lambda ps: torch.optim.AdamW(ps, lr=1e-4, fused=True),
                  "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-4)}
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}

    def measure(name, model, batch, seq, forward):
        model.train()
        for amp, dt in dtypes.items():
            for oname, make in optimizers.items():
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

                us = step_busy_us(step, lambda: opt.zero_grad(set_to_none=True))
                out({"section": "train", "model": name, "amp": amp, "loss": "pow2_mean", "batch": batch, "seq": seq,
                     "optimizer": oname, "params": sum(p.numel() for p in model.parameters()),
                     "device_busy_us": us})
                opt = scaler = None
                torch.cuda.empty_cache()

    m = torchvision.models.resnet50().cuda().to(memory_format=torch.channels_last)
    x = torch.randn(32, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    measure("resnet50", m, 32, 0, lambda: m(x))
    m = x = None
    for name, model, batch, seq in (
            ("bert-base", BertModel(BertConfig(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                               attn_implementation="sdpa")), 8, 512),
            ("gpt2-small", GPT2Model(GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                                attn_implementation="sdpa")), 8, 1024)):
        model = model.cuda()
        ids = torch.randint(0, model.config.vocab_size, (batch, seq), device="cuda")
        kwargs = {} if name == "bert-base" else {"use_cache": False}
        measure(name, model, batch, seq, lambda: model(ids, **kwargs).last_hidden_state)
        model = ids = None
        torch.cuda.empty_cache()


def e2eg(timer, out):
    import torchvision
    m = torchvision.models.resnet50().cuda().to(torch.bfloat16).eval().to(memory_format=torch.channels_last)
    for batch in (1, 32):
        x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.bfloat16).to(memory_format=torch.channels_last)
        with torch.no_grad():
            out({"section": "e2eg", "model": "resnet50", "dtype": "bf16", "batch": batch, "seq": 0, "layers": 50,
                 "device_busy_us": busy_us(lambda: m(x))})
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel
    for name, model, seq in (("bert-base", BertModel(BertConfig()), 512), ("gpt2-small", GPT2Model(GPT2Config()), 1024),
                             ("llama7b-4layers-prefill", LlamaModel(LlamaConfig(num_hidden_layers=4)), 2048)):
        model = model.cuda().to(torch.bfloat16).eval()
        for batch in (1, 8):
            ids = torch.randint(0, 1000, (batch, seq), device="cuda")
            with torch.no_grad():
                out({"section": "e2eg", "model": name, "dtype": "bf16", "batch": batch, "seq": seq,
                     "layers": model.config.num_hidden_layers, "device_busy_us": busy_us(lambda: model(ids))})


def decode(timer, out):
    # The record is 32 LLaMA-7B decoder layers without embedding or LM head:
    # LlamaModel fed with inputs_embeds skips the embedding lookup and has no head
    # (only the final RMSNorm of one token per sequence remains).
    from transformers import LlamaConfig, LlamaModel, StaticCache
    model = LlamaModel(LlamaConfig()).cuda().to(torch.bfloat16).eval()
    for batch, ctx in ((1, 1024), (8, 2048)):
        cache = StaticCache(config=model.config, max_batch_size=batch, max_cache_len=ctx + 8, device="cuda",
                            dtype=torch.bfloat16)
        emb = torch.randn(batch, 1, model.config.hidden_size, device="cuda", dtype=torch.bfloat16)
        pos = torch.tensor([ctx], device="cuda")
        step = lambda: model(inputs_embeds=emb, past_key_values=cache, cache_position=pos, use_cache=True)
        with torch.no_grad():
            step()
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                step()
            r = Timer(timer.budget_ms, cold=False).run(g.replay)
        out({"section": "decode", "model": "llama7b-32layers-decode", "batch": batch, "ctx": ctx,
             "graph_median_ms": r["median_ms"], "min_ms": r["min_ms"], "max_ms": r["max_ms"], "reps": r["reps"]})


def evoformer(timer, out):
    try:
        from openfold.model.evoformer import EvoformerBlock
    except ImportError:
        print("evoformer: openfold is not installed, section skipped", file=sys.stderr)
        return
    for n_seq, n_res in ((128, 256), (512, 384)):
        blk = EvoformerBlock(c_m=256, c_z=128, c_hidden_msa_att=32, c_hidden_opm=32, c_hidden_mul=128,
                             c_hidden_pair_att=32, c_s=384, no_heads_msa=8, no_heads_pair=4, transition_n=4,
                             msa_dropout=0.0, pair_dropout=0.0, no_column_attention=False, opm_first=False,
                             fuse_projection_weights=False, inf=1e9, eps=1e-10).cuda().to(torch.bfloat16).eval()
        m = torch.randn(1, n_seq, n_res, 256, device="cuda", dtype=torch.bfloat16)
        z = torch.randn(1, n_res, n_res, 128, device="cuda", dtype=torch.bfloat16)
        mm = torch.ones(1, n_seq, n_res, device="cuda", dtype=torch.bfloat16)
        pm = torch.ones(1, n_res, n_res, device="cuda", dtype=torch.bfloat16)
        with torch.no_grad():
            r = timer.run(lambda: blk(m, z, mm, pm))
        r.update(section="evoformer", dtype="bf16", n_seq=n_seq, n_res=n_res, c_m=256, c_z=128)
        out(r)


SECTIONS = {"gemm": gemm, "attn": attn, "vec": vec, "membw": membw, "energy": energy, "energy2": energy2, "conv": conv,
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--budget-ms", type=float, default=150.0, help="time the repetitions of one case fill")
    ap.add_argument("--hot", action="store_true", help="do not flush the L2 between repetitions")
    args = ap.parse_args()
    for name in args.sections.split(","):
        if name not in SECTIONS:
            print(f"measure_gpu.py: --sections: unknown section '{name}'; accepted: {', '.join(SECTIONS)}",
                  file=sys.stderr)
            sys.exit(2)
    global torch, F
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

        for name in args.sections.split(","):
            SECTIONS[name](timer, out)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
