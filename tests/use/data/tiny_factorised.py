"""A small network of the layers whose windows differ between height and width, for
tests/use/test_scripts.py: Inception-v3's factorised 1x7 / 7x1 convolutions
(padding (0, 3) / (3, 0)), a convolution strided along the height only, a CRNN-style
max pool (stride (2, 1), padding (0, 1)), and MobileNetV3's hardswish / hardsigmoid."""
import torch
from torch import nn


class TinyFactorised(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_1x7 = nn.Conv2d(8, 16, (1, 7), padding=(0, 3))
        self.conv_7x1 = nn.Conv2d(16, 16, (7, 1), padding=(3, 0))
        self.conv_s21 = nn.Conv2d(16, 8, 3, stride=(2, 1), padding=1)
        self.pool = nn.MaxPool2d((2, 2), stride=(2, 1), padding=(0, 1))

    def forward(self, x):
        y = nn.functional.hardswish(self.conv_7x1(self.conv_1x7(x)))
        y = self.conv_s21(y)
        return self.pool(y * nn.functional.hardsigmoid(y))


def build():
    return TinyFactorised()
