"""STLAR's model types 1-5, with STLAR's state-dict layout: a `best.pt` trained here loads strictly into
STLAR's `build_model(model_type)` and gives the same logits there.

Every model takes `x` of shape `(batch, 1, length)`: each segment z-scored on its own, then zero-padded on
the right to the batch's longest. It returns logits of shape `(batch,)` (STLAR's return `(batch, 1)` with
the same values; its detector squeezes the last axis). Apply `sigmoid` for P(HFO); train with
`BCEWithLogitsLoss`. Global average pooling makes every type length-agnostic; padded zeros enter the
average, which the models learn to live with. Shortest inputs: see `shared.model_types.MIN_SAMPLES`
(type 5 needs 96 samples, type 4 six; the others any length).

Module and attribute names are STLAR's key names (`net`, `initial`, `layer1`, `modules_list`, ...): rename
nothing here without a key map in `trainer/early_checkpoints.py`.
"""

from __future__ import annotations

import torch
from torch import nn

from shared.errors import InputError
from shared.model_types import MODEL_NAMES, UNSUPPORTED_TYPES, choices

MODEL_TYPES = MODEL_NAMES  # type number -> the name shown to users


def build_model(model_type: int) -> nn.Module:
    """Return a freshly initialised model of the given type (see `MODEL_TYPES`); raise `InputError` otherwise."""
    builders = {1: Simple1DCNN, 2: ResNet1D, 3: InceptionTime, 4: HFOTransformer, 5: Spectrogram2DCNN}
    if model_type in UNSUPPORTED_TYPES:
        raise InputError(f"--model-type {model_type}: {UNSUPPORTED_TYPES[model_type]}")
    if isinstance(model_type, bool) or model_type not in builders:
        raise InputError(f"--model-type {model_type}: unknown model type; choose one of {choices()}")
    return builders[model_type]()


class Simple1DCNN(nn.Module):
    """Type 1: three stride-2 conv blocks (16, 32, 64 channels; kernels 7, 5, 3), global average pooling,
    one logit. Receptive field 29 samples (6 ms at 4800 Hz)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, 16, 7, stride=2, padding=3), nn.BatchNorm1d(16), nn.ReLU(inplace=True),
            nn.Conv1d(16, 32, 5, stride=2, padding=2), nn.BatchNorm1d(32), nn.ReLU(inplace=True),
            nn.Conv1d(32, 64, 3, stride=2, padding=1), nn.BatchNorm1d(64), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool1d(1),
        )
        self.head = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x).squeeze(-1)).squeeze(-1)


class ResidualBlock1D(nn.Module):
    """ResNet basic block: two k=3 convs with BatchNorm; `downsample` (1x1 conv + BN) when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module = nn.Identity()  # no parameters: no keys, as STLAR's `None`
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False),
                                            nn.BatchNorm1d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class ResNet1D(nn.Module):
    """Type 2: a stride-2 stem with max pooling, four one-block stages of 32/64/128/256 channels, one logit.

    Total downsampling is 32x and every layer pads, so the last stage keeps length >= 1 for any input
    (a 70-sample segment reaches it with length 3).
    """

    def __init__(self) -> None:
        super().__init__()
        self.initial = nn.Sequential(
            nn.Conv1d(1, 32, 7, stride=2, padding=3, bias=False), nn.BatchNorm1d(32), nn.ReLU(inplace=True),
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        self.layer1 = ResidualBlock1D(32, 32, 1)
        self.layer2 = ResidualBlock1D(32, 64, 2)
        self.layer3 = ResidualBlock1D(64, 128, 2)
        self.layer4 = ResidualBlock1D(128, 256, 2)
        self.avgpool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(256, 1)
        # Our initialisation (STLAR keeps torch's defaults; the layout and forward are the same): He init
        # for the convs, and the last BN of each residual branch at zero, so every block starts as the
        # identity, which steadies early training (Goyal et al. 2017; torchvision's zero_init_residual).
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if isinstance(m, ResidualBlock1D):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1)).squeeze(-1)


