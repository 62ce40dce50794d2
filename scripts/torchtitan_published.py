#!/usr/bin/python3
"""Predicts the training throughput torchtitan publishes for FSDP2 and prints it
beside theirs.
Source: pytorch/torchtitan docs/performance.md.
  - Table 1 (1D parallelism, FSDP; Llama 3.1 8B, 8 GPUs, local batch 2, global
    batch 16, selective activation checkpointing): 5,762 tokens/s per GPU for
    plain FSDP (no torch.compile, no Float8), on Meta's Grand Teton H100s: 96 GB
    HBM2e at 2.4 TB/s, the default 500 W power limit, 400 Gb/s RDMA per GPU.
  - "Llama 3 performance numbers" (FSDP2 on 64 A100 80GB, local batch 1): 8B with
    selective op checkpointing 2,973 tokens/s per GPU (MFU 58.2 %); 70B with full
    checkpointing 331 (MFU 51.7 %).
Sequence 8192 (torchtitan's llama3 train configs; the published MFU follows from
it: 58.2 % of 312 TFLOP/s over 2,973 tokens/s is 61.1 GFLOP per token, 6 x 8.03e9
plus 12 x 32 x 4096 x 8192 of attention). The model is torchtitan's Llama 3: the
LM head (lm_head=1); FSDP2 on every layer and the root (ddp=fsdp, zero=3) with
MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32) (dtype=bf16,
grad_reduce=fp32: fp32 sharded parameters and optimizer state); the fused AdamW
(optimizer=adamw_fused); "selective op" checkpointing is recompute=op, full is
recompute=full. Not modelled: the loss kernels (the backward starts from the
logits' gradient), torchtitan's complex-number rotary embedding (HF's
rotate_half kernels instead), gradient-norm clipping's scaling.
Usage: scripts/torchtitan_published.py [--tessera build/tessera]
"""
import argparse

from published_runs import check_tessera, iteration_s, summary

SEQ = 8192
# name, hardware, --set overrides, workload, dp, local batch, recompute, reported tokens/s per GPU
ROWS = [
    ("H100 Llama 3.1 8B, FSDP", "dgx-h100",
     ["memory.dram.bandwidth=2.4TB/s", "memory.dram.capacity=96GB", "power.power_limit=500W"],
     "llama3-8b", 8, 2, "op", 5762),
    ("A100 Llama 3 8B, FSDP", "dgx-a100", ["system.nodes=8"], "llama3-8b", 64, 1, "op", 2973),
    ("A100 Llama 3 70B, FSDP", "dgx-a100", ["system.nodes=8"], "llama3-70b", 64, 1, "full", 331),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tessera", default="build/tessera")
    args = ap.parse_args()
    check_tessera("torchtitan_published", args.tessera)
    errors = []
    print(f"{'row':26s} {'GPUs':>5s} {'batch':>5s} {'AC':>5s} {'step':>9s} {'predicted':>10s} {'reported':>9s} "
          f"{'error':>7s}")
    for name, hw, sets, model, dp, batch, ac, reported in ROWS:
        spec = (f"{model}:seq={SEQ},dp={dp},global_batch={dp * batch},microbatch={batch},train=1,zero=3,ddp=fsdp,"
                f"grad_reduce=fp32,lm_head=1,recompute={ac},optimizer=adamw_fused")
        t = iteration_s("torchtitan_published", args.tessera, name, hw, sets, spec)
        predicted = batch * SEQ / t
        errors.append((predicted - reported) / reported * 100)
        print(f"{name:26s} {dp:5d} {batch:5d} {ac:>5s} {t:7.3f} s {predicted:10.0f} {reported:9d} {errors[-1]:+6.1f}%")
    print(summary(errors))


if __name__ == "__main__":
    main()
