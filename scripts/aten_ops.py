"""How each ATen operator maps to a Tessera trace op (kind and attributes), for
scripts/trace_pytorch.py: the operator tables and map_op. Imported with or
without PyTorch (DTYPES is empty without it)."""
import math

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

# Operators that only change metadata: no kernel.
FREE_OPS = {
    "view", "_unsafe_view", "reshape", "t", "transpose", "permute", "expand", "slice", "select",
    "unsqueeze", "squeeze", "detach", "alias", "as_strided", "split", "split_with_sizes", "chunk",
    "unbind", "narrow", "flatten", "unflatten", "view_as", "expand_as", "lift_fresh", "empty",
    "empty_like", "empty_strided", "_reshape_alias", "dropout",
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
ZERO_OK = {"pad", "pad_w", "pad_d", "causal", "bias", "bias_bool", "bias_shared", "bias_head_shared",
           "bias_strided", "qkv_packed", "bag_max", "index_put", "channels_last", "grad", "transposed", "host_sync", "exponent"}
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


def _expanded(t):
    """The copy attributes of a copy from an expanded view (a dimension of size > 1
    and stride 0, as HF's repeat_kv reshapes x[:, :, None].expand(...)): expand, how
    often each input element is written, and expand_slice, the elements of the slice
    repeated by the innermost such dimension (docs/trace-format.md); {} otherwise."""
    dims = list(zip((int(n) for n in t.shape), t.stride()))
    zero = [i for i, (n, s) in enumerate(dims) if n > 1 and s == 0]
    if not zero:
        return {}
    distinct = _prod([n for n, s in dims if s != 0])
    if distinct < 1 or t.numel() % distinct:
        return {}
    return {"expand": t.numel() // distinct, "expand_slice": _prod([n for n, _ in dims[zero[-1] + 1:]])}


def _interleaved(a):
    """The copy attributes of index_select(x, dim, idx) where idx repeats each index
    of x's dimension r times in a row (idx[k] = k // r): what x.repeat_interleave(r,
    dim) launches (ATen's repeat_interleave.self_int: index_select with
    repeat_interleave(repeats)), as the SDPA math path's grouped-query key/value
    copies; expand r and expand_slice the elements after dim. {} when the indices
    are not at hand (meta tensors) or follow another pattern."""
    if len(a) < 3 or not _is_tensor(a[0]) or not _is_tensor(a[2]) or not isinstance(a[1], int):
        return {}
    x, dim, idx = a[0], a[1] % max(1, a[0].dim()), a[2]
    if idx.dim() != 1 or idx.device.type == "meta" or x.dim() == 0:
        return {}
    n = int(x.shape[dim])
    if n < 1 or idx.numel() <= n or idx.numel() % n:
        return {}
    r = idx.numel() // n
    ref = torch.arange(n, device=idx.device).repeat_interleave(r)
    if not torch.equal(idx.to(ref.dtype), ref):
        return {}
    return {"expand": r, "expand_slice": _prod([int(d) for d in x.shape[dim + 1:]])}


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


def dropout_active(name, args):
    """native_dropout(input, p, train) launches its kernel in training mode with
    0 < p < 1 (Dropout.cu); otherwise it returns its input (free)."""
    a = list(args)
    p = a[1] if len(a) > 1 else 0.0
    train = a[2] if len(a) > 2 else True
    return name == "native_dropout" and bool(train) and p is not None and 0.0 < float(p) < 1.0


def map_op(name, args, kwargs, out):
    """Returns (kind, attrs) for a kernel-launching operator, or None if unmapped."""
    a = list(args)
    if name == "native_dropout":
        # Training-mode dropout: the output and a bool keep mask in one kernel.
        r, c = _rows_cols(a[0].shape)
        return "dropout", {"rows": r, "cols": c}
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
        dropout_p = kwargs.get("dropout_p", a[pos[1] - 1] if len(a) > pos[1] - 1 else 0.0)
        attrs = {"batch": q.shape[0], "heads": q.shape[1], "kv_heads": k.shape[1],
                 "sq": q.shape[2], "skv": k.shape[2], "d": q.shape[3],
                 "causal": int(causal), "bias": int(bias is not None)}
        if dropout_p and float(dropout_p) > 0:
            attrs["dropout"] = 1   # drawn in the fused kernel (or a dropout op on the math path)
        # Slices of one packed projection (not dense): the math backend copies them.
        if not all(_dense(t) for t in a[:3]):
            attrs["qkv_packed"] = 1
        if bias is not None:
            # A mask broadcast over the batch is read once per batch entry from
            # one copy; one whose last dim is not contiguous (a permuted
            # projection) is refused by every fused GPU backend (sdp_utils_cpp.h,
            # check_last_dim_stride_equals_1_dense).
            # Dimensions align from the right: a mask of fewer than 4 dimensions is
            # broadcast over the ones it lacks; a size-1 or stride-0 one is broadcast
            # too (a padding mask [batch, 1, sq, skv] over the heads).
            def broadcast(dim, size):
                at = dim - (4 - bias.dim())
                return size > 1 and (at < 0 or bias.shape[at] == 1 or bias.stride(at) == 0)
            if broadcast(0, q.shape[0]):
                attrs["bias_shared"] = 1
            if broadcast(1, q.shape[1]):
                attrs["bias_head_shared"] = 1
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
        # Its scale and shift have C elements each (affine).
        n, c, hw, groups = a[3], a[4], a[5], a[6]
        return "layernorm", {"rows": n * groups, "cols": (c // groups) * hw, "affine": c}
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
        attrs = {"tokens": idx.numel(), "dim": w.shape[1], "vocab": w.shape[0], "order": 2, "bags": max(1, bags)}
        # mode 0 sum, 1 mean, 2 max (EmbeddingBag.cpp): max also writes the argmax
        # and its backward scatters through it without sorting.
        mode = a[4] if len(a) > 4 else kwargs.get("mode", 0)
        if mode == 2 or mode == "max":
            attrs["bag_max"] = 1
        return "embedding", attrs
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
        attrs = {"rows": r, "cols": c}
        src = a[0] if name in ("clone", "contiguous") else a[1] if name == "copy_" and len(a) > 1 else None
        if _is_tensor(src) and src.numel() == out.numel():
            attrs.update(_expanded(src))
        if name == "index_select":
            attrs.update(_interleaved(a))
        return "copy", attrs
    return None
