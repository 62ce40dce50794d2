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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aten_ops import (DTYPES, FREE_OPS, ZERO_OK, _is_tensor, _rows_cols, _tensors, dropout_active,  # noqa: E402
                      map_op)


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
        self.params = set()   # storage identities (_key) of the model's parameters
        self.param_numel = {}  # their element counts, by storage identity
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

        # The projections are the module's weights (training attributes as param_attrs).
        lin = {"param": 1, "b_shared": 1}
        if module.in_proj_bias is not None:
            lin["bias"] = 1

        def add(name, kind, attrs, deps, aten):
            if kind == "matmul":
                attrs = dict(attrs, **lin)
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
        if name in FREE_OPS or (name == "native_dropout" and not dropout_active(name, args)):
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
            else:
                attrs.update(self.param_attrs(name, kind, list(args), attrs))
                gathered = self.param_gather(name, list(args))
                if gathered is not None:
                    kind, attrs = gathered
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

    def linear_call(self, linear, input, weight, bias=None):
        """F.linear (every nn.Linear) as PyTorch 2.x runs it: a contiguous input of
        any rank with a bias is flattened into one addmm (aten/src/ATen/native/
        Linear.cpp, _flatten_nd_linear); PyTorch 1.x fuses only 2-D and 3-D inputs
        and otherwise records a product, then a separate bias add, which are merged
        here into the one product with its bias."""
        start = len(self.ops)
        out = linear(input, weight, bias)
        new = self.ops[start:]
        if (bias is not None and _is_tensor(input) and input.dim() > 3 and input.is_contiguous()
                and len(new) == 2 and new[0]["kind"] == "matmul" and new[1]["meta"]["aten"] == "aten::add"):
            if self.is_param(bias):
                new[0]["attrs"]["bias"] = 1
            new[0]["meta"]["aten"] = "aten::addmm"
            del self.ops[start + 1:]
            self.counts["add"] -= 1
            for t in _tensors(out):
                self.set_writer(t, new[0]["name"])
        return out

    def dropout_call(self, dropout, input, p=0.5, training=True, inplace=False):
        """F.dropout (every nn.Dropout) as a GPU runs it: in training mode with
        0 < p < 1 one native_dropout kernel writing the output and a bool mask
        (aten/src/ATen/native/Dropout.cpp: dropout() takes the fused kernel for a
        CUDA input; on the CPU or the meta device it would decompose into
        bernoulli_, div_ and mul). Otherwise the identity, as PyTorch's."""
        if not (training and _is_tensor(input) and input.is_floating_point() and 0.0 < float(p) < 1.0):
            return dropout(input, p, training, inplace)
        self.quiet += 1
        try:
            out = input if inplace else input * 1.0   # the shape and type of the result, unrecorded
        finally:
            self.quiet -= 1
        self.record("native_dropout", (input, float(p), True), {}, out)
        return out

    def is_param(self, t):
        return _is_tensor(t) and self.params and self._key(t) in self.params

    def param_attrs(self, name, kind, a, attrs):
        """The training attributes of an op that reads the module's parameters
        (docs/workloads.md, training step): nn.Linear's product (mm / addmm on the
        weight: param, b_shared; its bias: bias), a convolution's bias, an
        element-wise weight (an RMSNorm's weight * x: param on mul), a learned tensor
        added (ViT's x + pos_embedding: param_elems on add) or concatenated as an
        expanded view (ViT's class_token.expand(n, -1, -1): param_elems and the
        view's param_reads on the cat's copy)."""
        out = {}
        if kind == "matmul" and name in ("mm", "addmm"):
            if self.is_param(a[1] if name == "mm" else a[2]):
                out.update(param=1, b_shared=1)
                if name == "addmm" and self.is_param(a[0]):
                    out["bias"] = 1
        elif kind == "conv2d" and len(a) > 2 and self.is_param(a[2]):
            out["bias"] = 1
        elif kind == "mul" and any(self.is_param(t) and t.numel() == attrs.get("cols") for t in a[:2]):
            out["param"] = 1
        elif kind == "add" and name in ("add", "add_"):
            p = next((t for t in a[:2] if self.is_param(t)), None)
            if p is not None:
                out["param_elems"] = self.param_numel.get(self._key(p), p.numel())
        elif name == "cat" and a and isinstance(a[0], (list, tuple)):
            p = next((t for t in a[0] if self.is_param(t)), None)
            if p is not None:
                out["param_elems"] = self.param_numel.get(self._key(p), p.numel())
                out["param_reads"] = p.numel()
        return out

    def param_gather(self, name, a):
        """table[index] of a module parameter by one index tensor on its first
        dimension (Swin's relative_position_bias_table[relative_position_index]): an
        `embedding` of its rows with index_put (its backward is index_put_ with
        accumulate, which always sorts), or None."""
        if name != "index" or len(a) < 2 or not self.is_param(a[0]) or a[0].dim() < 1:
            return None
        idx = [t for t in a[1] if t is not None] if isinstance(a[1], (list, tuple)) else []
        if len(idx) != 1 or not isinstance(a[1], (list, tuple)) or a[1][0] is None or idx[0].dtype == torch.bool:
            return None
        table = a[0]
        return "embedding", {"tokens": max(idx[0].numel(), 1), "dim": max(table.numel() // table.shape[0], 1),
                             "vocab": table.shape[0], "order": 2, "index_put": 1}

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


def trace(model, *inputs, name="model", mode="eval"):
    """Runs model(*inputs) under no_grad and returns the trace as a dict. mode
    "train" runs it in training mode (model.train()): its dropouts are recorded
    (native_dropout, SDPA's dropout_p), for `trace.json:train=1`."""
    if torch is None:
        raise RuntimeError("PyTorch is not installed: pip install torch (and torchvision / "
                           "transformers for their models)")
    if mode not in ("eval", "train"):
        raise ValueError(f"mode '{mode}' is not accepted; accepted: eval, train")
    model.train() if mode == "train" else model.eval()
    device = next((t.device for t in inputs if torch.is_tensor(t)),
                  next((t.device for t in model.parameters()), torch.device("cpu")))
    tracer = _Tracer(device_only=device.type != "cpu")
    tracer.params = {tracer._key(p) for p in model.parameters()} - {None}
    tracer.param_numel = {tracer._key(p): p.numel() for p in model.parameters() if tracer._key(p) is not None}
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
    linear, dropout = torch.nn.functional.linear, torch.nn.functional.dropout
    torch.nn.functional.linear = functools.partial(tracer.linear_call, linear)
    torch.nn.functional.dropout = functools.partial(tracer.dropout_call, dropout)
    try:
        with torch.set_grad_enabled(grad), tracer:
            model(*inputs)
    finally:
        torch.nn.functional.linear = linear
        torch.nn.functional.dropout = dropout
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
    p.add_argument("--mode", default="eval", choices=("eval", "train"),
                   help="eval (model.eval(), the default) or train (model.train(): dropouts recorded, "
                        "for trace.json:train=1)")
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
    result = trace(model, *inputs, name=a.name or attr.split(".")[-1], mode=a.mode)
    with open(a.output, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"trace_pytorch: {len(result['ops'])} ops -> {a.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
