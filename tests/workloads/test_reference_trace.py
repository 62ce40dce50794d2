#!/usr/bin/python3
"""The `evoformer` built-in (variant=sdpa) against the aten operators PyTorch runs
for shared/reference/models/evoformer_sdpa.py, traced on the CPU by
scripts/trace_pytorch.py.

    test_reference_trace.py --tessera BIN --shared DIR    (exit 77 = skipped: no torch)

What the CPU trace cannot show, and how the comparison treats it:
- F.scaled_dot_product_attention exists from PyTorch 2.0; Debian's python3-torch
  is 1.13. The module's SDPA calls are replaced by one marker operator (tanh of
  q, an op the block has nowhere else) whose output has the layout the fused
  kernels return; the marker stands for the built-in's `attention` op.
- Copies CUDA makes inside an operator (LayerNorm's kernel making its input
  contiguous, bmm making operands with no unit stride contiguous) are not
  dispatched on the CPU: the built-in's ops named *.contiguous and the triangle
  updates' einsum.copy_a / copy_b are left out of the comparison.
Every other kernel must match in order and kind, and each matmul in its FLOPs
(2 x batch x m x n x k).
The marker also records each call's attn_mask layout: a mask whose last
dimension is not contiguous (stride(-1) != 1) is refused by every fused backend
on a GPU, so the built-in's attention op must run the math path for exactly
those calls (its mapping names the refusal).
The math path itself is checked kernel by kernel: math_sdpa() below is PyTorch
2.11's _scaled_dot_product_attention_math transcribed line by line; it is traced
on each such call's own q, k, v and mask (their strides decide which reshapes
copy) and compared with the `attention` workload's path=sdpa_math chain for the
same call. Both formats are checked, fp32 and bf16 (the math path's upcast).
"""
import argparse
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP = 77


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def cuda_only(name):
    name = name.split("#")[0]   # kernel names carry #op-index
    return name.endswith(".contiguous") or (".tri_" in name and ".einsum.copy_" in name)


def key(kind, flops):
    # matmuls by their FLOPs (2 batch m n k), every other kernel by its kind
    return (kind, flops) if kind == "matmul" else (kind,)


def math_sdpa(torch, q_, k, v, attn_mask):
    """at::_scaled_dot_product_attention_math (aten/src/ATen/native/transformers/
    attention.cpp, PyTorch 2.11) for a float attn_mask, no dropout, not causal,
    default scale, followed by the module's o.transpose(1, 2).reshape(B, S, h*d)."""
    low = q_.dtype in (torch.float16, torch.bfloat16)
    query_acc = q_.to(torch.float) if low else q_
    key_acc = k.to(torch.float) if low else k
    value_acc = v.to(torch.float) if low else v
    scaling_factor = math.sqrt(1.0 / math.sqrt(q_.size(-1)))   # calculate_scale(...).sqrt()
    query = query_acc * scaling_factor
    attn = torch.matmul(query, key_acc.transpose(-2, -1) * scaling_factor)
    attn.add_(attn_mask)
    # at::_safe_softmax: its constants are at::scalar_tensor(x, device of the
    # scores), which on a GPU is at::empty({}).fill_(x), a kernel each.
    out = torch.softmax(attn, -1)
    neg_inf = torch.empty(()).fill_(-math.inf)
    masked_rows = torch.all(attn.eq(neg_inf), -1, keepdim=True)
    zero = torch.empty(()).fill_(0.0)
    attn = torch.where(masked_rows, zero, out)
    o = torch.matmul(attn, value_acc).to(q_.dtype)
    attn.to(q_.dtype)   # the second returned tensor is computed too
    # The module multiplies o by sigmoid(g) first; the product keeps o's layout
    # (TensorIterator follows its first operand), so the reshape copies the same.
    b, h, s, d = o.shape
    return o.transpose(1, 2).reshape(b, s, h * d)


