"""The one rule set that judges a training curve: overfitting, plateau, instability, divergence, early stop.

Pure functions over loss lists (NaN for a non-finite loss). The trainer's console and final report, the
viewer's log panel and replay all call these, so a run is judged the same way wherever it is shown. What is
measured and its thresholds are in shared/curve_metrics.py, the plateau rule in shared/plateau.py, early
stopping in shared/early_stopping.py; this module turns them into findings with the run's numbers and advice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared.curve_metrics import INSTABILITY_STD, INSTABILITY_WINDOW, OVERFIT_GAP, window_spread
from shared.early_stopping import DEFAULT_MIN_DELTA, DEFAULT_PATIENCE, epochs_without_improvement
from shared.number_format import fmt_num
from shared.plateau import Plateau, plateau_of


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


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


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
        latest = window_spread(values)
        if math.isfinite(latest) and latest > INSTABILITY_STD:
            spreads[name] = latest
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


