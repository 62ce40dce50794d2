#!/usr/bin/python3
"""The Python scripts users run: they start under /usr/bin/python3 whatever
`python3` is first on PATH, fail with one line naming a missing module, and
scripts/trace_pytorch.py's traces of torchvision's resnet18 and a small
transformer run through `tessera run`.

    test_scripts.py --tessera BIN plot       # plot_compare.py on a compare JSON
    test_scripts.py --tessera BIN missing    # the one-line message for a missing module
    test_scripts.py --tessera BIN pytorch    # trace_pytorch.py -> tessera run (exit 77 = skipped: no torch)
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
SKIP = 77


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def plot(tessera, tmp):
    cmp = os.path.join(tmp, "cmp.json")
    r = run([tessera, "compare", "--hw", "h100-sxm", "--measured",
             os.path.join(ROOT, "tests/gpu/data/h100_attention_fwd_fa3_paper.jsonl"), "--format", "json",
             "--out", cmp])
    if r.returncode != 0:
        fail(f"compare: rc {r.returncode}: {r.stderr}")
    png = os.path.join(tmp, "cmp.png")
    # Through the script's own #! line (/usr/bin/python3) and through whatever
    # python3 comes first on PATH (a pyenv or venv interpreter without matplotlib
    # hands over to /usr/bin/python3).
    for cmd in ([os.path.join(SCRIPTS, "plot_compare.py")], [shutil.which("python3") or "/usr/bin/python3",
                                                             os.path.join(SCRIPTS, "plot_compare.py")]):
        if os.path.exists(png):
            os.remove(png)
        r = run(cmd + [cmp, "--out", png])
        if r.returncode != 0 or not os.path.getsize(png):
            fail(f"{' '.join(cmd)}: rc {r.returncode}: {r.stderr}")
        with open(png, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                fail("plot_compare.py did not write a PNG")
    print("plot_compare.py: PNG written under", cmd[0])


def missing(tessera, tmp):
    # -S leaves the site packages off the path: /usr/bin/python3 itself lacks
    # matplotlib then, so the script can only say so, in one line, exit 1.
    r = run(["/usr/bin/python3", "-S", os.path.join(SCRIPTS, "plot_compare.py"), "x.json"])
    lines = r.stderr.strip().splitlines()
    want = "plot_compare.py: Python module matplotlib not found for /usr/bin/python3; install Debian's " \
           "python3-matplotlib (scripts/setup-deps.sh) or run with an interpreter that has matplotlib"
    if r.returncode != 1 or lines != [want]:
        fail(f"expected rc 1 and the line {want!r}; got rc {r.returncode}, stderr {r.stderr!r}")
    r = run(["/usr/bin/python3", "-S", os.path.join(SCRIPTS, "trace_pytorch.py"), "--model", "m:f", "-o", "x"])
    lines = r.stderr.strip().splitlines()
    if r.returncode != 1 or len(lines) != 1 or "Python module torch not found" not in lines[0]:
        fail(f"trace_pytorch.py without torch: rc {r.returncode}, stderr {r.stderr!r}")
    print("missing modules: one line each")


def pytorch(tessera, tmp):
    probe = run(["/usr/bin/python3", "-c", "import torch, torchvision"])
    if probe.returncode != 0:
        print("SKIPPED: /usr/bin/python3 has no torch + torchvision (Debian: python3-torch python3-torchvision): "
              + probe.stderr.strip().splitlines()[-1])
        sys.exit(SKIP)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests/use/data"))
    cases = [
        # torchvision's resnet50 (batch 2, bf16, NCHW as traced) trains as the built-in:
        # `trace.json:train=1` has the built-in resnet50:train=1's ops and FLOPs and its
        # 25557032 parameters in bf16 (the fc's weight and bias marked param / bias).
        ("resnet50_train", ["--model", "torchvision.models:resnet50", "--input", "2x3x224x224", "--dtype", "bf16",
                            "--device", "meta"],
         {"conv2d": 53, "matmul": 1, "attrs": {"addmm.0": {"param": 1, "bias": 1, "m": 2, "n": 1000, "k": 2048}},
          "train_builtin": "resnet50:batch=2,train=1,memory_format=contiguous", "params": 25557032}),
        # resnet18 at 64x64: the stem conv, 16 block convs and 3 downsample convs
        # = 20 conv2d, each followed by a batchnorm (20); relu after the stem and
        # twice per basic block (1 + 2 x 8 = 17); 8 residual adds; the max pool,
        # the global average pool and the classifier (1 matmul): 68 ops.
        ("resnet18", ["--model", "torchvision.models:resnet18", "--input", "1x3x64x64"],
         {"conv2d": 20, "batchnorm": 20, "relu": 17, "add": 8, "maxpool": 1, "avgpool": 1, "matmul": 1}),
        # 2 encoder layers (batch_first, 4 heads of 16): per layer the self-attention
        # as PyTorch 2.x's native_multi_head_attention runs it on a GPU: the q|k|v
        # projection, SDPA on head views of it (qkv_packed), the copy of its
        # transposed output, the output projection; then two feed-forward products.
        # 2 x 4 + the head = 9 matmuls, 2 attentions, 2 copies, no softmax; 4 layer norms.
        ("transformer", ["--model", "small_transformer:build", "--input", "2x16x64"],
         {"matmul": 9, "attention": 2, "copy": 2, "softmax": 0, "layernorm": 4, "relu": 2,
          "attrs": {"_mha.0.sdpa": {"batch": 2, "heads": 4, "sq": 16, "skv": 16, "d": 16, "qkv_packed": 1},
                    "_mha.0.in_proj": {"m": 32, "n": 192, "k": 64, "param": 1, "bias": 1},
                    "addmm.1": {"param": 1, "bias": 1, "b_shared": 1}},
          "deps": {"add.2": ["native_layer_norm.0", "addmm.2"], "_mha.1.in_proj": ["native_layer_norm.1"]}}),
        # tests/use/data/tiny_math.py's Syncs: nonzero and .item() are host_sync copies
        # (the host waits for the GPU there); the empty gather launches nothing (not
        # recorded); the product over k = 0 is a fill of its 4 x 8 output; the sum of
        # the empty rows a fill of its one element. Every attribute is a valid size.
        ("syncs", ["--model", "tiny_math:syncs", "--input", "4x6"],
         {"attrs": {"nonzero.0": {"rows": 4, "cols": 6, "host_sync": 1},
                    "_local_scalar_dense.0": {"rows": 1, "cols": 1, "host_sync": 1},
                    "mm.0": {"rows": 4, "cols": 8}},
          "absent": ["index.0"]}),
        # nn.EmbeddingBag (tests/use/data/tiny_math.py's Bags): an embedding of the 32
        # ids' random rows of the 1000 x 16 table summed into 8 bags (attr bags); the
        # mode="max" bag of the same ids carries bag_max (its argmax written, its
        # backward unsorted).
        ("bags", ["--model", "tiny_math:bags", "--input", "8x4"],
         {"attrs": {"_embedding_bag.0": {"tokens": 32, "dim": 16, "vocab": 1000, "order": 2, "bags": 8,
                                         "bag_max": None},
                    "_embedding_bag.1": {"tokens": 32, "bags": 8, "bag_max": 1}}}),
        # ViT's learned tokens (tests/use/data/tiny_math.py's TinyViT): the cat of the
        # class token [1, 1, 16] expanded over the batch of 2 (param_elems 16, 32 of its
        # elements read) and the position embedding [1, 5, 16] added (param_elems 80):
        # with train=1 both get their gradient (docs/trace-format.md).
        ("vit_tokens", ["--model", "tiny_math:vit", "--input", "2x4x16"],
         {"copy": 1, "add": 1, "matmul": 1,
          "attrs": {"cat.0": {"param_elems": 16, "param_reads": 32}, "add.0": {"param_elems": 80},
                    "addmm.0": {"param": 1}}}),
        # Swin's relative position bias (tests/use/data/tiny_math.py's RelativeBias): the
        # learned [9, 2] table gathered by 16 indices is an embedding with index_put (its
        # backward index_put_(accumulate=True), docs/trace-format.md), then the
        # permute's contiguous copy and the add.
        ("relative_bias", ["--model", "tiny_math:relative_bias", "--input", "1x2x4x4"],
         {"embedding": 1, "copy": 1, "add": 1,
          "attrs": {"index.0": {"tokens": 16, "dim": 2, "vocab": 9, "index_put": 1}}}),
        # HF's repeat_kv (tests/use/data/tiny_math.py's RepeatKV) on x [2, 2, 8, 4]: the
        # reshape of the [2, 2, 4, 8, 4] expanded view is one clone writing 2 x 8 x 8 =
        # 128 rows of 4, each input element 4 times (expand), in slices of the 8 x 4 =
        # 32 elements of one head (expand_slice); the add reads the copy.
        ("repeat_kv", ["--model", "tiny_math:repeat_kv", "--input", "2x2x8x4", "--device", "meta"],
         {"copy": 1, "add": 1,
          "attrs": {"clone.0": {"rows": 128, "cols": 4, "expand": 4, "expand_slice": 32},
                    "add.0": {"rows": 128, "cols": 4, "inputs": 1}},
          "deps": {"add.0": ["clone.0"]}}),
        # x.repeat_interleave(4, dim=1) on x [2, 2, 8, 4] (tests/use/data/tiny_math.py's
        # RepeatInterleave; on the CPU, where the indices can be read): ATen's fill of
        # the repeats and their expansion to indices (copies), then the index_select of
        # the same 128 rows of 4 as repeat_kv's clone, with the same expand 4 and
        # expand_slice 32 (idx[k] = k // 4 over dimension 1; a slice is one head's
        # 8 x 4).
        ("repeat_interleave", ["--model", "tiny_math:repeat_interleave", "--input", "2x2x8x4"],
         {"copy": 3, "add": 1,
          "attrs": {"index_select.0": {"rows": 128, "cols": 4, "expand": 4, "expand_slice": 32}}}),
        # Generators on the meta device (tests/use/data/tiny_math.py's Generators): the
        # device arange (a fill of its 6 elements), the copy of the host's arange to the
        # device (the host's arange and its mul launch nothing: absent), randn_like (a fill
        # of 4 x 6) and the three adds.
        ("generators", ["--model", "tiny_math:generators", "--input", "4x6", "--device", "meta"],
         {"copy": 3, "add": 3, "mul": 0,
          "attrs": {"arange.0": {"rows": 1, "cols": 6}, "_to_copy.0": {"rows": 1, "cols": 6},
                    "randn_like.0": {"rows": 4, "cols": 6}},
          "absent": ["arange.1", "mul.0"]}),
        # Criteria (tests/use/data/tiny_math.py) on x [4, 6]: cdist of 4 rows with 4 is
        # the direct kernel (k = d = 6), of 32 rows with 4 the product with the norms
        # appended (k = 6 + 2); glu reads both halves (inputs 2) and writes 4 x 3; cross
        # entropy is log_softmax then nll_loss, one log-probability read per target
        # (a reduce of 4); the MSE a reduce of all 24 differences.
        ("criteria", ["--model", "tiny_math:criteria", "--input", "4x6"],
         {"matmul": 2, "softmax": 1,
          "attrs": {"_cdist_forward.0": {"m": 4, "n": 4, "k": 6},
                    "_euclidean_dist.0": {"m": 32, "n": 4, "k": 8},
                    "glu.0": {"rows": 4, "cols": 3, "inputs": 2},
                    "nll_loss_forward.0": {"rows": 4, "cols": 1},
                    "mse_loss.0": {"rows": 24, "cols": 1}}}),
        # F.scaled_dot_product_attention (tests/use/data/small_transformer.py's SdpaBlock,
        # x 2 x 16 x 64): PyTorch before 2.0 has none, so the tracer supplies it and
        # records one fused attention op per call, as a 2.x trace does. The causal call
        # on head views of the packed projection (qkv_packed), the masked call (its 16 x
        # 16 float mask is broadcast: bias_shared) whose output keeps the fused kernels'
        # [batch, tokens, heads, d] layout, so the final reshape copies nothing, and the
        # 3-D call (one head of 64) with dropout_p = 0.1 (dropout: drawn in the fused
        # kernel). The 2-D mask is broadcast over the heads too (bias_head_shared). 2 linears, 3 attentions, 1 fill, 1 add, no copy.
        ("sdpa", ["--model", "small_transformer:sdpa_block", "--input", "2x16x64"],
         {"matmul": 2, "attention": 3, "copy": 1, "add": 1, "softmax": 0,
          "attrs": {"scaled_dot_product_attention.0": {"batch": 2, "heads": 4, "sq": 16, "d": 16, "causal": 1,
                                                       "qkv_packed": 1, "bias": 0, "dropout": None},
                    "scaled_dot_product_attention.1": {"causal": 0, "bias": 1, "bias_shared": 1,
                                                       "bias_head_shared": 1, "dropout": None},
                    "scaled_dot_product_attention.2": {"batch": 2, "heads": 1, "sq": 16, "d": 64, "dropout": 1}},
          "deps": {"scaled_dot_product_attention.1": ["scaled_dot_product_attention.0", "zeros.0"],
                   "addmm.1": ["add.0"]}}),
        # --mode train (model.train()): DropoutBlock's nn.Dropout(0.1) is one native_dropout
        # kernel on the 32 x 64 output projection (not the CPU/meta decomposition into
        # bernoulli_, div_, mul), and its SDPA call carries dropout_p = 0.1; the same
        # block traced in eval mode records neither.
        ("dropout_train", ["--model", "small_transformer:dropout_block", "--input", "2x16x64", "--mode", "train"],
         {"matmul": 2, "attention": 1, "dropout": 1, "add": 1,
          "attrs": {"scaled_dot_product_attention.0": {"dropout": 1},
                    "native_dropout.0": {"rows": 32, "cols": 64}},
          "deps": {"native_dropout.0": ["addmm.1"], "add.0": ["native_dropout.0"]}}),
        ("dropout_eval", ["--model", "small_transformer:dropout_block", "--input", "2x16x64"],
         {"matmul": 2, "attention": 1, "dropout": 0, "add": 1,
          "attrs": {"scaled_dot_product_attention.0": {"dropout": None}}, "absent": ["native_dropout.0"]}),
        # nn.Linear(8, 16) on a contiguous 4-D input [2, 3, 4, 8] is one product with its
        # bias (PyTorch 2.x's _flatten_nd_linear: addmm of 24 rows); on the transposed
        # view it copies the 24 rows, multiplies, and adds the bias (1 addmm-like mm,
        # 1 copy, 1 mm, 1 add).
        ("linear4d", ["--model", "tiny_math:linear4d", "--input", "2x3x4x8"],
         {"matmul": 2, "copy": 1, "add": 1,
          "attrs": {"mm.0": {"m": 24, "n": 16, "k": 8, "bias": 1, "param": 1},
                    "mm.1": {"m": 24, "bias": None}, "add.0": {"rows": 24, "cols": 16}},
          "deps": {"mm.1": ["clone.0"], "add.0": ["mm.1"]}}),
        # Sequence-first cross-attention of 16 x 2 x 64 to a memory of 8 x 2 x 64 (k is v),
        # need_weights=False: F.multi_head_attention_forward's path, q projection (m = 32),
        # packed k|v projection (m = 16, n = 128) and the copy of its 2 x 16 x 64 heads,
        # SDPA (sq 16, skv 8), the output copy and projection: 3 matmuls, 2 copies, 1
        # attention. Then a self-attention returning its weights: its operators as traced.
        ("cross_attention", ["--model", "small_transformer:cross", "--input", "16x2x64", "--input", "8x2x64"],
         {"attention": 1,
          "attrs": {"_mha.0.kv_proj": {"m": 16, "n": 128, "k": 64},
                    "_mha.0.kv_proj.contiguous": {"rows": 32, "cols": 64},
                    "_mha.0.sdpa": {"batch": 2, "heads": 4, "sq": 16, "skv": 8, "d": 16, "bias": 0}},
          "deps": {"_mha.0.sdpa": ["_mha.0.q_proj", "_mha.0.kv_proj.contiguous"]}}),
        # The tiny video and audio networks of tests/use/data/make_torchvision_onnx.py
        # (Conv3d, MaxPool3d, ConvTranspose3d, AdaptiveAvgPool3d; Conv1d, MaxPool1d,
        # ConvTranspose1d): 4 and 3 convolutions whose multiply-adds are those
        # tests/use/test_onnx_exports.cpp counts by hand in the ONNX exports of the
        # same modules, 16548000 and 1245184 FLOPs (convolutions and the fc).
        ("video_tiny", ["--model", "make_torchvision_onnx:TinyVideo", "--input", "1x3x8x32x32"],
         {"conv2d": 4, "batchnorm": 1, "relu": 2, "maxpool": 1, "avgpool": 1, "matmul": 1, "products": 16548000}),
        ("audio_tiny", ["--model", "make_torchvision_onnx:TinyAudio", "--input", "1x80x64"],
         {"conv2d": 3, "gelu": 2, "maxpool": 1, "products": 1245184}),
        # TinyUNet: GroupNorm(4, 16) (native_group_norm: a row normalisation of 4 rows of
        # 4 channels x 256 pixels, its scale and shift 16 elements each: affine) and a
        # ConvTranspose2d(32, 16, 2, stride 2) traced as the data gradient of Conv2d(16,
        # 32, 2, stride 2) on 16 x 16: 2 x 64 x 32 x 64 = 262144 FLOPs. With inc 2 x 256
        # x 16 x 27 = 221184, down 2 x 64 x 32 x 144 = 589824 and out 2 x 256 x 3 x 144 =
        # 221184: 1294336.
        ("unet_tiny", ["--model", "make_torchvision_onnx:TinyUNet", "--input", "1x3x16x16"],
         {"conv2d": 4, "layernorm": 1, "silu": 1, "add": 1, "products": 1294336,
          "attrs": {"native_group_norm.0": {"rows": 4, "cols": 4 * 256, "affine": 16}}}),
        # nn.LSTM / nn.GRU (2 layers, input 16, hidden 32) over 8 steps of 2 sequences:
        # one cuDNN RNN call, the built-in lstm / gru's ops. Hidden 32 <= 192: PyTorch's
        # persistent small-hidden algorithm, per layer the input projection and one
        # recurrence (2 x 2 matmuls, no cells); hidden 256: the standard one, per layer the
        # input projection, then a recurrent GEMM and a fused cell per step (2 x (1 + 8)
        # matmuls, 16 cells). `tessera run` gives the built-in's time exactly.
        ("lstm_tiny", ["--model", "tiny_rnn:lstm", "--input", "8x2x16"],
         {"matmul": 4, "rnn_cell": 0, "builtin": "lstm:batch=2,seq=8,input=16,hidden=32,layers=2,dtype=fp32"}),
        ("gru_tiny", ["--model", "tiny_rnn:gru", "--input", "8x2x16"],
         {"matmul": 4, "rnn_cell": 0, "builtin": "gru:batch=2,seq=8,input=16,hidden=32,layers=2,dtype=fp32"}),
        ("lstm_256", ["--model", "tiny_rnn:lstm_256", "--input", "8x2x16"],
         {"matmul": 18, "rnn_cell": 16,
          "builtin": "lstm:batch=2,seq=8,input=16,hidden=256,layers=2,dtype=fp32"}),
        # Windows whose width differs from their height (tests/use/data/tiny_factorised.py)
        # on 1 x 8 x 17 x 17: the 1x7 convolution with padding (0, 3) keeps 17 x 17, 2 x 289
        # x 16 x 56 = 517888 FLOPs; the 7x1 one, 2 x 289 x 16 x 112 = 1035776; the 3x3 one
        # strided (2, 1): (17 + 2 - 3) / 2 + 1 = 9 rows x 17 columns, 2 x 153 x 8 x 144 =
        # 352512; 1906176 in all. hardswish and hardsigmoid run as clamps (relu).
        ("factorised", ["--model", "tiny_factorised:build", "--input", "1x8x17x17"],
         {"conv2d": 3, "relu": 2, "mul": 1, "maxpool": 1, "products": 1906176,
          "attrs": {"convolution.0": {"pad": 0, "pad_w": 3, "r": 1, "s": 7},
                    "convolution.1": {"pad": 3, "pad_w": 0, "r": 7, "s": 1},
                    "convolution.2": {"stride": 2, "stride_w": 1, "pad": 1},
                    "max_pool2d_with_indices.0": {"stride": 2, "stride_w": 1, "pad": 0, "pad_w": 1}}}),
        # Operators written out (tests/use/data/tiny_math.py) on 2 x 16 x 64: HF LLaMA's
        # RMSNorm is pow (mul, exponent 2), mean (a reduce of the 32 rows of 64: rows 64,
        # cols 32), add, rsqrt (tanh class), mul, mul; topk(4) a reduce writing 4 values
        # and 4 int64 indices (8 fp32 elements) per row: outputs 12; clamp (relu), exp
        # (sigmoid), the nearest upsampling a copy of its 2 x 1 x 32 x 128 output, and the
        # sum of those 8192 elements a reduce of rows 8192, cols 1.
        ("math_tiny", ["--model", "tiny_math:build", "--input", "2x16x64"],
         {"reduce": 3, "mul": 3, "add": 1, "tanh": 1, "relu": 1, "sigmoid": 1, "copy": 1,
          "attrs": {"pow.0": {"exponent": 2, "inputs": 1}, "mul.1": {"param": 1},
                    "mean.0": {"rows": 64, "cols": 32},
                    "topk.0": {"rows": 64, "cols": 32, "outputs": 12},
                    "upsample_nearest2d.0": {"rows": 2 * 32, "cols": 128},
                    "sum.0": {"rows": 8192, "cols": 1}}}),
    ]
    for name, args, want in cases:
        out = os.path.join(tmp, name + ".json")
        r = run([os.path.join(SCRIPTS, "trace_pytorch.py")] + args + ["-o", out], env=env, cwd=tmp)
        if r.returncode != 0:
            fail(f"trace_pytorch.py {name}: rc {r.returncode}: {r.stderr}")
        with open(out) as f:
            trace = json.load(f)
        kinds = collections.Counter(op["kind"] for op in trace["ops"])
        for k, n in want.items():
            if k not in ("products", "builtin", "attrs", "deps", "absent", "train_builtin", "params") \
                    and kinds[k] != n:
                fail(f"{name}: {n} ops of kind {k} expected, got {kinds[k]} ({dict(kinds)})")
        by_name = {op["name"]: op for op in trace["ops"]}
        for op_name, attrs in want.get("attrs", {}).items():
            got = {k: by_name.get(op_name, {}).get("attrs", {}).get(k) for k in attrs}
            if got != attrs:
                fail(f"{name}: op {op_name} has {got}, expected {attrs}")
        for op_name in want.get("absent", []):
            if op_name in by_name:
                fail(f"{name}: op {op_name} was recorded")
        for op_name, deps in want.get("deps", {}).items():
            if by_name.get(op_name, {}).get("deps") != deps:
                fail(f"{name}: op {op_name} depends on {by_name.get(op_name, {}).get('deps')}, expected {deps}")
        unmapped = [op["meta"]["aten"] for op in trace["ops"] if op["meta"].get("unmapped")]
        if unmapped:
            fail(f"{name}: operators without a Tessera kind: {unmapped}")
        r = run([tessera, "run", "--hw", "h100-sxm", "--workload", out, "--format", "json"])
        if r.returncode != 0:
            fail(f"tessera run {name}: rc {r.returncode}: {r.stderr}")
        rep = json.loads(r.stdout)
        if len(rep["ops"]) != len(trace["ops"]) or not rep["time_s"] > 0:
            fail(f"tessera run {name}: {len(rep['ops'])} ops for {len(trace['ops'])}, time {rep['time_s']}")
        products = sum(op["flops"] for op in rep["ops"] if op["kind"] in ("conv2d", "matmul"))
        if "products" in want and products != want["products"]:
            fail(f"tessera run {name}: convolution and matmul FLOPs {products}, expected {want['products']}")
        if "builtin" in want:
            r = run([tessera, "run", "--hw", "h100-sxm", "--workload", want["builtin"], "--format", "json"])
            ref = json.loads(r.stdout)["time_s"] if r.returncode == 0 else None
            if ref is None or abs(rep["time_s"] - ref) > 1e-12 * ref:
                fail(f"tessera run {name}: {rep['time_s']} s, the built-in {want['builtin']}: {ref} s")
        if "train_builtin" in want:
            got, ref = (run([tessera, "run", "--hw", "h100-sxm", "--workload", w, "--format", "json"])
                        for w in (out + ":train=1", want["train_builtin"]))
            if got.returncode != 0 or ref.returncode != 0:
                fail(f"{name}: train=1: rc {got.returncode}: {got.stderr} / rc {ref.returncode}: {ref.stderr}")
            got, ref = json.loads(got.stdout), json.loads(ref.stdout)
            # The time may differ in the last digits only: an element-wise kernel's SM
            # count follows its 2-D view (the trace's rows of the last dimension, the
            # built-in's n x h x w rows of c), which decides a few small kernels' SMs.
            if got["flops"] != ref["flops"] or len(got["ops"]) != len(ref["ops"]) or \
                    abs(got["time_s"] - ref["time_s"]) > 1e-4 * ref["time_s"]:
                fail(f"{name}: train=1: {len(got['ops'])} ops, {got['flops']} FLOP, {got['time_s']} s; the built-in "
                     f"{want['train_builtin']}: {len(ref['ops'])} ops, {ref['flops']} FLOP, {ref['time_s']} s")
            if got["memory_footprint"]["weights_bytes"] != 2 * want["params"]:   # bf16
                fail(f"{name}: train=1: {got['memory_footprint']['weights_bytes']} bytes of weights, expected "
                     f"2 x {want['params']}")
        print(f"{name}: {len(trace['ops'])} ops traced, tessera run: {rep['time_s'] * 1e6:.1f} us on h100-sxm")


def published_rows(script, tessera, prefixes, count):
    """Runs scripts/SCRIPT; its output lines and the row lines (starting with one
    of `prefixes`), failing unless there are `count` rows and a closing mean."""
    r = run(["/usr/bin/python3", f"scripts/{script}", "--tessera", tessera])
    if r.returncode != 0:
        fail(f"{script}: rc {r.returncode}: {r.stderr}")
    lines = r.stdout.splitlines()
    rows = [l for l in lines if l.startswith(prefixes)]
    if len(rows) != count or not lines[-1].startswith("mean error "):
        fail(f"{script}: {len(rows)} rows, last line {lines[-1]!r}")
    return lines, rows


def without_tessera(script, tmp):
    """scripts/SCRIPT with a missing binary: exit 1 and how to build it, no traceback."""
    r = run(["/usr/bin/python3", f"scripts/{script}", "--tessera", os.path.join(tmp, "none")])
    if r.returncode != 1 or "No such file or directory; build it with `make build`" not in r.stderr \
            or "Traceback" in r.stderr:
        fail(f"{script} without a tessera: rc {r.returncode}: {r.stderr}")


def published(tessera, tmp):
    """scripts/megatron_published.py: one line per row of Narayanan et al. 2021's
    Tables 1 and 2 (10 + 6), the reported figure beside the prediction, and the
    mean errors; the 174.6B row on 1536 GPUs is the docs/parallel.md example
    (microbatch 1, 1F1B, local DDP; 18.47 s: 159.0 TFLOP/s per GPU by eq. 3, against
    141 reported), the 76.1B row runs run_table_1.sh's microbatch 2 and 3 virtual
    stages, and the 18.4B row (tp 8, 4 microbatches of 8) PyTorch DDP (ddp=torch:
    3 AccumulateGrad passes, the bucket copies in the last; 8.05 s, 157.6 TFLOP/s).
    scripts/torchtitan_published.py: torchtitan's three FSDP2 rows, the H100 one
    (8 GPUs of 2 sequences of 8192 tokens under 500 W: 2.970 s, 5516 tokens/s per
    GPU against 5762)."""
    lines, rows = published_rows("megatron_published.py", tessera, ("T1 ", "T2 "), 16)
    row = [l.split() for l in rows if l.split()[:6] == ["T2", "174.6B", "8", "12", "16", "1536"]]
    if len(row) != 1 or row[0][6:13] != ["1", "1", "local", "18.47", "s", "159.0", "141"]:
        fail(f"megatron_published.py: the 174.6B row on 1536 GPUs is {row}")
    row = [l.split() for l in rows if l.split()[:2] == ["T1", "76.1B"]]
    if len(row) != 1 or row[0][2:9] != ["8", "4", "32", "1024", "2", "3", "local"]:
        fail(f"megatron_published.py: the 76.1B row is {row}")
    row = [l.split() for l in rows if l.split()[:2] == ["T1", "18.4B"]]
    if len(row) != 1 or row[0][2:13] != ["8", "1", "32", "256", "8", "1", "torch", "8.09", "s", "156.9", "135"]:
        fail(f"megatron_published.py: the 18.4B row is {row}")
    # A tessera that fails is reported with its message, exit code 1 from sys.exit.
    r = run(["/usr/bin/python3", "scripts/megatron_published.py", "--tessera", tessera, "--extra", "attn=bogus"])
    if r.returncode == 0 or "megatron_published: T1 1.7B:" not in r.stderr or "'attn'" not in r.stderr:
        fail(f"megatron_published.py with a bad parameter: rc {r.returncode}: {r.stderr}")
    without_tessera("megatron_published.py", tmp)
    print(f"megatron_published: {len(rows)} rows; {lines[-1]}")
    lines, rows = published_rows("torchtitan_published.py", tessera, ("H100 ", "A100 "), 3)
    if rows[0].split()[-7:] != ["2", "op", "2.972", "s", "5513", "5762", "-4.3%"]:
        fail(f"torchtitan_published.py: the H100 row is {rows[0]!r}")
    without_tessera("torchtitan_published.py", tmp)
    print(f"torchtitan_published: {len(rows)} rows; {lines[-1]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("what", choices=["plot", "missing", "pytorch", "published"])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        {"plot": plot, "missing": missing, "pytorch": pytorch, "published": published}[a.what](
            os.path.abspath(a.tessera), tmp)


if __name__ == "__main__":
    main()
