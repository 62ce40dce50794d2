"""A small transformer encoder (2 layers, d_model 64, 4 heads) for the
trace_pytorch.py test: `--model small_transformer:build --input 2x16x64`."""
import torch
import torch.nn.functional as F
from torch.nn.functional import scaled_dot_product_attention as sdpa


class SmallTransformer(torch.nn.Module):
    def __init__(self, d_model=64, heads=4, ff=128, layers=2):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            [torch.nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.0, batch_first=True)
             for _ in range(layers)])
        self.head = torch.nn.Linear(d_model, d_model)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def build():
    return SmallTransformer()


class CrossAttention(torch.nn.Module):
    """Sequence-first (batch_first=False) attention of x [16, 2, 64] to a memory
    [8, 2, 64] (k is v), without weights; then a self-attention that returns its
    weights (need_weights defaults to True)."""

    def __init__(self, d_model=64, heads=4):
        super().__init__()
        self.cross = torch.nn.MultiheadAttention(d_model, heads)
        self.self_attn = torch.nn.MultiheadAttention(d_model, heads)

    def forward(self, x, memory):
        y = self.cross(x, memory, memory, need_weights=False)[0]
        return self.self_attn(y, y, y)


def cross():
    return CrossAttention()


class SdpaBlock(torch.nn.Module):
    """Attention written with F.scaled_dot_product_attention (PyTorch 2.x), imported
    by name at module load as many models do: on x [2, 16, 64], 4 heads of 16, a
    causal call on head views of the packed q|k|v projection, a call with a float
    16 x 16 mask (broadcast over batch and heads) on the first's output, and a call
    on x itself (3-D: one head of 64) with dropout_p = 0.1."""

    def __init__(self, d_model=64, heads=4):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(d_model, 3 * d_model)
        self.out = torch.nn.Linear(d_model, d_model)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        mask = torch.zeros(t, t, device=x.device, dtype=x.dtype)
        y = sdpa(y, y, y, attn_mask=mask)
        single = sdpa(x, x, x, dropout_p=0.1)
        return self.out(y.transpose(1, 2).reshape(b, t, c) + single)


def sdpa_block():
    return SdpaBlock()


class DropoutBlock(torch.nn.Module):
    """A residual attention block with nn.Dropout(0.1) on its output and the
    attention weights' dropout_p = 0.1 in training mode (as HF's models pass it)."""

    def __init__(self, d_model=64, heads=4):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(d_model, 3 * d_model)
        self.out = torch.nn.Linear(d_model, d_model)
        self.drop = torch.nn.Dropout(0.1)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=0.1 if self.training else 0.0)
        return x + self.drop(self.out(y.transpose(1, 2).reshape(b, t, c)))


def dropout_block():
    return DropoutBlock()
