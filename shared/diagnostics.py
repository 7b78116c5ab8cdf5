"""The one rule set that judges a training curve: overfitting, plateau, instability, divergence, early stop.

Pure functions over loss lists (NaN for a non-finite loss). The trainer's console and final report, the
viewer's log panel and replay all call these, so a run is judged the same way wherever it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

OVERFIT_GAP = 0.05  # val - train at the latest epoch above this is overfitting (loss units)
PLATEAU_EPOCHS = 5  # a plateau is this many epochs in a row ...
PLATEAU_MIN_IMPROVEMENT = 0.001  # ... without a new best val loss that beats the best by more than this (loss units)
INSTABILITY_WINDOW = 5  # epochs in the rolling window
INSTABILITY_STD = 0.1  # spread of a loss around its local linear trend above this is instability
DEFAULT_PATIENCE = 5  # early stop after this many epochs without a new best val loss
DEFAULT_MIN_DELTA = 0.0  # a new best must beat the old one by more than this


class Check(str, Enum):
    OVERFITTING = "overfitting"
    PLATEAU = "plateau"
    INSTABILITY = "instability"
    DIVERGENCE = "divergence"
    EARLY_STOP = "early_stop"


# What the report says when a check does not fire (divergence and early stop say nothing then; the plateau's
# line depends on the run: see `plateau_ok`).
OK_TEXT = {
    Check.OVERFITTING: "No significant overfitting",
    Check.PLATEAU: "Val loss still improving",
    Check.INSTABILITY: "Training is stable",
}


@dataclass(frozen=True)
class Finding:
    check: Check
    title: str  # "PLATEAU detected"
    short: str  # "No improvement": the viewer's one-line warning ends with it
    detail: str  # what was measured, with the run's numbers
    advice: str  # what to change, with the run's numbers


@dataclass(frozen=True)
class Settings:
    """The options the advice refers to; defaults are train-dl's."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    patience: int = DEFAULT_PATIENCE
    min_delta: float = DEFAULT_MIN_DELTA

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Settings from a start record's config; missing or odd values fall back to the defaults."""
        kwargs: dict[str, Any] = {}
        for name, kind in (("lr", float), ("weight_decay", float), ("batch_size", int),
                           ("patience", int), ("min_delta", float)):
            value = config.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                kwargs[name] = kind(value)
        return cls(**kwargs)