# Which aten operator launches each kernel of the built-in's chain (by the
# built-in op's name after "attention.").
MATH_ROLES = {
    "aten::_to_copy": ("q_to_fp32", "k_to_fp32", "v_to_fp32", "weights_to_input", "out_to_input"),
    "aten::mul": ("q_scale", "k_scale"),
    "aten::clone": ("q_reshape", "k_reshape", "v_reshape", "out_to_rows"),
    "aten::bmm": ("qk", "pv"),
    "aten::add_": ("mask_add",),
    "aten::_softmax": ("softmax",),
    "aten::fill_": ("fill_neg_inf", "fill_zero"),
    "aten::eq": ("isneginf",),
    "aten::all": ("all_rows",),
    "aten::where": ("where",),
}


def check_math_chain(torch, trace_pytorch, tessera, call, dtype):
    """The `attention` workload's path=sdpa_math chain against math_sdpa() traced on
    the module's own q, k, v and mask: the same launches in the same order, each
    from the aten operator that launches it, matmuls of the same FLOPs and the
    scalings' and mask add's element counts equal."""
    q, k, v, mask = call

    class Math(torch.nn.Module):
        def forward(self, q, k, v, mask):
            return math_sdpa(torch, q, k, v, mask)

    got = trace_pytorch.trace(Math(), q, k, v, mask, name="math")["ops"]
    b, h, s, d = q.shape
    spec = (f"attention:path=sdpa_math,batch={b},heads={h},sq={s},skv={k.shape[2]},d={d},"
            f"bias=1,bias_strided=1,qkv_packed=1,dtype={dtype}")
    if mask.shape[0] == 1 or mask.stride(0) == 0:
        spec += ",bias_shared=1"
    res = subprocess.run([tessera, "run", "--hw", "h100-sxm", "--workload", spec, "--format", "json"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        fail(f"tessera run {spec}: rc {res.returncode}: {res.stderr}")
    want = json.loads(res.stdout)["ops"]
    names = [o["name"].split("#")[0].removeprefix("attention.") for o in want]
    atens = [o["meta"]["aten"] for o in got]
    where = f"\n  built-in: {names}\n  PyTorch:  {atens}"
    if len(want) != len(got):
        fail(f"{dtype} math path: built-in {len(want)} kernels, PyTorch {len(got)}{where}")
    for i, (w, g, n, aten) in enumerate(zip(want, got, names, atens)):
        if n not in MATH_ROLES.get(aten, ()):
            fail(f"{dtype} math path kernel {i}: built-in {n}, PyTorch {aten}{where}")
        at = g["attrs"]
        if w["kind"] == "matmul" and w["flops"] != 2.0 * at["batch"] * at["m"] * at["n"] * at["k"]:
            fail(f"{dtype} math path {n}: {w['flops']} FLOPs, PyTorch's bmm {at}")
        if w["kind"] in ("mul", "add") and w["flops"] != at["rows"] * at["cols"]:
            fail(f"{dtype} math path {n}: {w['flops']} elements, PyTorch's {aten} {at}")
    return len(got)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", required=True)
    ap.add_argument("--shared", required=True)
    a = ap.parse_args()
    models = os.path.join(a.shared, "reference", "models")
    if not os.path.exists(os.path.join(models, "evoformer_sdpa.py")):
        fail(f"{models}/evoformer_sdpa.py is missing (the shared reference modules)")
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("skipped: PyTorch is not installed (Debian: apt-get install python3-torch)")
        return SKIP
    sys.path.insert(0, models)
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import trace_pytorch

    calls = []   # per SDPA call: (q, k, v, attn_mask)

    def marker_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
        strided = attn_mask is not None and attn_mask.stride(-1) != 1
        # What trace_pytorch.py records for such a call on PyTorch 2.x.
        _, attrs = trace_pytorch.map_op("scaled_dot_product_attention", (q, k, v, attn_mask), {}, None)
        if bool(attrs.get("bias_strided")) != strided:
            fail(f"trace_pytorch.py records bias_strided={attrs.get('bias_strided', 0)} for a mask "
                 f"with stride(-1) {attn_mask.stride(-1) if attn_mask is not None else '-'}")
        if attn_mask is not None and q.shape[0] > 1 and attn_mask.stride(0) == 0 and not attrs.get("bias_shared"):
            fail("trace_pytorch.py does not record a mask broadcast over the batch as bias_shared")
        if not attrs.get("qkv_packed"):
            fail("trace_pytorch.py does not record the module's q, k, v (views of the packed q|k|v|g "
                 "projection) as qkv_packed")
        fresh = [torch.empty(t.shape) for t in (q, k, v)]   # contiguous; empty launches no kernel
        if trace_pytorch.map_op("scaled_dot_product_attention", tuple(fresh), {}, None)[1].get("qkv_packed"):
            fail("trace_pytorch.py records contiguous q, k, v as qkv_packed")
        calls.append((q, k, v, attn_mask))
        return torch.tanh(q)

    if not hasattr(F, "scaled_dot_product_attention"):
        print(f"note: PyTorch {torch.__version__} has no F.scaled_dot_product_attention (2.0+); "
              "its calls are traced as a marker")
    F.scaled_dot_product_attention = marker_sdpa
    import evoformer_sdpa

    s, r = 16, 32
    for dtype, tdtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        calls.clear()
        torch.manual_seed(0)
        blk = evoformer_sdpa.Evoformer().to(tdtype)
        trace = trace_pytorch.trace(blk, torch.randn(s, r, 256, dtype=tdtype),
                                    torch.randn(r, r, 128, dtype=tdtype), name="evoformer")
        got = []
        for op in trace["ops"]:
            kind = "attention" if op["meta"]["aten"] == "aten::tanh" else op["kind"]
            at = op["attrs"]
            flops = 2.0 * at["batch"] * at["m"] * at["n"] * at["k"] if kind == "matmul" else 0
            got.append((op["name"], key(kind, flops)))

        res = subprocess.run([a.tessera, "run", "--hw", "h100-sxm", "--workload",
                              f"evoformer:n_seq={s},n_res={r},dtype={dtype}", "--format", "json"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            fail(f"tessera run: rc {res.returncode}: {res.stderr}")
        report = json.loads(res.stdout)
        want, left_out = [], 0
        refused = [op["name"] for op in report["ops"] if op["kind"] == "attention" and
                   "attn_mask's last dimension contiguous" in op["mapping"]]
        attn = [op["name"] for op in report["ops"] if op["kind"] == "attention"]
        if len(attn) != len(calls):
            fail(f"{dtype}: built-in has {len(attn)} attention ops, the module {len(calls)} SDPA calls")
        math_calls = []
        for name, call in zip(attn, calls):
            strided = call[3] is not None and call[3].stride(-1) != 1
            if strided != (name in refused):
                fail(f"{dtype} {name}: the module's attn_mask has stride(-1) {'!=' if strided else '=='} 1, "
                     f"but the built-in {'does not run' if strided else 'runs'} the math path for it")
            if strided:
                math_calls.append(call)
        for op in report["ops"]:
            if cuda_only(op["name"]):
                left_out += 1
                continue
            want.append((op["name"], key(op["kind"], op["flops"])))
        for i, (w, g) in enumerate(zip(want, got)):
            if w[1] != g[1]:
                fail(f"{dtype} kernel {i}: built-in {w[0]} {w[1]}, PyTorch {g[0]} {g[1]}")
        if len(want) != len(got):
            fail(f"{dtype}: built-in has {len(want)} kernels (without {left_out} CUDA-only copies), "
                 f"PyTorch {len(got)}")
        chains = [check_math_chain(torch, trace_pytorch, a.tessera, c, dtype) for c in math_calls]
        print(f"evoformer variant=sdpa {dtype}: {len(got)} kernels match the aten trace "
              f"(+ {left_out} copies CUDA makes inside LayerNorm and bmm); "
              f"{len(math_calls)} of {len(calls)} SDPA calls pass a non-contiguous attn_mask, and their "
              f"math-path chains match kernel by kernel ({', '.join(map(str, chains))} kernels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
