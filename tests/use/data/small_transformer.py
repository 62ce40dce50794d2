"""A small transformer encoder (2 layers, d_model 64, 4 heads) for the
trace_pytorch.py test: `--model small_transformer:build --input 2x16x64`."""
import torch


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
