"""The best epoch's decision threshold and confusion matrix, as the log recorded them.

The trainer puts the F1-maximising threshold of every epoch, its precision/recall/F1 and its confusion matrix
into the epoch record's `metrics` (`val_threshold`, `val_threshold_precision`, `val_threshold_recall`,
`val_threshold_f1`, `val_tp`, `val_fp`, `val_fn`, `val_tn`; see trainer/threshold.py). Everything shown at
the end of a run (the trainer's report, training_metrics.json, watch, replay) is read from there, for the
best epoch: the one best.pt holds, so a detector set from these numbers uses the checkpoint they describe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shared.history import History

KEYS = ("val_threshold", "val_threshold_precision", "val_threshold_recall", "val_threshold_f1",
        "val_tp", "val_fp", "val_fn", "val_tn")


@dataclass(frozen=True)
class Decision:
    epoch: int
    threshold: float
    precision: float | None
    recall: float | None
    f1: float | None
    tp: int
    fp: int
    fn: int
    tn: int
    at_half: tuple[float | None, float | None, float | None]  # precision, recall, F1 at 0.5

    def as_json(self) -> dict[str, Any]:
        """The fields training_metrics.json carries."""
        return {"threshold": self.threshold, "threshold_epoch": self.epoch,
                "confusion_matrix": {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn},
                "precision": self.precision, "recall": self.recall, "f1": self.f1}


def _value(values: list[float], i: int) -> float | None:
    v = values[i] if i < len(values) else math.nan
    return v if math.isfinite(v) else None


def decision_of(history: History) -> Decision | None:
    """The best epoch's decision threshold; None without a best epoch or threshold metrics (an older log,
    validation without positives, a diverged model)."""
    best = history.best_epoch
    if best is None:
        return None
    # Epochs only increase within a run; search from the end, where the best usually is.
    try:
        i = len(history.epochs) - 1 - history.epochs[::-1].index(best)
    except ValueError:
        return None
    m = history.metrics
    values = {key: _value(m[key], i) if key in m else None for key in KEYS}
    if any(values[key] is None for key in ("val_threshold", "val_tp", "val_fp", "val_fn", "val_tn")):
        return None
    half = tuple(_value(m[key], i) if key in m else None for key in ("val_precision", "val_recall", "val_f1"))
    return Decision(best, values["val_threshold"], values["val_threshold_precision"],  # type: ignore[arg-type]
                    values["val_threshold_recall"], values["val_threshold_f1"], int(values["val_tp"]),
                    int(values["val_fp"]), int(values["val_fn"]), int(values["val_tn"]), half)  # type: ignore[arg-type]


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def decision_lines(d: Decision | None) -> list[str]:
    """The report's lines: the threshold with its precision/recall/F1 (and 0.5's for comparison), then the
    confusion matrix at that threshold."""
    if d is None:
        return []
    p, r, f = d.at_half
    return [
        f"Decision threshold: {d.threshold:.4f} (max F1 on the validation set at best epoch {d.epoch}): "
        f"precision {_num(d.precision)}, recall {_num(d.recall)}, F1 {_num(d.f1)}",
        f"  at 0.5 instead: precision {_num(p)}, recall {_num(r)}, F1 {_num(f)}",
        f"  Confusion matrix at {d.threshold:.4f}: TP {d.tp} | FP {d.fp} | FN {d.fn} | TN {d.tn}",
    ]
