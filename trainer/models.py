"""The two STLAR model types: 1-D CNNs mapping a z-scored, zero-padded segment to one HFO logit.

Both take `x` of shape `(batch, 1, length)` and return logits of shape `(batch,)` (apply `sigmoid`
for P(HFO); train with `BCEWithLogitsLoss`). Every layer pads, so any `length >= 1` runs (tests cover
16-600; real segments are 70-600 samples). Global average pooling makes them length-agnostic, so
batches padded to different lengths need no resizing; padded zeros do enter the average, which the
models learn to live with (the loader pads each batch only to its own longest segment).
"""

from __future__ import annotations

import torch
from torch import nn

from shared.errors import InputError

MODEL_TYPES = {1: "simple 1-D CNN", 2: "ResNet-1D"}


def build_model(model_type: int) -> nn.Module:
    """Return a freshly initialised model of the given type (see `MODEL_TYPES`); raise `InputError` otherwise."""
    if model_type == 1:
        return SimpleCNN1d()
    if model_type == 2:
        return ResNet1d()
    choices = " or ".join(f"{k} ({v})" for k, v in MODEL_TYPES.items())
    raise InputError(f"--model-type {model_type}: unknown model type; choose {choices}")


def _conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        # No conv bias: BatchNorm's shift replaces it.
        nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    )


class SimpleCNN1d(nn.Module):
    """Type 1: three stride-2 conv blocks (16, 32, 64 channels), global average pooling, one logit.

    Receptive field 31 samples (6.5 ms at 4800 Hz): a full cycle of anything above ~150 Hz and half a
    cycle of the slowest ripples; global average pooling then sums the evidence over the segment.
    """

    def __init__(self, channels: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            _conv_bn_relu(1, c1, kernel=7, stride=2),
            _conv_bn_relu(c1, c2, kernel=5, stride=2),
            _conv_bn_relu(c2, c3, kernel=5, stride=2),
        )
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(c3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1)).squeeze(1)


class BasicBlock1d(nn.Module):
    """ResNet basic block: two k=3 convs with BatchNorm and a shortcut (1x1 conv when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False),
                nn.BatchNorm1d(c_out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet1d(nn.Module):
    """Type 2: ResNet-1D with a stride-2 stem, four stages of 32/64/128/256 channels, one logit.

    Stem: Conv1d(k=7, stride 2) + BN + ReLU + MaxPool(3, stride 2). Stages 2-4 halve the length. Total
    downsampling is 32x, and every layer pads, so the last stage keeps length >= 1 for any input (a
    70-sample segment reaches it with length 3). `blocks_per_stage=1` (an 18-layer ResNet has 2) keeps a
    demo-size epoch to a few seconds on two CPU cores.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), blocks_per_stage: int = 1):
        super().__init__()
        self.stem = nn.Sequential(
            _conv_bn_relu(1, widths[0], kernel=7, stride=2),
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        stages = []
        c_in = widths[0]
        for i, c_out in enumerate(widths):
            blocks = []
            for j in range(blocks_per_stage):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock1d(c_in, c_out, stride))
                c_in = c_out
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(widths[-1], 1)
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Zero the last BN of each residual branch: every block starts as the identity, which makes
        # early training steadier (Goyal et al. 2017, as in torchvision's zero_init_residual).
        for m in self.modules():
            if isinstance(m, BasicBlock1d):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.head(self.pool(x).flatten(1)).squeeze(1)
