"""Small recurrent networks for tests/use/test_scripts.py: scripts/trace_pytorch.py
records an nn.LSTM / nn.GRU call as cuDNN's RNN structure, the ops of the
built-in lstm / gru workloads."""
import torch


class TinyRNN(torch.nn.Module):
    """Two stacked layers, input 16, hidden 32 (or `hidden`); returns the last layer's h at every step."""

    def __init__(self, cls, hidden=32):
        super().__init__()
        self.rnn = cls(16, hidden, 2)

    def forward(self, x):
        return self.rnn(x)[0]


def lstm():
    return TinyRNN(torch.nn.LSTM)


def gru():
    return TinyRNN(torch.nn.GRU)


def lstm_256():
    return TinyRNN(torch.nn.LSTM, 256)
