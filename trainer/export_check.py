"""The check every exported file passes before it is kept: its probabilities equal the checkpoint's.

Inputs are random windows as STLAR's detector feeds them (each z-scored on its own, zero-padded to the
batch's longest) in several batch sizes and lengths; the largest |P_export - P_checkpoint| must not exceed
`TOLERANCE`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from shared.errors import ExportError
from trainer.segments import pad_batch, zscore

TOLERANCE = 1e-5  # largest allowed |P_export - P_checkpoint| on the check's inputs


def check_batches(min_len: int, max_len: int | None, example_len: int, seed: int = 0) -> list[torch.Tensor]:
    """Random windows as the detector feeds them: each z-scored on its own, zero-padded to the batch's longest.

    Batch sizes 1, 2 and 5; lengths from the shortest accepted to 5000 samples (capped at `max_len`),
    the example length among them; segments of mixed lengths within a batch.
    """
    rng = np.random.default_rng(seed)
    top = min(5000, max_len) if max_len else 5000
    plan = ((1, min_len), (2, example_len), (5, 97), (2, 1001), (1, top))  # (windows, longest length)
    batches = []
    for n, longest in plan:
        longest = min(max(longest, min_len), top)
        lengths = [longest] + [int(rng.integers(min_len, longest + 1)) for _ in range(n - 1)]
        segs = [zscore(rng.standard_normal(length)) for length in lengths]
        batches.append(torch.from_numpy(pad_batch(segs)).unsqueeze(1))
    return batches


def describe(batches: list[torch.Tensor]) -> str:
    """The check's inputs in words, for the console line and the JSON."""
    return (f"{sum(len(b) for b in batches)} random z-scored windows in batches of "
            f"{', '.join(str(len(b)) for b in batches)} padded to {', '.join(str(b.shape[-1]) for b in batches)} "
            "samples")


def max_prob_diff(model: nn.Module, predict: Callable[[torch.Tensor], np.ndarray], batches: list[torch.Tensor]) -> float:
    """Largest |sigmoid(export) - sigmoid(checkpoint model)| over `batches` (NaN counts as infinitely far)."""
    worst = 0.0
    with torch.no_grad():
        for x in batches:
            want = torch.sigmoid(model(x)).numpy().reshape(-1)
            logits = np.asarray(predict(x))
            if logits.shape != (len(x), 1):
                raise ExportError(f"the exported model returned shape {logits.shape} for input {tuple(x.shape)}, "
                                  f"not {(len(x), 1)}")
            got = 1.0 / (1.0 + np.exp(-logits.reshape(-1).astype(np.float64)))
            diff = float(np.max(np.abs(got - want))) if len(x) else 0.0
            worst = max(worst, diff if math.isfinite(diff) else math.inf)
    return worst
