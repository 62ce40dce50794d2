#!/usr/bin/python3
"""Capture the kernels a PyTorch model executes into a Tessera JSON trace
(docs/trace-format.md), for `tessera run --workload trace.json`.

Every ATen operator that reaches the dispatcher is intercepted with a
TorchDispatchMode: operators that launch a kernel become trace ops (kind,
shapes, dtype), views and metadata operators (view, permute, expand, ...)
are skipped, and dependencies are recovered by remembering which op last
wrote each tensor's storage.

Usage (PyTorch must be installed, e.g. Debian's python3-torch and
python3-torchvision; Tessera itself never imports it; run by another python3
without torch, the script runs itself again under /usr/bin/python3):
    scripts/trace_pytorch.py --model torchvision.models:resnet50 \
        --input 1x3x224x224 --dtype bf16 -o resnet50.json
    scripts/trace_pytorch.py --model transformers:AutoModel.from_pretrained \
        --model-arg bert-base-uncased --tokens 1x128 -o bert.json
    python3 scripts/trace_pytorch.py --model mymodule:build --device meta ...

--device meta runs without memory or arithmetic (shapes only), which works for
most models. From Python: `trace(model, *example_inputs)` returns the trace dict.

Operators with no Tessera kind are recorded as kind "copy" (their bytes are
counted, their arithmetic is not) with meta.unmapped = true, and listed on stderr.
"""
import argparse
import functools
import importlib
import inspect
import json
import math
import os
import sys

try:
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
except ImportError:  # pragma: no cover - torch is optional
    torch = None
    TorchDispatchMode = object

# Operators that only change metadata: no kernel.
FREE_OPS = {
    "view", "_unsafe_view", "reshape", "t", "transpose", "permute", "expand", "slice", "select",
    "unsqueeze", "squeeze", "detach", "alias", "as_strided", "split", "split_with_sizes", "chunk",
    "unbind", "narrow", "flatten", "unflatten", "view_as", "expand_as", "lift_fresh", "empty",
    "empty_like", "empty_strided", "_reshape_alias", "dropout", "native_dropout",
    "scalar_tensor", "lift_fresh_copy", "as_strided_",
    "sym_size", "sym_stride", "sym_numel", "is_same_size", "size", "stride", "dim",
}

# Operators that write their output from indices or a random generator: one kernel
# each on a GPU (arange: aten/src/ATen/native/cuda/RangeFactories.cu; rand/randn/
# normal_/uniform_/bernoulli_: the Philox kernels of cuda/DistributionTemplates.h),
# counted as a fill of the output.
GENERATORS = {"arange", "linspace", "logspace", "eye", "rand", "randn", "randint", "rand_like", "randn_like",
              "randint_like", "normal", "normal_", "uniform_", "bernoulli", "bernoulli_", "exponential_",
              "random_", "randperm", "multinomial"}

# Criteria reduced over their input (map_op).
LOSSES = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
          "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss", "multilabel_margin_loss_forward",
          "multi_margin_loss", "poisson_nll_loss", "hinge_embedding_loss"}

# Attributes that may be 0 (everything else a trace op carries is a positive size).
ZERO_OK = {"pad", "pad_w", "pad_d", "causal", "bias", "bias_bool", "bias_shared", "bias_strided",
           "qkv_packed", "channels_last", "grad", "transposed", "host_sync", "exponent"}
# Reductions over the input (map_op: the IR's reduce).
REDUCTIONS = {"sum", "mean", "nansum", "nanmean", "amax", "amin", "max", "min", "argmax", "argmin", "prod",
              "var", "std", "var_mean", "std_mean", "norm", "linalg_vector_norm", "logsumexp", "any", "all",
              "count_nonzero", "aminmax"}
# Element-wise math -> the IR kind of the same cost class (the ONNX importer's table,
# docs/workloads.md): clamps and sign-like ops -> relu; exp/log-like -> sigmoid;
# sqrt, reciprocal, trigonometric -> tanh; erf -> gelu; mish (x tanh(softplus x)) -> silu.
UNARY = {name: kind for kind, names in (
    ("relu", ("clamp", "clamp_min", "clamp_max", "leaky_relu", "abs", "sign", "sgn", "floor", "ceil", "round",
              "trunc", "frac", "relu6", "prelu", "_prelu_kernel", "logical_not", "bitwise_not", "threshold",
              "hardshrink", "softshrink", "nan_to_num")),
    ("sigmoid", ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "softplus", "elu", "celu", "selu",
                 "log_sigmoid_forward", "logit")),
    ("tanh", ("sqrt", "rsqrt", "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
              "asinh", "acosh", "atanh")),
    ("gelu", ("erf", "erfc", "erfinv")),
    ("silu", ("mish",))) for name in names}
# Data movement with no arithmetic: one kernel writing its output (the ONNX
# importer's copy over the output: Resize, Tile, ScatterND, Trilu, ...). A sort or a
# scan is counted so too (its bytes; the passes of a radix sort are not modelled), and
# grid sampling (its output; the four input samples of each point are not counted).
MOVES = {"stack", "repeat", "repeat_interleave", "flip", "pixel_shuffle", "pixel_unshuffle", "tril", "triu",
         "index_put", "index_put_", "_index_put_impl_", "scatter", "scatter_", "scatter_add", "scatter_add_",
         "scatter_reduce", "scatter_reduce_", "slice_scatter", "select_scatter", "index_add", "index_add_",
         "index_copy", "index_copy_", "masked_scatter", "masked_scatter_", "bucketize", "searchsorted", "sort",
         "argsort", "cumsum", "cumsum_", "cumprod", "logcumsumexp", "upsample_nearest1d", "upsample_nearest2d",
         "upsample_nearest3d", "_upsample_nearest_exact1d", "_upsample_nearest_exact2d",
         "_upsample_nearest_exact3d", "upsample_linear1d", "upsample_bilinear2d", "upsample_bicubic2d",
         "upsample_trilinear3d", "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa", "col2im", "im2col",
         "grid_sampler_2d", "grid_sampler_3d", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
         "replication_pad1d", "replication_pad2d", "replication_pad3d", "_pad_circular", "diag_embed", "one_hot", "roi_align", "roi_pool",
         "ps_roi_align", "ps_roi_pool"}

