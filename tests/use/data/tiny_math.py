"""Operators written out in Python rather than called as modules, for
tests/use/test_scripts.py: an RMSNorm as Hugging Face's LLaMA writes it
(x.pow(2).mean(-1, keepdim=True), rsqrt, two products), a top-k, a clamp, an exp,
a nearest 2x upsampling, and a whole-tensor sum."""
import torch
from torch import nn
import torch.nn.functional as F


class TinyMath(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(64))

    def forward(self, x):                                   # x: [2, 16, 64]
        var = x.pow(2).mean(-1, keepdim=True)
        y = self.weight * (x * torch.rsqrt(var + 1e-6))
        top = y.topk(4, dim=-1)[0]                          # [2, 16, 4]
        img = F.interpolate(y.clamp(-1, 1).exp().unsqueeze(1), scale_factor=2, mode="nearest")
        return top, img.sum()


def build():
    return TinyMath()


class Syncs(nn.Module):
    """Host synchronisations and empty tensors: nonzero of a mask that selects
    nothing (x > 10 on the tracer's randn input), the empty gather it indexes, a product over
    an empty dimension (k = 0: a 4 x 8 of zeros) and .item()."""

    def forward(self, x):                                   # x: [4, 6]
        idx = (x > 10).nonzero()
        rows = x[idx[:, 0]]
        y = x[:, :0] @ torch.ones(0, 8)
        return rows.sum() + y.sum() + x.max().item()


def syncs():
    return Syncs()


class Bags(nn.Module):
    """nn.EmbeddingBag (sum) as DLRM uses it: x [8, 4] picks 32 rows of a 1000 x 16
    table (ids from |x|), summed into 8 bags of 4; and the same ids' bags of a
    mode="max" EmbeddingBag, added."""

    def __init__(self):
        super().__init__()
        self.emb = nn.EmbeddingBag(1000, 16, mode="sum")
        self.emb_max = nn.EmbeddingBag(1000, 16, mode="max")

    def forward(self, x):
        ids = (x.abs() * 100).long().clamp(max=999).flatten()
        offsets = torch.arange(0, ids.numel(), x.shape[1])
        return self.emb(ids, offsets) + self.emb_max(ids, offsets)


def bags():
    return Bags()


class Generators(nn.Module):
    """Index and random generators (x: [4, 6] on the traced device): torch.arange on
    the device is a kernel writing 6 elements; torch.arange(6) * 2 without a device
    is host arithmetic (no kernel) whose result is then copied to the device;
    torch.randn_like writes 4 x 6 random numbers."""

    def forward(self, x):
        pos = torch.arange(x.shape[1], device=x.device)
        host = (torch.arange(x.shape[1]) * 2).to(x.device)
        return x + pos + host + torch.randn_like(x)


def generators():
    return Generators()


class Criteria(nn.Module):
    """Distances, GLU and losses on x [4, 6]: cdist of x's rows with themselves (at
    most 25 rows: the direct kernel) and of 32 rows (x repeated) with them (the
    matrix-product form), glu over the 6 columns, cross entropy against class 0 and
    the MSE against 0."""

    def forward(self, x):
        d = torch.cdist(x, x) + torch.cdist(x.repeat(8, 1), x).sum()
        g = F.glu(x, dim=-1)
        ce = F.cross_entropy(x, torch.zeros(4, dtype=torch.long, device=x.device))
        return d, g, ce + F.mse_loss(x, torch.zeros_like(x))


def criteria():
    return Criteria()


class Linear4d(nn.Module):
    """nn.Linear(8, 16) on a contiguous 4-D input x [2, 3, 4, 8] (PyTorch 2.x: one
    addmm of 24 rows) and on its transposed view (not contiguous: the rows are
    copied, multiplied, then the bias is added)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 16)

    def forward(self, x):
        return self.fc(x), self.fc(x.transpose(1, 2))


def linear4d():
    return Linear4d()



class TinyViT(nn.Module):
    """ViT's learned tokens (torchvision VisionTransformer): on x [2, 4, 16] (a batch
    of 2 sequences of 4 patch embeddings), the class token [1, 1, 16] expanded over
    the batch and concatenated in front, the position embedding [1, 5, 16] added,
    then a linear."""

    def __init__(self):
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, 16))
        self.pos_embedding = nn.Parameter(torch.zeros(1, 5, 16))
        self.head = nn.Linear(16, 8)

    def forward(self, x):
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.head(x + self.pos_embedding)


def vit():
    return TinyViT()


class RelativeBias(nn.Module):
    """Swin's relative position bias (torchvision _get_relative_position_bias) for
    2 x 2 windows and 2 heads: a [9, 2] learned table gathered by a buffer of 16
    indices, viewed [4, 4, 2], permuted to [2, 4, 4] and made contiguous, added to
    the attention scores x [1, 2, 4, 4]."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(9, 2))
        coords = torch.stack(torch.meshgrid(torch.arange(2), torch.arange(2), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + 1
        self.register_buffer("index", (rel[:, :, 0] * 3 + rel[:, :, 1]).flatten())

    def forward(self, x):
        bias = self.table[self.index].view(4, 4, 2).permute(2, 0, 1).contiguous()
        return x + bias


def relative_bias():
    return RelativeBias()


class RepeatKV(nn.Module):
    """Hugging Face's repeat_kv (models/llama/modeling_llama.py) on x [b, 2, s, d]:
    2 key/value heads expanded to 8 ([b, 2, 4, s, d], a stride-0 view) and reshaped
    to [b, 8, s, d], which copies; then an element-wise add on the result."""

    def forward(self, x):
        b, n, s, d = x.shape
        rep = x[:, :, None, :, :].expand(b, n, 4, s, d).reshape(b, n * 4, s, d)
        return rep + 1.0


def repeat_kv():
    return RepeatKV()


class RepeatInterleave(nn.Module):
    """x.repeat_interleave(4, dim=1) on x [b, 2, s, d], as some grouped-query
    attention code copies its key/value heads (and the SDPA math path does): ATen
    fills a repeats tensor, expands it to indices and index_selects; then an add."""

    def forward(self, x):
        return x.repeat_interleave(4, dim=1) + 1.0


def repeat_interleave():
    return RepeatInterleave()
