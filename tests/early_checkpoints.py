"""Checkpoints as this project wrote them before its models took STLAR's layout (`features.*`, `stem.*`,
`stages.*`, `head.*` keys), rebuilt from a small fixture instead of a stored binary.

`fixtures/early_checkpoint_layout.json` was written by the earlier code itself: for each model type its
state-dict keys, shapes and dtypes, and the logits its model gave on `fixed_input()` with the weights of
`fill_state`. A test rebuilds the same weights, saves them as an early `best.pt` and checks that loading
it today gives the same logits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

FIXTURE = Path(__file__).parent / "fixtures" / "early_checkpoint_layout.json"


def layout() -> dict[str, Any]:
    """`{"1": {"keys": [[name, shape, dtype], ...], "logits": [...]}, "2": ...}` from the fixture."""
    return json.loads(FIXTURE.read_text())


def fill_state(keys: list[list[Any]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Deterministic weights for a key list: small normals, running variances in [0.75, 1.25)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape, dtype in keys:
        if dtype == "torch.int64":
            state[name] = torch.tensor(7, dtype=torch.int64)
        elif name.endswith("running_var"):
            state[name] = 0.75 + 0.5 * torch.rand(shape, generator=gen)
        else:
            state[name] = 0.2 * torch.randn(shape, generator=gen)
    return state


def fixed_input() -> torch.Tensor:
    """Three segments of 300 samples: the input whose logits the fixture pins."""
    return torch.randn(3, 1, 300, generator=torch.Generator().manual_seed(1))