def fmt_num(x: float) -> str:
    """Option values as people type them: 0.001 -> 1e-3, 0.0002 -> 2e-4, 0.05 -> 0.05, 64 -> 64, 1e6 -> 1e6."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) < 0.01 or abs(x) >= 1e4:
        mantissa, exponent = f"{x:.1e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:.4g}"


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def gaps(train: Sequence[float], val: Sequence[float]) -> np.ndarray:
    """Generalization gap per epoch: val - train."""
    return np.asarray(val, dtype=float) - np.asarray(train, dtype=float)


def improvements(val: Sequence[float]) -> np.ndarray:
    """Val loss improvement per epoch, previous - current (positive is better); NaN at the first epoch."""
    v = np.asarray(val, dtype=float)
    out = np.full(v.shape, np.nan)
    out[1:] = v[:-1] - v[1:]
    return out


def rolling_spread(values: Sequence[float] | np.ndarray, window: int = INSTABILITY_WINDOW) -> np.ndarray:
    """Standard deviation of each window's residuals around its own least-squares line; NaN until full.

    Measuring around the local trend, not the mean, is what tells a swing from a steady decline: a curve
    falling 0.1 per epoch has a spread of 0 here, while its plain standard deviation would be 0.14.
    A window holding a NaN gives NaN. `values` may be 2-D (one curve per row, e.g. train and val): each row
    is done along its own length, in one pass.

    Column-wise: the window's k-th values of all windows are one shifted view, so the work is a few
    whole-array operations per window position, not an (n, window) matrix (100,000 epochs: ~75 -> ~10 ms).
    """
    y = np.asarray(values, dtype=float)
    out = np.full(y.shape, np.nan)
    n = y.shape[-1]
    if window < 2 or n < window:
        return out
    m = n - window + 1
    cols = [y[..., k : k + m] for k in range(window)]
    t = np.arange(window) - (window - 1) / 2
    mean = cols[0].copy()
    for col in cols[1:]:
        mean += col
    mean /= window
    centred = [col - mean for col in cols]
    slope = t[0] * centred[0]
    for k in range(1, window):
        slope += t[k] * centred[k]
    slope /= t @ t
    squares = np.zeros_like(mean)
    for k in range(window):
        residual = centred[k] - slope * t[k]
        squares += residual * residual
    out[..., window - 1 :] = np.sqrt(squares / window)
    return out


def check_overfitting(train: Sequence[float], val: Sequence[float], s: Settings) -> Finding | None:
    if not train or not val or not _finite((train[-1], val[-1])):
        return None
    gap = val[-1] - train[-1]
    if gap <= OVERFIT_GAP:
        return None
    return Finding(
        Check.OVERFITTING,
        "OVERFITTING detected",
        "Val loss above train loss",
        f"Val loss is {gap:.4f} above train loss (threshold {OVERFIT_GAP})",
        f"Raise --weight-decay ({fmt_num(s.weight_decay)} → {fmt_num(s.weight_decay * 10)}) or add training data",
    )


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


def check_plateau(val: Sequence[float], s: Settings, rule: Plateau | None = None, lr_cut: str = "") -> Finding | None:
    """The plateau finding, from `rule` when the caller keeps one fed incrementally, else from all of `val`.

    `lr_cut`: what the lr schedule already did about it ("--lr-schedule plateau already lowered the lr 1e-3 →
    5e-4 after epoch 12"), which the advice then builds on instead of telling the user to do it again.
    """
    rule = rule if rule is not None else plateau_of(val)
    if not rule.firing:
        return None
    if lr_cut:
        advice = (f"{lr_cut}; if it stays flat, stop here (the best checkpoint is kept) or retrain with a "
                  f"lower --lr ({fmt_num(s.lr)} → {fmt_num(s.lr / 5)})")
    else:
        advice = f"Reduce --lr by 2-5x ({fmt_num(s.lr)} → {fmt_num(s.lr / 5)}), or add --lr-schedule plateau"
    return Finding(
        Check.PLATEAU,
        "PLATEAU detected",
        f"No new best for {rule.wait} epochs",
        f"No new best val loss by more than {fmt_num(rule.min_improvement)} in the last {rule.epochs} epochs "
        f"({rule.best_text()})",
        advice,
    )


def plateau_ok(rule: Plateau) -> tuple[bool, str]:
    """The report's plateau line when the rule does not fire: (is it good news, text with the numbers).

    "Still improving" only when a new best beat an earlier one within the last epochs; a run whose best is
    still its first epoch is too young to call either way.
    """
    if rule.improving:
        return True, f"Val loss still improving (new best {rule.best:.4f} at epoch {rule.best_epoch})"
    if rule.best_epoch is None:
        return False, "Val loss: no finite value yet"
    return False, (f"Val loss: no new best since epoch {rule.best_epoch} ({rule.best:.4f}) for {rule.wait} "
                   f"epoch{'' if rule.wait == 1 else 's'}; a plateau after {rule.epochs}")


def check_instability(train: Sequence[float], val: Sequence[float], s: Settings) -> Finding | None:
    spreads = {}
    for name, values in (("train", train), ("val", val)):
        latest = rolling_spread(values[-INSTABILITY_WINDOW:])
        if latest.size and math.isfinite(latest[-1]) and latest[-1] > INSTABILITY_STD:
            spreads[name] = latest[-1]
    if not spreads:
        return None
    which = ", ".join(f"{name} {value:.3f}" for name, value in spreads.items())
    return Finding(
        Check.INSTABILITY,
        "INSTABILITY detected",
        "Losses swing",
        f"Losses swing around their trend over the last {INSTABILITY_WINDOW} epochs "
        f"(spread {which} > {INSTABILITY_STD})",
        f"Lower --batch-size ({s.batch_size} → {max(1, s.batch_size // 2)}) "
        f"and --lr ({fmt_num(s.lr)} → {fmt_num(s.lr / 2)})",
    )


def check_divergence(train: Sequence[float], val: Sequence[float], s: Settings) -> Finding | None:
    for i, (t, v) in enumerate(zip(train, val)):
        if not _finite((t, v)):
            which = "train" if not math.isfinite(t) else "val"
            return Finding(
                Check.DIVERGENCE,
                "DIVERGENCE detected",
                "Non-finite loss",
                f"The {which} loss became non-finite at epoch {i + 1}",
                f"Lower --lr 10x ({fmt_num(s.lr)} → {fmt_num(s.lr / 10)})",
            )
    return None


def epochs_without_improvement(val: Sequence[float], min_delta: float = DEFAULT_MIN_DELTA) -> int:
    """How many epochs have passed since the last new best val loss (0 if the latest epoch is the best)."""
    policy = EarlyStopping(patience=max(1, len(val) + 1), min_delta=min_delta)
    for epoch, v in enumerate(val, start=1):
        policy.update(epoch, v)
    return policy.wait


def check_early_stop(val: Sequence[float], s: Settings) -> Finding | None:
    wait = epochs_without_improvement(val, s.min_delta)
    if s.patience <= 0 or wait < s.patience:  # patience 0: early stopping is off
        return None
    return Finding(
        Check.EARLY_STOP,
        "EARLY STOP",
        f"No improvement for {wait} epochs",
        f"No new best val loss for {wait} epochs (patience {s.patience})",
        "Training has converged or needs a lower --lr; the best checkpoint is kept",
    )


def diagnose(train: Sequence[float], val: Sequence[float], s: Settings = Settings(),
             plateau: Plateau | None = None, lr_cut: str = "") -> list[Finding]:
    """Every check that fires at the latest epoch, in report order.

    `plateau`: the plateau rule already fed with the whole run, for a caller that passes only the latest
    epochs in `train`/`val` (the rule needs the best of the whole run); `lr_cut`: see check_plateau.
    """
    found = [
        check_divergence(train, val, s),
        check_overfitting(train, val, s),
        check_plateau(val, s, plateau, lr_cut),
        check_instability(train, val, s),
        check_early_stop(val, s),
    ]
    return [f for f in found if f is not None]


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