class InceptionModule(nn.Module):
    """Three convs (k = 9, 19, 39) and a max-pool branch on the (bottlenecked) input, 4 x 32 channels."""

    def __init__(self, c_in: int, bottleneck: bool) -> None:
        super().__init__()
        c_b = 32 if bottleneck else c_in
        self.bottleneck: nn.Module = nn.Conv1d(c_in, 32, 1, bias=False) if bottleneck else nn.Identity()
        self.convs = nn.ModuleList(nn.Conv1d(c_b, 32, k, padding=k // 2, bias=False) for k in (9, 19, 39))
        self.maxpool = nn.MaxPool1d(3, stride=1, padding=1)
        self.conv_pool = nn.Conv1d(c_b, 32, 1, bias=False)
        self.bn = nn.BatchNorm1d(128)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bottleneck(x)
        branches = [conv(b) for conv in self.convs]
        branches.append(self.conv_pool(self.maxpool(b)))
        return self.relu(self.bn(torch.cat(branches, dim=1)))


class InceptionTime(nn.Module):
    """Type 3: six inception modules of 128 channels with a residual shortcut around each group of three.

    Receptive field over 200 samples (the k=39 convs, stacked six deep), for slow ripples in long segments.
    """

    def __init__(self) -> None:
        super().__init__()
        self.modules_list = nn.ModuleList(InceptionModule(1 if i == 0 else 128, bottleneck=i > 0) for i in range(6))
        self.shortcuts = nn.ModuleList([
            nn.Sequential(nn.Conv1d(1, 128, 1, bias=False), nn.BatchNorm1d(128)),
            nn.Identity(),
        ])
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(128, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = x
        for i, module in enumerate(self.modules_list):
            x = module(x)
            if i == 2:  # after modules 2 and 5: add the shortcut of the group's input
                x = self.relu(x + self.shortcuts[0](res))
                res = x
            elif i == 5:
                x = self.relu(x + self.shortcuts[1](res))
                res = x
        return self.fc(torch.flatten(self.avgpool(x), 1)).squeeze(-1)


class HFOTransformer(nn.Module):
    """Type 4: a strided conv embedding (64 channels, stride 5), a learnt positional encoding for the first
    1000 steps, two post-norm transformer encoder layers (4 heads), mean over time, one logit.

    The positional encoding is added only when the embedded length is at most 1000 (segments up to about
    5000 samples), as STLAR does; longer inputs run without it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Sequential(nn.Conv1d(1, 64, 10, stride=5, padding=2), nn.BatchNorm1d(64),
                                       nn.ReLU(inplace=True))
        self.pos_encoder = nn.Parameter(torch.randn(1, 64, 1000) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=256, batch_first=True)
        # enable_nested_tensor=False: without a padding mask it gains nothing, and it warns at build time.
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.fc = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embedding(x)
        steps = x.size(2)
        if steps <= self.pos_encoder.size(2):
            x = x + self.pos_encoder[:, :, :steps]
        x = self.transformer_encoder(x.permute(0, 2, 1))
        return self.fc(x.mean(dim=1)).squeeze(-1)


class Spectrogram2DCNN(nn.Module):
    """Type 5: a log-magnitude STFT (n_fft 128, hop 32, Hann; 65 frequency bins) seen as an image by a
    three-block 2-D CNN. Needs inputs of at least 96 samples: the centred STFT pads by reflection (more
    than 64 samples), and the two max-pools need 4 frames (1 + length // 32)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = torch.hann_window(128, device=x.device, dtype=x.dtype)
        spec = torch.stft(x.squeeze(1), n_fft=128, hop_length=32, window=window, return_complex=True)
        img = torch.log1p(spec.abs()).unsqueeze(1)
        return self.fc(torch.flatten(self.net(img), 1)).squeeze(-1)
