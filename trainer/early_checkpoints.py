"""Checkpoints this project wrote before its models took STLAR's layout, still loadable.

Until then type 2 (ResNet-1D) had the same network under other key names (`stem.*`, `stages.N.0.*`,
`shortcut.*`, `head.*`): a key map turns such a state into today's layout, after which it is an ordinary
type-2 checkpoint (STLAR loads it too once re-saved, and `export` works). Type 1 was a different network
(no conv biases, a last kernel of 5 instead of 3): no key map can make it STLAR's, so it is rebuilt as that
earlier network, which still predicts and exports; STLAR's `build_model(1)` cannot load it.

`model_from_state` is the one entry point: it builds the model a checkpoint's `model_state` belongs to,
whatever its layout, and loads it strictly.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from shared.errors import InputError
from shared.model_types import MODEL_NAMES, model_name
from trainer.models import build_model

# Early type-2 key prefixes -> today's (STLAR's). `stem.1` was the max-pool: no keys.
_RESNET_PREFIXES = (
    (re.compile(r"^stem\.0\.0\."), "initial.0."),
    (re.compile(r"^stem\.0\.1\."), "initial.1."),
    (re.compile(r"^stages\.(\d)\.0\.shortcut\."), lambda m: f"layer{int(m[1]) + 1}.downsample."),
    (re.compile(r"^stages\.(\d)\.0\."), lambda m: f"layer{int(m[1]) + 1}."),
    (re.compile(r"^head\."), "fc."),
)


def early_layout(model_type: int, state: dict[str, torch.Tensor]) -> bool:
    """True if `state` has this project's early key names for `model_type`."""
    if model_type == 1:
        return any(k.startswith("features.") for k in state)
    if model_type == 2:
        return any(k.startswith(("stem.", "stages.")) for k in state)
    return False


def upgrade_state(model_type: int, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` in today's layout: early type-2 keys renamed, anything else returned as it is.

    Raises InputError for an early type-1 state, whose network differs (see `model_from_state`).
    """
    if not early_layout(model_type, state):
        return state
    if model_type == 1:
        raise InputError("an early Simple 1-D CNN checkpoint (features.* keys) is a different network from "
                         "STLAR's type 1; it can be loaded and exported, not converted")
    renamed = {}
    for key, value in state.items():
        for pattern, new in _RESNET_PREFIXES:
            key, n = pattern.subn(new, key, count=1)
            if n:
                break
        renamed[key] = value
    return renamed


def model_from_state(model_type: int, state: dict[str, torch.Tensor], source: str = "checkpoint") -> nn.Module:
    """The model `state` belongs to, with its weights loaded strictly; raise InputError if they do not fit.

    `source` names the file in messages ("checkpoint models/best.pt").
    """
    if isinstance(model_type, bool) or model_type not in MODEL_NAMES:
        raise InputError(f"{source}: model_type {model_type!r} is not a model type this stlar-dl knows (1-5)")
    if model_type == 1 and early_layout(1, state):
        model: nn.Module = EarlySimpleCNN1d()
    else:
        model = build_model(model_type)
        state = upgrade_state(model_type, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        missing = sorted(set(model.state_dict()) - set(state))
        unexpected = sorted(set(state) - set(model.state_dict()))
        detail = (f"missing {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}; " if missing else "") + \
                 (f"unexpected {', '.join(unexpected[:3])}{', ...' if len(unexpected) > 3 else ''}"
                  if unexpected else "")
        if not detail:  # same keys, other shapes
            detail = " ".join(str(exc).split("\n\t", 1)[-1].split())[:200]
        raise InputError(f"{source}: its model_state does not fit model type {model_type} "
                         f"({model_name(model_type)}): {detail.rstrip('; ')}") from None
    return model


class EarlySimpleCNN1d(nn.Module):
    """This project's early type 1: three conv-BN-ReLU blocks without conv bias (16, 32, 64 channels;
    kernels 7, 5, 5; stride 2), global average pooling, one logit. Kept only to load early checkpoints."""

    def __init__(self) -> None:
        super().__init__()
        blocks = []
        for c_in, c_out, k in ((1, 16, 7), (16, 32, 5), (32, 64, 5)):
            blocks.append(nn.Sequential(nn.Conv1d(c_in, c_out, k, stride=2, padding=k // 2, bias=False),
                                        nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)))
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1)).squeeze(1)