DTYPES = {}
if torch is not None:
    DTYPES = {
        torch.float64: "fp64", torch.float32: "fp32", torch.bfloat16: "bf16",
        torch.float16: "fp16", torch.int8: "int8", torch.uint8: "uint8", torch.int32: "int32",
        torch.int64: "int32", torch.bool: "uint8",
    }
    for name, fmt in (("float8_e4m3fn", "fp8_e4m3"), ("float8_e5m2", "fp8_e5m2")):
        if hasattr(torch, name):
            DTYPES[getattr(torch, name)] = fmt


def _prod(xs):
    return int(math.prod(int(x) for x in xs)) if len(xs) else 1


def _rows_cols(shape):
    shape = [int(s) for s in shape]
    if not shape:
        return 1, 1
    return _prod(shape[:-1]), shape[-1]


def _is_tensor(x):
    return torch is not None and isinstance(x, torch.Tensor)


def _tensors(obj):
    if _is_tensor(obj):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _tensors(x)


def _dense(t):
    """True when t's elements fill its storage span without gaps in some dimension
    order (non-overlapping and dense): a contiguous tensor or a permutation of one."""
    dims = sorted((st, sz) for st, sz in zip(t.stride(), t.shape) if sz != 1)
    expect = 1
    for st, sz in dims:
        if st != expect:
            return False
        expect *= sz
    return True


def _conv_out(i, k, s, p, d):
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def _per_axis(v, sp):
    """A window argument (stride, padding, ...) as one value per spatial axis: a
    one-element list stands for all `sp` axes."""
    v = list(v)
    return v * sp if len(v) == 1 else v


def _window(sizes, k, stride, pad, dil):
    """The IR's height and width attributes of a conv/pool window over the last one
    or two of `sizes` (per-axis k, stride, pad and dil lists; dil None: a pool): the
    height's stride, pad (dilation), and the width's stride_w, pad_w (dilation_w)
    where they differ from the height's (Inception's 1x7 filters, padding (0, 3)).
    A 1-D window has a height of 1 with no padding; its axis is the width."""
    if len(sizes) == 1:
        h, r, st, p, dl = 1, 1, stride[0], 0, None if dil is None else dil[0]
    else:
        h, r, st, p, dl = sizes[-2], k[-2], stride[-2], pad[-2], None if dil is None else dil[-2]
    attrs = {"h": h, "w": sizes[-1], "r": r, "s": k[-1], "stride": st, "pad": p}
    if stride[-1] != st:
        attrs["stride_w"] = stride[-1]
    if pad[-1] != p:
        attrs["pad_w"] = pad[-1]
    if dil is not None:
        attrs["dilation"] = dl
        if dil[-1] != dl:
            attrs["dilation_w"] = dil[-1]
    return attrs


