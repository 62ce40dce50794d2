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
