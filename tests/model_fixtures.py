"""The references the model tests check against: STLAR's state-dict layout and pinned logits.

- `fixtures/stlar_state_dicts.txt`: STLAR's key/shape list and parameter count of each type 1-5 (a copy
  of the list in the project's STLAR notes, so the tests stand alone).
- `fixtures/pinned_logits.json`: the logits of each type, with the weights of `fill_state(keys, seed=type)`,
  on `pinned_input()`. Written once by this code after it was checked against STLAR's own model.py
  (identical logits); a later change of any forward fails the test that compares with it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch

FIXTURES = Path(__file__).parent / "fixtures"
_TYPE_LINE = re.compile(r"type (\d): (\d+) keys, (\d+) parameters")


def stlar_layouts(text: str | None = None) -> dict[int, dict]:
    """`{type: {"keys": [(name, shape), ...], "n_keys": int, "n_params": int}}` from the layout list."""
    text = (FIXTURES / "stlar_state_dicts.txt").read_text() if text is None else text
    layouts: dict[int, dict] = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", "```")):
            continue
        m = _TYPE_LINE.fullmatch(line.strip())
        if m:
            current = {"keys": [], "n_keys": int(m[2]), "n_params": int(m[3])}
            layouts[int(m[1])] = current
        elif current is not None:
            name, shape = line.split(" ", 1)
            current["keys"].append((name, json.loads(shape)))
    return layouts


def pinned_input() -> torch.Tensor:
    """Three segments of 400 samples: noise, a 200 Hz burst at 4800 Hz in noise, and a step."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 1, 400, generator=gen)
    t = torch.arange(400) / 4800.0
    x[1, 0] += 3 * torch.sin(2 * math.pi * 200 * t) * torch.exp(-((t - t.mean()) / 0.01) ** 2)
    x[2, 0] += torch.where(torch.arange(400) < 200, -1.0, 1.0)
    return x


def pinned_logits() -> dict[int, list[float]]:
    return {int(k): v for k, v in json.loads((FIXTURES / "pinned_logits.json").read_text()).items()}
