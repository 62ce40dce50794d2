#!/usr/bin/python3
"""A built-in CNN launches the operators its torchvision model launches.

Traces torchvision.models.MODEL (eval, no grad; resnet50, mobilenet_v2 with
its depthwise convolutions, or the video networks r3d_18 and r2plus1d_18 of
torchvision.models.video with their Conv3d layers, on FRAMES-frame clips) through PyTorch's dispatcher with
scripts/trace_pytorch.py, runs that trace and the built-in
`MODEL:batch=B,image=I,dtype=fp32` (video: `MODEL:batch=B,frames=F,image=I,dtype=fp32`) through `tessera run --format json`, and
requires the same operator sequence: op by op the same kind, FLOPs and minimum
bytes (so the same shapes), and batch norms that a CUDA GPU would run as
cudnn_batch_norm (fp32, batch 2: PyTorch's rule). Exits 77 (skipped, reason printed) where torch or
torchvision is not installed (Debian: python3-torch, python3-torchvision).

Usage: torchvision_aten.py TESSERA_BINARY SOURCE_DIR MODEL
"""
import json
import os
import subprocess
import sys
import tempfile

BATCH, IMAGE, FRAMES = 2, 64, 8
VIDEO = ("r3d_18", "r2plus1d_18")


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("resnet50", "mobilenet_v2") + VIDEO:
        print(__doc__)
        return 2
    tessera, src, name = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        import torch
        import torchvision
    except ImportError as e:
        print(f"skipped: {e} (install python3-torch and python3-torchvision)")
        return 77
    sys.path.insert(0, os.path.join(src, "scripts"))
    import trace_pytorch

    torch.manual_seed(0)
    video = name in VIDEO
    model = getattr(torchvision.models.video if video else torchvision.models, name)().eval()
    x = torch.randn(BATCH, 3, FRAMES, IMAGE, IMAGE) if video else torch.randn(BATCH, 3, IMAGE, IMAGE)
    with torch.no_grad():
        trace = trace_pytorch.trace(model, x)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name + "_trace.json")
        with open(path, "w") as f:
            json.dump(trace, f)

        def run(workload):
            out = subprocess.run([tessera, "run", "--hw", "h100-sxm", "--workload", workload, "--format", "json"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"tessera run --workload {workload} failed ({out.returncode}): {out.stderr}")
                sys.exit(1)
            return json.loads(out.stdout)["ops"]

        traced = run(path)
        builtin = run(f"{name}:batch={BATCH},{f'frames={FRAMES},' if video else ''}image={IMAGE},dtype=fp32")
    failures = []
    if len(traced) != len(builtin):
        failures.append(f"op count: torchvision {len(traced)}, built-in {len(builtin)}")
    for i, (t, b) in enumerate(zip(traced, builtin)):
        for key in ("kind", "flops", "bytes"):
            if t[key] != b[key]:
                failures.append(f"op {i}: {key} torchvision {t[key]} ({t['name']}), built-in {b[key]} ({b['name']})")
                break
    # The CPU trace records native_batch_norm; on a CUDA GPU PyTorch's
    # _select_batch_norm_backend sends these fp32, batch-2 batch norms to cuDNN, and
    # both the traced and the built-in model must say so (compiler/tensorcore/batchnorm.h).
    for label, ops in (("torchvision", traced), ("built-in", builtin)):
        for op in ops:
            if op["kind"] == "batchnorm" and not op["mapping"].startswith("cudnn_batch_norm"):
                failures.append(f"{label} {op['name']}: GPU batch norm should be cudnn_batch_norm, mapping is "
                                f"'{op['mapping']}'")
                break
    if failures:
        print(f"the built-in {name} differs from torchvision's:")
        for line in failures[:20]:
            print("  " + line)
        return 1
    print(f"{name} batch {BATCH},{f' {FRAMES} frames,' if video else ''} image {IMAGE}: {len(builtin)} operators, same kinds, FLOPs and bytes in order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
