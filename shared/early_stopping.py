"""Early stopping: stop after `patience` epochs without a new best val loss. Plain Python (no numpy)."""

from __future__ import annotations

import math
from collections.abc import Sequence

DEFAULT_PATIENCE = 5  # early stop after this many epochs without a new best val loss
DEFAULT_MIN_DELTA = 0.0  # a new best must beat the old one by more than this


class EarlyStopping:
    """Stop after `patience` epochs without a new best val loss.

    A new best must be lower than the best so far by more than `min_delta`. A non-finite loss is never a
    new best (the trainer stops on it as divergence before asking).
    """

    def __init__(self, patience: int = DEFAULT_PATIENCE, min_delta: float = DEFAULT_MIN_DELTA) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.best_epoch: int | None = None
        self.wait = 0

    def update(self, epoch: int, val_loss: float) -> tuple[bool, bool]:
        """Record one epoch; return (is_new_best, should_stop)."""
        if math.isfinite(val_loss) and val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = val_loss, epoch, 0
            return True, False
        self.wait += 1
        return False, 0 < self.patience <= self.wait  # patience 0: early stopping is off


def epochs_without_improvement(val: Sequence[float], min_delta: float = DEFAULT_MIN_DELTA) -> int:
    """How many epochs have passed since the last new best val loss (0 if the latest epoch is the best)."""
    policy = EarlyStopping(patience=max(1, len(val) + 1), min_delta=min_delta)
    for epoch, v in enumerate(val, start=1):
        policy.update(epoch, v)
    return policy.wait
