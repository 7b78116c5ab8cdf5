"""The plateau rule: no new best val loss, by more than a small step, in the last few epochs.

Plain Python (no numpy): the diagnostics, the figure's note and the trainer's lr schedule all decide with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from shared.number_format import fmt_num

PLATEAU_EPOCHS = 5  # a plateau is this many epochs in a row ...
PLATEAU_MIN_IMPROVEMENT = 0.001  # ... without a new best val loss that beats the best by more than this (loss units)


class Plateau:
    """The plateau rule: no new best val loss, by more than `min_improvement`, in the last `epochs` epochs.

    Incremental, like EarlyStopping (it is early stopping's rule with patience `epochs` and min_delta
    `min_improvement`): feed epochs in order with `update`/`extend`. The best is the reference best, as
    Keras' and torch's ReduceLROnPlateau keep it: it moves only on an improvement of more than
    `min_improvement`, so a slow creep of 0.0005 an epoch still makes a new best every other epoch, while
    noise around a level does not. Every such best is also a new lowest val loss, so early stopping at the
    default min_delta 0 never fires without this rule firing too. Non-finite losses are never a best.
    The diagnostics, the figure's note and the lr schedule all decide with this one class.
    """

    def __init__(self, epochs: int = PLATEAU_EPOCHS, min_improvement: float = PLATEAU_MIN_IMPROVEMENT) -> None:
        self.epochs = epochs
        self.min_improvement = min_improvement
        self.best = math.inf
        self.best_epoch: int | None = None
        self.improved = False  # the best was set by beating an earlier best (not the first finite loss)
        self.lowest = math.inf  # the lowest val loss, which may beat `best` by up to min_improvement
        self.lowest_epoch: int | None = None
        self.wait = 0  # epochs since the best (all epochs seen while there is none)
        self.last_epoch = 0

    def update(self, epoch: int, val_loss: float) -> bool:
        """Fold in one epoch; return whether the rule fires now."""
        self.last_epoch = epoch
        if val_loss < self.best - self.min_improvement:  # False for NaN
            self.improved = self.best_epoch is not None
            self.best, self.best_epoch, self.wait = val_loss, epoch, 0
        else:
            self.wait += 1
        if val_loss < self.lowest:
            self.lowest, self.lowest_epoch = val_loss, epoch
        return self.firing

    def extend(self, epochs: Sequence[int], values: Sequence[float]) -> bool:
        """`update` for each epoch in turn, in one tight loop: a first frame of 100,000 epochs feeds them all
        (one `update` call each was ~0.1 s of it)."""
        best, best_epoch, improved, wait = self.best, self.best_epoch, self.improved, self.wait
        lowest, lowest_epoch, last, delta = self.lowest, self.lowest_epoch, self.last_epoch, self.min_improvement
        for epoch, value in zip(epochs, values):
            last = epoch
            if value < best - delta:  # False for NaN
                improved = best_epoch is not None
                best, best_epoch, wait = value, epoch, 0
            else:
                wait += 1
            if value < lowest:
                lowest, lowest_epoch = value, epoch
        self.best, self.best_epoch, self.improved, self.wait = best, best_epoch, improved, wait
        self.lowest, self.lowest_epoch, self.last_epoch = lowest, lowest_epoch, last
        return self.firing

    @property
    def firing(self) -> bool:
        return self.best_epoch is not None and self.wait >= self.epochs

    @property
    def improving(self) -> bool:
        """A new best that beat an earlier one within the last `epochs` epochs ("still improving")."""
        return self.improved and self.wait < self.epochs

    def best_text(self) -> str:
        """`best 0.3348 at epoch 6, 9 epochs ago` (and the lowest loss when it is a different epoch)."""
        if self.best_epoch is None:
            return "no finite val loss yet"
        ago = "this epoch" if self.wait == 0 else f"{self.wait} epoch{'' if self.wait == 1 else 's'} ago"
        text = f"best {self.best:.4f} at epoch {self.best_epoch}, {ago}"
        if self.lowest_epoch is not None and self.lowest_epoch != self.best_epoch:
            text += (f"; epoch {self.lowest_epoch}'s {self.lowest:.4f} beat it by less than "
                     f"{fmt_num(self.min_improvement)}")
        return text


def plateau_of(val: Sequence[float], epochs: Sequence[int] | None = None) -> Plateau:
    """The plateau rule fed with a whole val loss column (`epochs`: their numbers, default 1, 2, ...)."""
    rule = Plateau()
    rule.extend(epochs if epochs is not None else range(1, len(val) + 1), val)
    return rule