def map_op(name, args, kwargs, out):
    """Returns (kind, attrs) for a kernel-launching operator, or None if unmapped."""
    a = list(args)
    if name in ("mm", "addmm"):
        x, w = (a[0], a[1]) if name == "mm" else (a[1], a[2])
        return "matmul", {"batch": 1, "m": x.shape[0], "n": w.shape[1], "k": x.shape[1]}
    if name in ("bmm", "baddbmm"):
        x, w = (a[0], a[1]) if name == "bmm" else (a[1], a[2])
        return "matmul", {"batch": x.shape[0], "m": x.shape[1], "n": w.shape[2], "k": x.shape[2]}
    if name in ("convolution", "cudnn_convolution", "_convolution", "conv1d", "conv2d", "conv3d"):
        x, w = a[0], a[1]
        sp = x.dim() - 2  # spatial axes: Conv1d, Conv2d, Conv3d
        full = name in ("convolution", "_convolution")
        if sp not in (1, 2, 3) or (len(a) > 4 and isinstance(a[4], str)):
            return None  # padding='same'/'valid' reaches aten::convolution expanded

        stride, pad, dil = (_per_axis(a[i] if len(a) > i else [d], sp) for i, d in ((3, 1), (4, 0), (5, 1)))
        transposed = full and len(a) > 6 and bool(a[6])
        groups = a[8] if full and len(a) > 8 else (a[6] if not full and len(a) > 6 else 1)
        k = list(w.shape[2:])
        # A transposed convolution is the data gradient (grad=1, transposed=1) of the
        # convolution it transposes, whose input is this one's output.
        if transposed:
            cin, cout, sizes = w.shape[1] * groups, x.shape[1], list(out.shape[2:])
        else:
            cin, cout, sizes = x.shape[1], w.shape[0], list(x.shape[2:])
        attrs = {"n": x.shape[0], "cin": cin, "cout": cout, "groups": groups}
        attrs.update(_window(sizes, k, stride, pad, dil))
        if sp == 3:
            attrs.update(d=sizes[0], t=k[0], stride_d=stride[0], pad_d=pad[0], dilation_d=dil[0])
        if transposed:
            attrs.update(grad=1, transposed=1)
        # The input's layout: NHWC / NDHWC (channels_last / channels_last_3d) or NCHW,
        # around which cuDNN converts a tensor-core convolution's operands
        # (docs/gpu-model.md, conv rules). A 1-D input is NCL: cuDNN's NCHW with H = 1.
        layout = {2: torch.channels_last, 3: torch.channels_last_3d}.get(sp)
        cl = layout is not None and x.is_contiguous(memory_format=layout) and not x.is_contiguous()
        attrs["channels_last"] = int(cl)
        return "conv2d", attrs
    if name in ("_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
                "_scaled_dot_product_cudnn_attention", "scaled_dot_product_attention",
                "_scaled_dot_product_flash_attention_for_cpu"):
        q, k = a[0], a[1]
        # Argument positions per ATen schema:
        #   flash / flash_for_cpu: (q, k, v, dropout_p, is_causal, ...), mask as kwarg
        #   efficient / cudnn:     (q, k, v, attn_bias, compute_log_sumexp, dropout_p, is_causal)
        #   scaled_dot_product_attention: (q, k, v, attn_mask, dropout_p, is_causal)
        pos = {"_scaled_dot_product_flash_attention": (None, 4),
               "_scaled_dot_product_flash_attention_for_cpu": (None, 4),
               "_scaled_dot_product_efficient_attention": (3, 6),
               "_scaled_dot_product_cudnn_attention": (3, 6),
               "scaled_dot_product_attention": (3, 5)}[name]
        bias = kwargs.get("attn_mask", kwargs.get("attn_bias"))
        if pos[0] is not None and len(a) > pos[0] and _is_tensor(a[pos[0]]):
            bias = a[pos[0]]
        causal = bool(kwargs.get("is_causal", a[pos[1]] if len(a) > pos[1] else False))
        attrs = {"batch": q.shape[0], "heads": q.shape[1], "kv_heads": k.shape[1],
                 "sq": q.shape[2], "skv": k.shape[2], "d": q.shape[3],
                 "causal": int(causal), "bias": int(bias is not None)}
        # Slices of one packed projection (not dense): the math backend copies them.
        if not all(_dense(t) for t in a[:3]):
            attrs["qkv_packed"] = 1
        if bias is not None:
            # A mask broadcast over the batch is read once per batch entry from
            # one copy; one whose last dim is not contiguous (a permuted
            # projection) is refused by every fused GPU backend (sdp_utils_cpp.h,
            # check_last_dim_stride_equals_1_dense).
            if q.shape[0] > 1 and bias.dim() == 4 and (bias.shape[0] == 1 or bias.stride(0) == 0):
                attrs["bias_shared"] = 1
            if bias.stride(-1) != 1:
                attrs["bias_strided"] = 1
            if bias.dtype == torch.bool:
                attrs["bias_bool"] = 1   # converted to an additive mask first
        return "attention", attrs
    if name == "native_layer_norm":
        cols = _prod(a[1])
        return "layernorm", {"rows": a[0].numel() // cols, "cols": cols}
    if name == "native_group_norm":
        # (input, weight, bias, N, C, HxW, group, eps): each (n, group) row of C/group x HxW
        # normalised, a row kernel as a layer norm's (ONNX exports it as InstanceNormalization).
        n, c, hw, groups = a[3], a[4], a[5], a[6]
        return "layernorm", {"rows": n * groups, "cols": (c // groups) * hw}
    if name in ("rms_norm", "_fused_rms_norm"):
        cols = _prod(a[1])
        return "rmsnorm", {"rows": a[0].numel() // cols, "cols": cols}
    if name in ("_softmax", "softmax", "_log_softmax"):
        dim = a[1] % a[0].dim() if a[0].dim() else 0
        cols = a[0].shape[dim] if a[0].dim() else 1
        return "softmax", {"rows": a[0].numel() // cols, "cols": cols}
    simple = {"gelu": "gelu", "silu": "silu", "relu": "relu", "sigmoid": "sigmoid",
              "tanh": "tanh", "gelu_": "gelu", "silu_": "silu", "relu_": "relu",
              "sigmoid_": "sigmoid", "tanh_": "tanh", "hardtanh": "relu", "hardtanh_": "relu",
              # Piecewise-linear, no transcendental (as hardtanh): a clamp's cost.
              "hardswish": "relu", "hardswish_": "relu", "hardsigmoid": "relu", "hardsigmoid_": "relu"}
    if name in simple:
        r, c = _rows_cols(a[0].shape)
        return simple[name], {"rows": r, "cols": c}
    if name in ("add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "rsub"):
        kind = "add" if name.startswith(("add", "sub", "rsub")) else "mul"
        r, c = _rows_cols(out.shape)
        full = sum(1 for x in a[:2] if _is_tensor(x) and x.numel() == out.numel())
        return kind, {"rows": r, "cols": c, "inputs": max(1, full)}
    if name in ("_native_batch_norm_legit_no_training", "native_batch_norm", "cudnn_batch_norm",
                "_native_batch_norm_legit"):
        x = a[0]
        layout = {4: torch.channels_last, 5: torch.channels_last_3d}.get(x.dim())
        cl = layout is not None and x.is_contiguous(memory_format=layout) and not x.is_contiguous()
        return "batchnorm", {"rows": x.numel() // x.shape[1], "cols": x.shape[1], "n": x.shape[0],
                             "channels_last": int(cl)}
    if name in ("max_pool1d", "max_pool2d_with_indices", "max_pool2d", "max_pool3d_with_indices", "max_pool3d",
                "avg_pool1d", "avg_pool2d", "avg_pool3d"):
        x = a[0]
        sp = x.dim() - 2
        if sp not in (1, 2, 3):
            return None

        k = _per_axis(a[1], sp)
        stride = _per_axis(a[2], sp) if len(a) > 2 and a[2] else list(k)
        pad = _per_axis(a[3], sp) if len(a) > 3 else [0] * sp
        kind = "avgpool" if name.startswith("avg") else "maxpool"
        if sp >= 2 and x.shape[-2] == 1 and k[-2] == 1 and pad[-2] == 0:
            stride[-2] = stride[-1]  # a height of 1 (max_pool1d runs as a 2-D pool): its stride is moot
        attrs = {"n": x.shape[0], "c": x.shape[1]}
        attrs.update(_window(list(x.shape[2:]), k, stride, pad, None))
        if sp == 3:
            attrs.update(d=x.shape[2], t=k[0], stride_d=stride[0], pad_d=pad[0])
        return kind, attrs
    if name in ("_adaptive_avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"):
        # Per axis, windows of in - (out - 1) x stride at a stride of in // out:
        # exact where out divides in (AdaptiveAvgPool2d(1) and the like).
        x, o = a[0], _per_axis(a[1], 2)
        stride = [max(1, x.shape[2 + i] // max(1, o[i])) for i in range(2)]
        k = [x.shape[2 + i] - (o[i] - 1) * stride[i] for i in range(2)]
        attrs = {"n": x.shape[0], "c": x.shape[1]}
        attrs.update(_window(list(x.shape[2:]), k, stride, [0, 0], None))
        return ("maxpool" if "max" in name else "avgpool"), attrs
    if name in ("_adaptive_avg_pool3d", "adaptive_avg_pool3d") and all(v == 1 for v in list(a[1])):
        # To one output: one window over the whole d x h x w map.
        x = a[0]
        return "avgpool", {"n": x.shape[0], "c": x.shape[1], "d": x.shape[2], "h": x.shape[3], "w": x.shape[4],
                           "t": x.shape[2], "r": x.shape[3], "s": x.shape[4], "stride": 1, "pad": 0}
    if name == "mean" and a[0].dim() == 4 and len(a) > 1 and sorted(d % 4 for d in a[1]) == [2, 3]:
        x = a[0]
        return "avgpool", {"n": x.shape[0], "c": x.shape[1], "h": x.shape[2], "w": x.shape[3],
                           "r": x.shape[2], "s": x.shape[3], "stride": 1, "pad": 0}
    if name == "mean" and a[0].dim() == 5 and len(a) > 1 and sorted(d % 5 for d in a[1]) == [2, 3, 4]:
        # AdaptiveAvgPool3d(1) on the CPU: a mean over depth, height and width.
        x = a[0]
        return "avgpool", {"n": x.shape[0], "c": x.shape[1], "d": x.shape[2], "h": x.shape[3], "w": x.shape[4],
                           "t": x.shape[2], "r": x.shape[3], "s": x.shape[4], "stride": 1, "pad": 0}
    if name == "embedding":
        w, idx = a[0], a[1]
        return "embedding", {"tokens": idx.numel(), "dim": w.shape[1], "vocab": w.shape[0]}
    if name in ("_embedding_bag", "_embedding_bag_forward_only", "embedding_bag"):
        # nn.EmbeddingBag: (weight, indices, offsets, scale_grad, mode, sparse,
        # per_sample_weights, include_last_offset, ...): every index reads one table
        # row (taken as random rows, order 2) and each bag writes one summed row.
        w, idx, off = a[0], a[1], a[2]
        last = bool(a[7]) if len(a) > 7 else bool(kwargs.get("include_last_offset", False))
        bags = off.numel() - (1 if last else 0) if _is_tensor(off) else 1
        return "embedding", {"tokens": idx.numel(), "dim": w.shape[1], "vocab": w.shape[0], "order": 2,
                             "bags": max(1, bags)}
    # Operators after which the host reads a result, so it waits for the GPU
    # (attr host_sync): .item() (_local_scalar_dense: a one-element copy to the
    # host); nonzero, unique and boolean masking, which copy a count to the host to
    # size their output (aten/src/ATen/native/cuda/Nonzero.cu, Unique.cu); and
    # torchvision's nms, whose CUDA kernel writes an n x ceil(n / 64) bit mask that
    # is copied to the host and scanned there (torchvision/csrc/ops/cuda/nms_kernel.cu).
    if name in ("_local_scalar_dense", "nonzero", "_unique2", "unique_consecutive", "unique_dim",
                "masked_select"):
        src = a[0] if a and _is_tensor(a[0]) else out
        r, c = _rows_cols(src.shape)
        return "copy", {"rows": max(r, 1), "cols": max(c, 1), "host_sync": 1}
    if name == "nms":
        n = max(1, a[0].shape[0])
        words = -(-n // 64) * 8 // max(1, a[0].element_size())   # uint64 mask words, in box elements
        return "copy", {"rows": n, "cols": max(1, words), "host_sync": 1}
    # Reductions: the IR's reduce over the input (rows = elements per output, cols =
    # outputs), as the ONNX importer's Reduce* and TopK; max/min along a dim also
    # write int64 indices, argmax/argmin only those (`outputs`: output elements per
    # column in the input's element size).
    if name in REDUCTIONS and _is_tensor(a[0]) and not (len(a) > 1 and _is_tensor(a[1])):
        x = a[0]
        if x.numel() == 0:   # a reduction of nothing fills its output (0, -inf, ...)
            r, c = _rows_cols(out.shape)
            return "copy", {"rows": max(r, 1), "cols": max(c, 1)}
        attrs = {"rows": max(1, x.numel() // max(1, out.numel())), "cols": max(1, out.numel())}
        index = -(-8 // x.element_size())   # int64 index elements in the input's size
        if name in ("max", "min") and len(a) > 1:
            attrs["outputs"] = 1 + index
        elif name in ("argmax", "argmin"):
            attrs["outputs"] = index
        return "reduce", attrs
    # Losses (inference evaluation of a criterion): a reduction over what they read.
    # nll_loss reads one log-probability per target (aten/src/ATen/native/cuda/Loss.cu:
    # nll_loss_forward_reduce_cuda_kernel_2d); the element-wise losses read their
    # input (and target) and reduce it, or write it back with reduction='none'.
    if name in ("nll_loss_forward", "nll_loss2d_forward") and _is_tensor(a[1]):
        n = max(1, a[1].numel())
        outs = max(1, out.numel())
        return "reduce", {"rows": max(1, n // outs), "cols": outs}
    if name in LOSSES and _is_tensor(a[0]) and a[0].numel() > 0:
        outs = max(1, out.numel())
        return "reduce", {"rows": max(1, a[0].numel() // outs), "cols": outs}
    # torch.cdist (p = 2, "use_mm_for_euclid_dist"): the product of [x, |x|^2, 1] and
    # [-2y, 1, |y|^2] (aten/src/ATen/native/Distance.cpp, _euclidean_dist), K = d + 2;
    # the norms, concatenations and the final clamp/sqrt are small next to it.
    # Other norms, and at most 25 rows a side (cdist's use_mm_for_euclid_dist_if_necessary),
    # run _cdist_forward, one thread block per pair reducing over d: counted as the
    # product of the same shape (a multiply-add's worth per element pair).
    if name in ("_euclidean_dist", "_cdist_forward"):
        x, y = a[0], a[1]
        batch = max(1, x.numel() // max(1, x.shape[-2] * x.shape[-1]))
        k = x.shape[-1] + (2 if name == "_euclidean_dist" else 0)
        return "matmul", {"batch": batch, "m": x.shape[-2], "n": y.shape[-2], "k": k}
    # GLU: a * sigmoid(b) of the input's two halves: reads both, writes one.
    if name == "glu":
        r, c = _rows_cols(out.shape)
        return "mul", {"rows": r, "cols": c, "inputs": 2}
    if name == "topk":
        x, k = a[0], int(a[1])
        dim = (a[2] if len(a) > 2 else -1) % max(1, x.dim())
        length = x.shape[dim] if x.dim() else 1
        return "reduce", {"rows": length, "cols": max(1, x.numel() // max(1, length)),
                          "outputs": k + -(-8 * k // x.element_size())}
    # Element-wise math as the ONNX importer maps it: a clamp-like op costs a relu,
    # exp/log-like ones a sigmoid, sqrt/reciprocal/trigonometric ones a tanh, erf a gelu.
    if name.rstrip("_") in UNARY and _is_tensor(a[0]):
        r, c = _rows_cols(a[0].shape)
        return UNARY[name.rstrip("_")], {"rows": r, "cols": c}
    if name.rstrip("_") in ("pow", "maximum", "minimum", "fmax", "fmin", "max", "min", "remainder", "fmod",
                            "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
                            "addcmul", "addcdiv", "atan2", "lerp"):
        # Binary (and ternary) element-wise: the full-size tensors are read; pow by a
        # scalar is the IR's mul with exponent E (inputs 1).
        kind = "mul" if name.rstrip("_") in ("pow", "addcmul", "addcdiv", "lerp") else "add"
        r, c = _rows_cols(out.shape)
        full = sum(1 for x in a[:3] if _is_tensor(x) and x.numel() == out.numel())
        attrs = {"rows": r, "cols": c, "inputs": max(1, full)}
        if name.rstrip("_") == "pow" and len(a) > 1 and isinstance(a[1], int) and a[1] > 0:
            attrs["exponent"] = a[1]
        return kind, attrs
    # Data movement, fills and comparisons: one pass over the output (counted as a
    # copy: read + write of rows x cols, as the built-ins count fills; a GPU
    # launches one kernel for each, a fill included: at::zeros is empty + fill_).
    if name in ("copy_", "clone", "_to_copy", "cat", "contiguous", "index_select", "gather",
                "index", "masked_fill", "masked_fill_", "where", "neg", "fill_", "zero_", "roll",
                "constant_pad_nd", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like",
                "new_zeros", "new_ones", "new_full", "eq", "ne", "lt", "le", "gt", "ge") or name in MOVES \
            or name in GENERATORS:
        r, c = _rows_cols(out.shape)
        return "copy", {"rows": r, "cols": c}
    return None


class _Tracer(TorchDispatchMode):
    def __init__(self, device_only=False):
        super().__init__()
        # Tracing a GPU (or meta) model: operators whose tensors all live on the CPU
        # (a torch.arange(n) without device=, arithmetic on it) run on the host and
        # launch no kernel; moving the result to the device is a recorded copy.
        self.device_only = device_only
        self.ops = []
        self.writer = {}      # storage identity (_key) -> op name
        self.unmapped = {}
        self.counts = {}
        self.inside_rnn = 0   # > 0: within an nn.LSTM / nn.GRU call (_rnn_post emits its ops)
        self.quiet = 0        # > 0: operators run by the tracer itself (sdpa_call)
        self.tied = 0         # tie groups used so far (one per recurrent weight)

    def add(self, op, outs=()):
        """Appends a trace op; `outs` are the tensors it writes."""
        self.ops.append(op)
        for t in outs:
            self.set_writer(t, op["name"])
        return op["name"]

    def _rnn_pre(self, module, inputs):
        self.inside_rnn += 1

    def _rnn_post(self, module, inputs, output):
        """One nn.LSTM / nn.GRU call as PyTorch runs it on a GPU: one cuDNN RNN call
        (aten::_cudnn_rnn) in the structure of Tessera's built-in lstm and gru
        (workloads/models/rnn.cpp): per layer and direction the input projection of
        every step at once, then per step the recurrent GEMM and the fused cell;
        cuDNN's loop launches every kernel after the first (lib_launch). For hidden
        <= 192 PyTorch's get_algo picks cuDNN's persistent small-hidden kernel: the
        recurrence is then one op (matmul, rnn=3, batch = steps), as the built-ins'
        algo=auto. On the CPU the module decomposes into per-step aten calls, which
        are not what a GPU runs, so they are not recorded."""
        self.inside_rnn -= 1
        x = inputs[0]
        gates = 4 if isinstance(module, torch.nn.LSTM) else 3
        dt = DTYPES.get(x.dtype, "fp32")
        seq, batch = (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])
        if x.dim() == 2:   # unbatched input [seq, input]
            seq, batch = x.shape[0], 1
        hidden, dirs = module.hidden_size, 2 if module.bidirectional else 1
        persistent = hidden <= 192 and x.dtype != torch.float64   # use_rnn_persist_small_h
        bias = 1 if module.bias else 0
        base = self.counts.get("_cudnn_rnn", 0)
        self.counts["_cudnn_rnn"] = base + 1
        first_deps = [self.writer_of(x)] if self.writer_of(x) else []
        if len(inputs) < 2 or inputs[1] is None:
            # Called without hx: nn.LSTM / nn.GRU.forward fills h_0 (and the LSTM's c_0)
            # with torch.zeros first, one kernel each (the built-ins' h0, c0).
            for name in ("h0", "c0")[:2 if gates == 4 else 1]:
                self.add({"name": f"_cudnn_rnn.{base}.{name}", "kind": "copy", "dtype": dt, "out_dtype": dt,
                          "attrs": {"rows": module.num_layers * dirs * batch, "cols": hidden}, "deps": [],
                          "meta": {"aten": "aten::zeros"}})
        opened = False
        prev = None   # cells of the layer below, per direction
        for layer in range(module.num_layers):
            layer_in = module.input_size if layer == 0 else dirs * hidden
            deps = first_deps if layer == 0 else [c for cells in prev for c in cells]
            layer_cells = []
            for d in range(dirs):
                pre = f"_cudnn_rnn.{base}.l{layer}.{'reverse' if d else 'forward'}."
                attrs = {"batch": 1, "m": seq * batch, "n": gates * hidden, "k": layer_in, "b_shared": 1,
                         "param": 1, "cudnn": 1, "rnn": 1}
                if bias:
                    attrs["bias"] = 1
                if opened:
                    attrs["lib_launch"] = 1
                opened = True
                meta = {"aten": "aten::_cudnn_rnn"}
                xproj = self.add({"name": pre + "input_proj", "kind": "matmul", "dtype": dt, "out_dtype": dt,
                                  "attrs": attrs, "deps": list(deps), "meta": meta})
                self.tied += 1
                if persistent:
                    attrs = {"batch": seq, "m": batch, "n": gates * hidden, "k": hidden, "b_shared": 1,
                             "param": 1, "cudnn": 1, "rnn": 3, "lib_launch": 1}
                    if bias:
                        attrs["bias"] = 1
                    layer_cells.append([self.add({"name": pre + "recurrence", "kind": "matmul", "dtype": dt,
                                                  "out_dtype": dt, "attrs": attrs, "deps": [xproj],
                                                  "meta": meta})])
                    continue
                h, cells = None, []
                for t in range(seq):
                    attrs = {"batch": 1, "m": batch, "n": gates * hidden, "k": hidden, "b_shared": 1, "param": 1,
                             "tied": self.tied, "cudnn": 1, "rnn": 2, "lib_launch": 1}
                    if bias:
                        attrs["bias"] = 1
                    hproj = self.add({"name": f"{pre}t{t}.hidden_proj", "kind": "matmul", "dtype": dt,
                                      "out_dtype": dt, "attrs": attrs, "deps": [h] if h else [], "meta": meta})
                    h = self.add({"name": f"{pre}t{t}.cell", "kind": "rnn_cell", "dtype": dt, "out_dtype": dt,
                                  "attrs": {"rows": batch, "cols": hidden, "gates": gates, "lib_launch": 1},
                                  "deps": [xproj, hproj] + ([h] if h else []), "meta": meta})
                    cells.append(h)
                layer_cells.append(cells)
            prev = layer_cells
        last = prev[-1][-1]
        for t in _tensors(output):
            self.set_writer(t, last)

    def mha_call(self, module, forward, *args, **kwargs):
        """Runs nn.MultiheadAttention's forward (a wrapper: forward hooks of older
        PyTorch releases do not see keyword arguments, and torchvision passes
        query=, key=, value=) and then rewrites what it recorded (_mha_post)."""
        call = inspect.signature(forward).bind(*args, **kwargs)
        call.apply_defaults()
        start = len(self.ops)
        output = forward(*args, **kwargs)
        self._mha_post(module, start, call.arguments, output)
        return output

    def _mha_post(self, module, start, call, output):
        """One nn.MultiheadAttention call as PyTorch 2.x runs it on a GPU. With
        need_weights=False (TransformerEncoderLayer, torchvision's ViT, nn.Transformer)
        it is a fused SDPA between the projections, not the unfused chain an older
        CPU build runs: in inference, a self-attention with batch_first, an even head
        count, a head size that is a multiple of 8 and packed in-projection weights
        takes native_multi_head_attention's SDPA path
        (aten/src/ATen/native/transformers/cuda/attention.cu): the q|k|v linear, SDPA on
        head views of it, the reshape of the transposed output (a copy), the output
        linear. Otherwise F.multi_head_attention_forward's (torch/nn/functional.py):
        the projections (one packed linear for a self-attention, q and a packed k|v
        for k is v), the .contiguous() of a packed projection's unflattened heads (a
        copy), SDPA on dense heads, .contiguous() of its permuted output (a copy), the
        output linear. With need_weights=True the operators recorded stand (the
        unfused chain, which is what computes the weights)."""
        weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
        if weights is not None or not module._qkv_same_embed_dim or module.bias_k is not None \
                or module.add_zero_attn:
            return
        q, k, v = call["query"], call["key"], call["value"]
        if not all(_is_tensor(t) and t.dim() == 3 for t in (q, k, v)):
            return
        del self.ops[start:]
        bf = module.batch_first
        tq, b = (q.shape[1], q.shape[0]) if bf else (q.shape[0], q.shape[1])
        tk = k.shape[1] if bf else k.shape[0]
        e, h = module.embed_dim, module.num_heads
        d = e // h
        dt = DTYPES.get(q.dtype, "fp32")
        n = self.counts.get("_mha", 0)
        self.counts["_mha"] = n + 1
        pre = f"_mha.{n}."

        def dep(*ts):
            out = []
            for t in ts:
                w = self.writer_of(t)
                if w is not None and w not in out:
                    out.append(w)
            return out

        def add(name, kind, attrs, deps, aten):
            return self.add({"name": pre + name, "kind": kind, "dtype": dt, "out_dtype": dt,
                             "attrs": attrs, "deps": deps, "meta": {"aten": aten}})

        masks = [m for m in (call.get("attn_mask"), call.get("key_padding_mask")) if _is_tensor(m)]
        mask = masks[0] if masks else None
        attn = {"batch": b, "heads": h, "kv_heads": h, "sq": tq, "skv": tk, "d": d,
                "causal": int(bool(call.get("is_causal")) and mask is None), "bias": int(mask is not None)}
        if mask is not None and mask.dtype == torch.bool:
            attn["bias_bool"] = 1
        same = q is k and k is v
        fast = (not module.training and same and bf and h % 2 == 0 and d % 8 == 0
                and module.in_proj_bias is not None and mask is None)
        if fast:
            aten = "aten::_native_multi_head_attention"
            qkv = add("in_proj", "matmul", {"batch": 1, "m": b * tq, "n": 3 * e, "k": e}, dep(q), aten)
            att = add("sdpa", "attention", dict(attn, qkv_packed=1), [qkv], aten)
        else:
            aten = "aten::multi_head_attention_forward"
            if same:
                proj = add("in_proj", "matmul", {"batch": 1, "m": b * tq, "n": 3 * e, "k": e}, dep(q), aten)
                heads = [add("in_proj.contiguous", "copy", {"rows": 3 * b * tq, "cols": e}, [proj], aten)]
            elif k is v:
                qp = add("q_proj", "matmul", {"batch": 1, "m": b * tq, "n": e, "k": e}, dep(q), aten)
                kv = add("kv_proj", "matmul", {"batch": 1, "m": b * tk, "n": 2 * e, "k": e}, dep(k), aten)
                heads = [qp, add("kv_proj.contiguous", "copy", {"rows": 2 * b * tk, "cols": e}, [kv], aten)]
            else:
                heads = [add(f"{x}_proj", "matmul", {"batch": 1, "m": b * t, "n": e, "k": e}, dep(src), aten)
                         for x, t, src in (("q", tq, q), ("k", tk, k), ("v", tk, v))]
            att = add("sdpa", "attention", attn, heads + dep(*masks), aten)
        cp = add("out.contiguous", "copy", {"rows": b * tq, "cols": e}, [att], aten)
        last = add("out_proj", "matmul", {"batch": 1, "m": b * tq, "n": e, "k": e}, [cp], aten)
        for t in _tensors(output[0] if isinstance(output, tuple) else output):
            self.set_writer(t, last)

    def _key(self, t):
        """The identity of t's storage (views share it): PyTorch 2.x's untyped storage
        (its address; on the meta device, where every address is 0, the storage
        object's id), PyTorch 1.x's StorageImpl address. None: no storage."""
        try:
            if hasattr(t, "untyped_storage"):
                st = t.untyped_storage()
                return (t.device.type, st.data_ptr(), id(st) if t.device.type == "meta" else 0)
            return (t.device.type, t.storage()._storage._cdata)
        except Exception:  # noqa: BLE001 - tensors without storage (e.g. sparse)
            return None

    def writer_of(self, t):
        k = self._key(t)
        return None if k is None else self.writer.get(k)

    def set_writer(self, t, name):
        k = self._key(t)
        if k is not None:
            self.writer[k] = name

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.inside_rnn or self.quiet:
            return out
        name = func.__name__.split(".")[0]
        if name in FREE_OPS:
            for t in _tensors(out):  # a view shares its base's producer
                base = next(iter(_tensors(args)), None)
                if base is not None and self.writer_of(base):
                    self.set_writer(t, self.writer_of(base))
            return out
        if self.device_only and all(t.device.type == "cpu" for t in _tensors((args, kwargs, out))):
            return out
        self.record(name, args, kwargs, out)
        return out

    def record(self, name, args, kwargs, out):
        """Records the operator `name` called on args, kwargs that returned out."""
        outs = list(_tensors(out))
        first = outs[0] if outs else next(iter(_tensors(args)), None)
        if first is None:
            return
        # An operator whose outputs are all empty launches no kernel (TensorIterator
        # and the library calls return early on zero elements); a sync reading a
        # count (nonzero of nothing) still waits, so those stay.
        if outs and all(t.numel() == 0 for t in outs) and name not in ("nonzero", "_unique2", "masked_select"):
            return
        mapped = map_op(name, args, kwargs, first)
        if mapped is None:
            self.unmapped[name] = self.unmapped.get(name, 0) + 1
            r, c = _rows_cols(first.shape)
            kind, attrs = "copy", {"rows": max(r, 1), "cols": max(c, 1)}
        else:
            kind, attrs = mapped
            if any(v <= 0 for k, v in attrs.items() if k not in ZERO_OK):
                # An empty dimension inside (a product over k = 0 writes its bias or
                # zeros): one pass over the output.
                r, c = _rows_cols(first.shape)
                kind, attrs = "copy", {"rows": max(r, 1), "cols": max(c, 1)}
        self.counts[name] = self.counts.get(name, 0) + 1
        op_name = f"{name}.{self.counts[name] - 1}"
        deps = []
        for t in _tensors((args, kwargs)):
            w = self.writer_of(t)
            if w is not None and w not in deps:
                deps.append(w)
        ins = [t for t in _tensors(args) if t.is_floating_point()]
        dtype = DTYPES.get(ins[0].dtype if ins else first.dtype, "fp32")
        op = {"name": op_name, "kind": kind, "dtype": dtype,
              "out_dtype": DTYPES.get(first.dtype, dtype),
              "attrs": {k: int(v) for k, v in attrs.items()}, "deps": deps,
              "meta": {"aten": f"aten::{name}"}}
        if mapped is None:
            op["meta"]["unmapped"] = True
        self.ops.append(op)
        for t in outs:
            self.set_writer(t, op_name)
        if name.endswith("_"):  # in-place: the first argument now holds this op's result
            t = next(iter(_tensors(args)), None)
            if t is not None:
                self.set_writer(t, op_name)

    def sdpa_call(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                  enable_gqa=False):
        """F.scaled_dot_product_attention (PyTorch 2.x) where the installed PyTorch has
        none (Debian's 1.13): recorded as the one fused SDPA operator a 2.x trace
        records (map_op), its result computed by the operator's definition (the math
        backend, torch/nn/functional.py's reference implementation) without recording
        those operators."""
        self.quiet += 1
        try:
            s = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
            k, v = key, value
            if enable_gqa and query.dim() >= 3 and k.size(-3) != query.size(-3):
                g = query.size(-3) // k.size(-3)   # query heads per key/value head
                k, v = (t.unsqueeze(-3).expand(*t.shape[:-2], g, *t.shape[-2:]).flatten(-4, -3) for t in (k, v))
            w = torch.matmul(query, k.transpose(-2, -1)) * s
            if is_causal:
                keep = torch.ones(query.size(-2), k.size(-2), dtype=torch.bool, device=query.device).tril()
                w = w.masked_fill(~keep, float("-inf"))
            if attn_mask is not None:
                w = w.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else w + attn_mask
            out = torch.matmul(torch.softmax(w, -1), v)
            if out.dim() == 4:
                # The fused kernels write [batch, tokens, heads, d] and return its
                # [batch, heads, tokens, d] view (attention.cu: output.transpose(1, 2)),
                # so the usual o.transpose(1, 2).reshape(b, s, h * d) copies nothing.
                out = out.transpose(1, 2).contiguous().transpose(1, 2)
            # map_op reads [batch, heads, tokens, d]: a 3-D call has one head, more
            # leading dimensions are batch.
            q4, k4, v4 = ((t.unsqueeze(1) if t.dim() == 3 else t.reshape(-1, *t.shape[-3:]))
                          for t in (query, key, value))
            m4 = attn_mask
            if attn_mask is not None and attn_mask.dim() < 4:
                m4 = attn_mask.reshape((1,) * (4 - attn_mask.dim()) + tuple(attn_mask.shape))
        finally:
            self.quiet -= 1
        self.record("scaled_dot_product_attention", (q4, k4, v4, m4, dropout_p, is_causal), {}, out)
        return out


_ACTIVE = []   # the tracers of the trace() calls running


def _sdpa_shim(*args, **kwargs):
    """F.scaled_dot_product_attention for a PyTorch without it: recorded by the
    running trace (_Tracer.sdpa_call); outside one, computed and not recorded."""
    return (_ACTIVE[-1] if _ACTIVE else _Tracer()).sdpa_call(*args, **kwargs)


def _install_sdpa():
    """Gives torch.nn.functional the shim where PyTorch predates SDPA (2.0); True
    if it did."""
    if torch is None or hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        return False
    torch.nn.functional.scaled_dot_product_attention = _sdpa_shim
    return True


def _packed(inputs):
    return bool(inputs) and isinstance(inputs[0], torch.nn.utils.rnn.PackedSequence)


def trace(model, *inputs, name="model"):
    """Runs model(*inputs) under no_grad and returns the trace as a dict."""
    if torch is None:
        raise RuntimeError("PyTorch is not installed: pip install torch (and torchvision / "
                           "transformers for their models)")
    model.eval()
    device = next((t.device for t in inputs if torch.is_tensor(t)),
                  next((t.device for t in model.parameters()), torch.device("cpu")))
    tracer = _Tracer(device_only=device.type != "cpu")
    # In inference mode (no_grad) PyTorch runs nn.TransformerEncoderLayer and
    # nn.MultiheadAttention as one fused "fast path" operator, which has no
    # Tessera kind; with gradients enabled they run operator by operator (the
    # forward is the same computation), so models with such layers are traced so.
    fused = tuple(getattr(torch.nn, n) for n in ("TransformerEncoderLayer", "MultiheadAttention")
                  if hasattr(torch.nn, n))
    grad = any(isinstance(m, fused) for m in model.modules())
    # nn.LSTM / nn.GRU calls become cuDNN's RNN structure (_Tracer._rnn_post); a
    # packed sequence or an LSTM with projections (proj_size) is traced as its aten
    # calls.
    hooks, wrapped = [], []
    for m in model.modules():
        if isinstance(m, torch.nn.MultiheadAttention):
            m.forward = functools.partial(tracer.mha_call, m, m.forward)
            wrapped.append(m)
        if isinstance(m, (torch.nn.LSTM, torch.nn.GRU)) and not getattr(m, "proj_size", 0):
            hooks.append(m.register_forward_pre_hook(
                lambda mod, inp: None if _packed(inp) else tracer._rnn_pre(mod, inp)))
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out: None if _packed(inp) else tracer._rnn_post(mod, inp, out)))
    shim = _install_sdpa()
    _ACTIVE.append(tracer)
    try:
        with torch.set_grad_enabled(grad), tracer:
            model(*inputs)
    finally:
        _ACTIVE.pop()
        if shim:
            del torch.nn.functional.scaled_dot_product_attention
        for h in hooks:
            h.remove()
        for m in wrapped:
            del m.forward   # the class's forward again
    for n, c in sorted(tracer.unmapped.items()):
        print(f"trace_pytorch: {c} x aten::{n} has no Tessera kind; recorded as copy",
              file=sys.stderr)
    dtypes = [op["dtype"] for op in tracer.ops]
    return {"format": "tessera-trace", "version": 1, "name": name,
            "dtype": max(set(dtypes), key=dtypes.count) if dtypes else "fp32",
            "meta": {"generator": "scripts/trace_pytorch.py", "torch": torch.__version__},
            "ops": tracer.ops}


def _shape(s):
    return [int(x) for x in s.lower().split("x")]


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from need_modules import need as _need  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="module:callable returning an nn.Module")
    p.add_argument("--model-arg", action="append", default=[], help="positional argument(s)")
    p.add_argument("--input", action="append", default=[], help="float input shape, e.g. 1x3x224x224")
    p.add_argument("--tokens", help="integer token-id input shape BxS (language models)")
    p.add_argument("--dtype", default="fp32", help="fp32, bf16 or fp16")
    p.add_argument("--device", default="cpu", help="cpu, cuda or meta (shapes only)")
    p.add_argument("--name", help="workload name in the trace (default: the callable)")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args(argv)
    if torch is None:
        _need(["torch"], "install Debian's python3-torch (and python3-torchvision for its models) "
              "or run with an interpreter that has PyTorch")
    module, _, attr = a.model.partition(":")
    _install_sdpa()   # before the model's module imports it (from ... import scaled_dot_product_attention)
    fn = importlib.import_module(module)
    for part in attr.split("."):
        fn = getattr(fn, part)
    dt = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[a.dtype]
    model = fn(*a.model_arg).to(device=a.device, dtype=dt)
    inputs = [torch.randn(_shape(s), dtype=dt, device=a.device) for s in a.input]
    if a.tokens:
        inputs.append(torch.zeros(_shape(a.tokens), dtype=torch.long, device=a.device))
    result = trace(model, *inputs, name=a.name or attr.split(".")[-1])
    with open(a.output, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"trace_pytorch: {len(result['ops'])} ops -> {a.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
