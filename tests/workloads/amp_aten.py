#!/usr/bin/python3
"""The built-in resnet50 with train=1,amp=bf16 launches what train_amp.py's step launches.

Runs shared/reference/models/train_amp.py's step body (torch.autocast bf16 forward,
loss y.float().pow(2).mean(), loss.backward()) on torchvision's resnet50 in training
mode on the CPU (autocast "cpu" with bfloat16: conv, batch_norm, relu, pooling and
addmm take the same autocast policies as on CUDA), records every ATen operator
through the dispatcher, and requires the built-in
`resnet50:batch=B,image=I,train=1,amp=bf16` to launch the same kernels in order up to
the optimizer: the same kind for every kernel, and for every cast (_to_copy) the same
direction and element count (its bytes: 6 per element). The optimizer is left out
(CPU PyTorch 1.13 has no fused AdamW). Exits 77 (skipped, reason printed) where
torch or torchvision is not installed (Debian: python3-torch, python3-torchvision).

Usage: amp_aten.py TESSERA_BINARY
"""
import json
import subprocess
import sys

BATCH, IMAGE = 2, 32
FREE = {"detach", "t", "view", "expand", "_reshape_alias", "empty", "unsqueeze", "squeeze", "reshape",
        "flatten", "transpose", "permute", "alias", "as_strided", "_unsafe_view", "zeros", "zeros_like"}


def torch_kernels():
    import torch
    import torchvision
    from torch.utils._python_dispatch import TorchDispatchMode

    class Rec(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            name = func.__name__.split(".")[0]
            overload = func.__name__.split(".")[1] if "." in func.__name__ else ""
            if name in FREE:
                return out
            # Shapes and types only: holding the tensors would keep AccumulateGrad from
            # stealing the gradients (it copies a gradient someone else references).
            ins = [(a.numel(), a.dtype, a.dim()) for a in args if isinstance(a, torch.Tensor)]
            outs = [(o.numel(), o.dtype, o.dim()) for o in (out if isinstance(out, (tuple, list)) else [out])
                    if isinstance(o, torch.Tensor)]
            self.ops.append((name, overload, ins, outs))
            return out

    torch.manual_seed(0)
    model = torchvision.models.resnet50().train()
    x = torch.randn(BATCH, 3, IMAGE, IMAGE)
    rec = Rec()
    with rec:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = model(x)
            loss = y.float().pow(2).mean()
        loss.backward()
    seq = []
    for name, overload, ins, outs in rec.ops:
        if name == "_to_copy":
            seq.append(("copy", 6 * ins[0][0], f"{ins[0][1]}->{outs[0][1]}"))
        elif name == "convolution":
            seq.append(("conv2d", None, ""))
        elif name == "convolution_backward":
            seq += [("conv2d", None, "")] * len(outs)
        elif name == "native_batch_norm":
            seq.append(("batchnorm", None, ""))
        elif name == "native_batch_norm_backward":
            seq += [("reduce", None, ""), ("batchnorm", None, "")]
        elif name in ("relu", "relu_", "threshold_backward"):
            seq.append(("relu", None, ""))
        elif name.startswith("max_pool2d_with_indices"):
            seq.append(("maxpool", None, ""))
        elif name == "mean" and overload == "dim":
            seq.append(("avgpool", None, ""))
        elif name == "div" and outs[0][2] == 4:   # mean.dim's backward: expand / (h*w)
            seq.append(("avgpool", None, ""))
        elif name in ("add", "add_"):
            seq.append(("add", None, ""))
        elif name in ("addmm", "mm"):
            seq.append(("matmul", None, ""))
        elif name == "sum" or (name == "mean" and overload == "default"):
            seq.append(("reduce", None, ""))
        elif name in ("mul", "div"):
            seq.append(("mul", None, ""))
        elif name == "pow":
            # forward pow(2): a kernel; pow_backward's self.pow(1) copies its input
            seq.append(("mul", None, "") if not seq or seq[-1][0] != "mul" or len(seq) < 3 else ("copy", None, ""))
        elif name in ("ones_like", "fill_"):
            seq.append(("copy", None, ""))
        else:
            seq.append((f"aten::{name}", None, ""))
    return seq


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e} (install python3-torch and python3-torchvision)")
        return 77
    ref = torch_kernels()
    out = subprocess.run([sys.argv[1], "run", "--hw", "h100-sxm", "--workload",
                          f"resnet50:batch={BATCH},image={IMAGE},train=1,amp=bf16,optimizer=adamw_fused",
                          "--format", "json"], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"tessera run failed ({out.returncode}): {out.stderr}")
        return 1
    ops = [o for o in json.loads(out.stdout)["ops"] if o["kind"] != "optimizer"]
    failures = []
    if len(ops) != len(ref):
        failures.append(f"kernels before the optimizer: PyTorch {len(ref)}, built-in {len(ops)}")
    for i, (o, (kind, cast_bytes, what)) in enumerate(zip(ops, ref)):
        if o["kind"] != kind:
            failures.append(f"kernel {i}: PyTorch {kind}, built-in {o['kind']} ({o['name']})")
        elif cast_bytes is not None and o["bytes"] != cast_bytes:
            failures.append(f"kernel {i}: PyTorch cast {what} of {cast_bytes} bytes, built-in {o['bytes']} "
                            f"({o['name']})")
    if failures:
        print("the built-in amp training step differs from PyTorch's:")
        for line in failures[:20]:
            print("  " + line)
        return 1
    casts = sum(1 for r in ref if r[1] is not None)
    print(f"resnet50 batch {BATCH}, image {IMAGE}, autocast bf16 step: {len(ref)} kernels before the optimizer "
          f"({casts} casts) in PyTorch's order, same kinds and cast sizes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
