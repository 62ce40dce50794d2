#!/usr/bin/python3
"""Writes ONNX files as PyTorch's exporter writes them (torch.onnx.export, opset 14,
Debian's python3-torch and python3-torchvision), for tests/use/test_onnx_exports.cpp.
Small configurations of torchvision's transformer-era models, whose exports hold
the operators beyond the layers (LayerNorm as ReduceMean/Pow/Sqrt before opset 17,
GELU as Erf, ViT's class-token Where/Expand, Swin's shifted-window Pad, Range, Mod,
ScatterND mask construction):

  vit_tiny_opset14.onnx       VisionTransformer(image_size=32, patch_size=8, num_layers=2,
                              num_heads=2, hidden_dim=32, mlp_dim=64)
  swin_tiny_opset14.onnx      SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2],
                              num_heads=[1, 2], window_size=[4, 4], num_classes=10)
  convnext_tiny_opset14.onnx  ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)],
                              num_classes=10)

each exported from one 1 x 3 x 32 x 32 input, and

  lstm_bidir_opset14.onnx     torch.nn.LSTM(16, 32, num_layers=2, bidirectional=True,
                              batch_first=True) over a 2 x 8 x 16 input (two LSTM nodes)
  gru_bidir_opset14.onnx      torch.nn.GRU(16, 32, num_layers=2, bidirectional=True, batch_first=True)
                              over a 2 x 8 x 16 input (two GRU nodes, linear_before_reset=1)
  unet_tiny_opset14.onnx      TinyUNet below over a 1 x 3 x 16 x 16 input: GroupNorm (exported as
                              Reshape, InstanceNormalization, Reshape, Mul, Add), SiLU, a strided
                              Conv down and a ConvTranspose2d(32, 16, 2, stride=2) up

  video_tiny_opset14.onnx     TinyVideo below over a 1 x 3 x 8 x 32 x 32 clip: R3D's 3x7x7 stem
                              (stride (1, 2, 2); its BatchNorm3d folded into it by the exporter),
                              MaxPool3d, an R(2+1)D pair (1x3x3 then 3x1x1 with depth stride 2),
                              ConvTranspose3d(16, 8, 2, stride=2), GlobalAveragePool, Linear
  audio_tiny_opset14.onnx     TinyAudio below over a 1 x 80 x 64 spectrogram: Whisper's front end
                              (Conv1d(80, 32, 3, padding=1), GELU, Conv1d stride 2, GELU),
                              MaxPool1d(2), ConvTranspose1d(32, 16, 4, stride=2, padding=1)

weights from torch.manual_seed(0).

    /usr/bin/python3 tests/use/data/make_torchvision_onnx.py tests/use/data
"""
import os
import sys
import warnings

import torch
from torchvision.models.convnext import CNBlockConfig, ConvNeXt
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.vision_transformer import VisionTransformer

class TinyUNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inc = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.norm = torch.nn.GroupNorm(4, 16)
        self.down = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.up = torch.nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.out = torch.nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, x):
        h = torch.nn.functional.silu(self.norm(self.inc(x)))
        return self.out(self.up(self.down(h)) + h)


class TinyVideo(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv3d(3, 8, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False)
        self.bn = torch.nn.BatchNorm3d(8)
        self.pool = torch.nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.spatial = torch.nn.Conv3d(8, 16, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.temporal = torch.nn.Conv3d(16, 16, (3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0), bias=False)
        self.up = torch.nn.ConvTranspose3d(16, 8, 2, stride=2)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.stem(x))))
        x = self.up(self.temporal(torch.relu(self.spatial(x))))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool3d(x, 1), 1))


class TinyAudio(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(80, 32, 3, padding=1)
        self.conv2 = torch.nn.Conv1d(32, 32, 3, stride=2, padding=1)
        self.up = torch.nn.ConvTranspose1d(32, 16, 4, stride=2, padding=1)

    def forward(self, x):
        x = torch.nn.functional.gelu(self.conv2(torch.nn.functional.gelu(self.conv1(x))))
        return self.up(torch.nn.functional.max_pool1d(x, 2))


MODELS = {
    "vit_tiny": lambda: VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                          mlp_dim=64),
    "swin_tiny": lambda: SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[1, 2],
                                         window_size=[4, 4], num_classes=10),
    "convnext_tiny": lambda: ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], num_classes=10),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    warnings.filterwarnings("ignore")
    for name, make in MODELS.items():
        torch.manual_seed(0)
        model = make().eval()
        torch.onnx.export(model, torch.randn(1, 3, 32, 32), os.path.join(out, f"{name}_opset14.onnx"),
                          opset_version=14)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(16, 32, num_layers=2, bidirectional=True, batch_first=True).eval()
    torch.onnx.export(lstm, torch.randn(2, 8, 16), os.path.join(out, "lstm_bidir_opset14.onnx"), opset_version=14)
    torch.manual_seed(0)
    gru = torch.nn.GRU(16, 32, num_layers=2, bidirectional=True, batch_first=True).eval()
    torch.onnx.export(gru, torch.randn(2, 8, 16), os.path.join(out, "gru_bidir_opset14.onnx"), opset_version=14)
    torch.manual_seed(0)
    torch.onnx.export(TinyUNet().eval(), torch.randn(1, 3, 16, 16), os.path.join(out, "unet_tiny_opset14.onnx"),
                      opset_version=14)
    torch.manual_seed(0)
    torch.onnx.export(TinyVideo().eval(), torch.randn(1, 3, 8, 32, 32), os.path.join(out, "video_tiny_opset14.onnx"),
                      opset_version=14)
    torch.manual_seed(0)
    torch.onnx.export(TinyAudio().eval(), torch.randn(1, 80, 64), os.path.join(out, "audio_tiny_opset14.onnx"),
                      opset_version=14)
    return 0


if __name__ == "__main__":
    sys.exit(main())
