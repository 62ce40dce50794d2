#!/usr/bin/python3
"""Predicts the training throughput Narayanan et al. 2021 report for Megatron-LM
("Efficient Large-Scale Language Model Training on GPU Clusters Using
Megatron-LM", SC'21, arXiv:2104.04473) and prints it beside theirs.

Rows: Table 1 (weak scaling, GPT models of 1.7B to 1008B parameters) and the
PTD-P rows of Table 2 (174.6B and 529.6B against ZeRO-3). All: sequence 2048,
vocabulary 51200, DGX A100 80GB nodes (Selene: 8 GPUs and 8 HDR InfiniBand links
per node). Each Table 1 row runs as the paper's own launch script sets it
(Megatron-LM examples/sc21/run_table_1.sh and CONFIG.sh): its microbatch size, the
interleaved schedule where it gives --num-layers-per-virtual-pipeline-stage, its
--DDP-impl (torch: PyTorch DDP, ddp=torch: each parameter's .grad, AccumulateGrad
over the microbatches, no_sync() until the last, whose backward copies the
gradients into the buckets and reduces them, then copies them back; local:
Megatron-LM's own, its hook's main_grad.add_(grad) per parameter and microbatch
(grad_accum_fusion=0: the gradient-accumulation fusion came to Megatron-LM later),
the whole gradient buffer all-reduced after the schedule, overlap_grad_reduce=0),
--fp16, and uniform activation recomputation. Table 2's rows
use microbatch 1 (the paper states it), the 1F1B schedule and local DDP, as every
pipelined row of run_table_1.sh. Throughput per GPU is the paper's eq. 3,
recomputation included:
    F = 96 B s l h^2 (1 + s / (6 h) + V / (16 l h)) per iteration of B sequences.
The model is built as Megatron-LM of that time ran it: attn=megatron (no
FlashAttention: baddbmm, FusedScaleMaskSoftmax, dropout, bmm), dropout 0.1
(Megatron-LM's --attention-dropout and --hidden-dropout defaults), its fused
layer-norm and bias-GeLU kernels (kernels=fused).

Usage: scripts/megatron_published.py [--tessera build/tessera] [--extra k=v,...]
"""
import argparse

from published_runs import check_tessera, iteration_s, summary

# name, heads, hidden, layers, tp, pp, GPUs, global batch, reported TFLOP/s per GPU,
# microbatch, layers per virtual pipeline stage (0: 1F1B), DDP implementation
ROWS = [
    ("T1 1.7B", 24, 2304, 24, 1, 1, 32, 512, 137, 16, 0, "torch"),
    ("T1 3.6B", 32, 3072, 30, 2, 1, 64, 512, 138, 16, 0, "torch"),
    ("T1 7.5B", 32, 4096, 36, 4, 1, 128, 512, 142, 16, 0, "torch"),
    ("T1 18.4B", 48, 6144, 40, 8, 1, 256, 1024, 135, 8, 0, "torch"),
    ("T1 39.1B", 64, 8192, 48, 8, 2, 512, 1536, 138, 4, 0, "local"),
    ("T1 76.1B", 80, 10240, 60, 8, 4, 1024, 1792, 140, 2, 5, "local"),
    ("T1 145.6B", 96, 12288, 80, 8, 8, 1536, 2304, 148, 2, 5, "local"),
    ("T1 310.1B", 128, 16384, 96, 8, 16, 1920, 2160, 155, 1, 3, "local"),
    ("T1 529.6B", 128, 20480, 105, 8, 35, 2520, 2520, 163, 1, 1, "local"),
    ("T1 1008.0B", 160, 25600, 128, 8, 64, 3072, 3072, 163, 1, 0, "local"),
    ("T2 174.6B", 96, 12288, 96, 8, 12, 384, 1536, 153, 1, 0, "local"),
    ("T2 174.6B", 96, 12288, 96, 8, 12, 768, 1536, 149, 1, 0, "local"),
    ("T2 174.6B", 96, 12288, 96, 8, 12, 1536, 1536, 141, 1, 0, "local"),
    ("T2 529.6B", 128, 20480, 105, 8, 35, 560, 2240, 171, 1, 0, "local"),
    ("T2 529.6B", 128, 20480, 105, 8, 35, 1120, 2240, 167, 1, 0, "local"),
    ("T2 529.6B", 128, 20480, 105, 8, 35, 2240, 2240, 159, 1, 0, "local"),
]
SEQ, VOCAB = 2048, 51200


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tessera", default="build/tessera")
    ap.add_argument("--extra", default="attn=megatron,dropout=0.1,kernels=fused",
                    help="workload parameters added to every row")
    args = ap.parse_args()
    check_tessera("megatron_published", args.tessera)
    errors = []
    print(f"{'row':12s} {'tp':>3s} {'pp':>3s} {'dp':>4s} {'GPUs':>5s} {'mb':>3s} {'v':>2s} {'DDP':>5s} "
          f"{'iteration':>11s} {'predicted':>10s} {'reported':>9s} {'error':>7s}")
    for name, heads, h, layers, tp, pp, gpus, batch, reported, mb, per_virtual, ddp in ROWS:
        dp = gpus // (tp * pp)
        v = layers // (pp * per_virtual) if per_virtual else 1
        spec = (f"gpt:layers={layers},hidden={h},heads={heads},seq={SEQ},vocab={VOCAB},tp={tp},pp={pp},dp={dp},"
                f"microbatch={mb},global_batch={batch},train=1,recompute=full,dtype=fp16")
        if v > 1:
            spec += f",schedule=interleaved,virtual_stages={v}"
        spec += ",grad_accum_fusion=0,overlap_grad_reduce=0" if ddp == "local" else ",ddp=torch"
        if pp > 1:
            spec += ",p2p_overlap=0,p2p_scatter_gather=1"
        spec += f",{args.extra}"
        t = iteration_s("megatron_published", args.tessera, name, "dgx-a100", [f"system.nodes={gpus // 8}"], spec)
        flops = 96 * batch * SEQ * layers * h * h * (1 + SEQ / (6 * h) + VOCAB / (16 * layers * h))
        predicted = flops / t / gpus / 1e12
        errors.append((predicted - reported) / reported * 100)
        print(f"{name:12s} {tp:3d} {pp:3d} {dp:4d} {gpus:5d} {mb:3d} {v:2d} {ddp:>5s} {t:9.2f} s {predicted:10.1f} "
              f"{reported:9d} {errors[-1]:+6.1f}%")
    print(summary(errors))


if __name__ == "__main__":
    main()
