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
"""
import argparse
import json
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

    mask_strided = []   # per SDPA call: an attn_mask whose last dim has stride != 1

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
        mask_strided.append(strided)
        return torch.tanh(q)

    if not hasattr(F, "scaled_dot_product_attention"):
        print(f"note: PyTorch {torch.__version__} has no F.scaled_dot_product_attention (2.0+); "
              "its calls are traced as a marker")
    F.scaled_dot_product_attention = marker_sdpa
    import evoformer_sdpa

    s, r = 16, 32
    torch.manual_seed(0)
    blk = evoformer_sdpa.Evoformer()
    trace = trace_pytorch.trace(blk, torch.randn(s, r, 256), torch.randn(r, r, 128), name="evoformer")
    got = []
    for op in trace["ops"]:
        kind = "attention" if op["meta"]["aten"] == "aten::tanh" else op["kind"]
        at = op["attrs"]
        flops = 2.0 * at["batch"] * at["m"] * at["n"] * at["k"] if kind == "matmul" else 0
        got.append((op["name"], key(kind, flops)))

    res = subprocess.run([a.tessera, "run", "--hw", "h100-sxm", "--workload",
                          f"evoformer:n_seq={s},n_res={r},dtype=fp32", "--format", "json"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        fail(f"tessera run: rc {res.returncode}: {res.stderr}")
    report = json.loads(res.stdout)
    want, left_out = [], 0
    refused = [op["name"] for op in report["ops"] if op["kind"] == "attention" and
               "attn_mask's last dimension contiguous" in op["mapping"]]
    attn = [op["name"] for op in report["ops"] if op["kind"] == "attention"]
    if len(attn) != len(mask_strided):
        fail(f"built-in has {len(attn)} attention ops, the module {len(mask_strided)} SDPA calls")
    for name, strided in zip(attn, mask_strided):
        if strided != (name in refused):
            fail(f"{name}: the module's attn_mask has stride(-1) {'!=' if strided else '=='} 1, "
                 f"but the built-in {'does not run' if strided else 'runs'} the math path for it")
    for op in report["ops"]:
        if cuda_only(op["name"]):
            left_out += 1
            continue
        want.append((op["name"], key(op["kind"], op["flops"])))
    for i, (w, g) in enumerate(zip(want, got)):
        if w[1] != g[1]:
            fail(f"kernel {i}: built-in {w[0]} {w[1]}, PyTorch {g[0]} {g[1]}")
    if len(want) != len(got):
        fail(f"built-in has {len(want)} kernels (without {left_out} CUDA-only copies), PyTorch {len(got)}")
    print(f"evoformer variant=sdpa: {len(got)} kernels match the aten trace "
          f"(+ {left_out} copies CUDA makes inside LayerNorm and bmm); "
          f"{sum(mask_strided)} of {len(mask_strided)} SDPA calls pass a non-contiguous attn_mask")
    return 0


if __name__ == "__main__":
    sys.exit(main())
