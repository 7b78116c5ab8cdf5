"""The decision threshold: precision, recall and F1 at 0.5 and at the threshold that maximises F1. numpy only.

A segment is called an HFO when its score P(HFO) is at least the threshold. Every threshold between two
neighbouring distinct scores gives the same calls, so the candidates are the distinct scores themselves;
each is the highest threshold that gives its calls. The scores are sorted once and the counts at every
candidate come from cumulative sums: O(n log n) for the whole curve, no loop over thresholds.

Takes plain arrays of scores and labels, so a caller that gathers predictions (several processes, several
batches) passes their concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Calls:
    """The confusion matrix of the calls at one threshold, with what follows from it."""

    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP); None when nothing is called an HFO (precision is undefined then)."""
        called = self.tp + self.fp
        return self.tp / called if called else None

    @property
    def recall(self) -> float | None:
        """TP / (TP + FN); None without positives."""
        positives = self.tp + self.fn
        return self.tp / positives if positives else None

    @property
    def f1(self) -> float | None:
        """2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall; 0 when TP is 0 (None without
        positives or calls at all)."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """P(HFO) from logits, in float64 without overflow warnings for large |logit|."""
    z = np.asarray(logits, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def calls_at(scores: np.ndarray, labels: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> Calls:
    """The confusion matrix when scores >= `threshold` are called HFOs."""
    scores, truth = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float) > 0.5
    called = scores >= threshold
    tp = int(np.count_nonzero(called & truth))
    fp = int(np.count_nonzero(called)) - tp
    positives = int(np.count_nonzero(truth))
    return Calls(float(threshold), tp, fp, positives - tp, truth.size - positives - fp)


def best_f1(scores: np.ndarray, labels: np.ndarray) -> Calls | None:
    """The calls at the threshold that maximises F1; among equal F1, the highest threshold.

    None without positives (F1 is then 0 or undefined at every threshold), with no scores, or with a
    non-finite score (a diverged model has no meaningful threshold).
    """
    scores, truth = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float) > 0.5
    positives = int(np.count_nonzero(truth))
    if scores.size == 0 or positives == 0 or not np.all(np.isfinite(scores)):
        return None
    order = np.argsort(-scores, kind="stable")  # highest score first
    ranked, hits = scores[order], truth[order]
    tp = np.cumsum(hits)
    called = np.arange(1, ranked.size + 1)
    # The last position of each run of tied scores: calling that score an HFO calls the whole run.
    last = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    tp, called = tp[last], called[last]
    # F1 = 2TP / (2TP + FP + FN) = 2TP / (called + positives). Equal fractions divide to the same float
    # (division is correctly rounded), so ties are exact; argmax takes the first, the highest threshold.
    f1 = 2.0 * tp / (called + positives)
    i = int(np.argmax(f1))
    n_tp, n_called = int(tp[i]), int(called[i])
    fp = n_called - n_tp
    return Calls(float(ranked[last[i]]), n_tp, fp, positives - n_tp, truth.size - positives - fp)


def threshold_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float | int | None]:
    """An epoch record's threshold metrics: precision/recall/F1 at 0.5, the F1-maximising threshold with its
    precision/recall/F1 and its confusion matrix (TP, FP, FN, TN). None where undefined."""
    if np.asarray(scores).size == 0 or not np.all(np.isfinite(scores)):
        return dict.fromkeys(("val_precision", "val_recall", "val_f1", *THRESHOLD_KEYS))
    at_half = calls_at(scores, labels, DEFAULT_THRESHOLD)
    best = best_f1(scores, labels)
    out: dict[str, float | int | None] = {
        "val_precision": at_half.precision,
        "val_recall": at_half.recall,
        "val_f1": at_half.f1,
    }
    out.update(threshold_fields(best))
    return out


THRESHOLD_KEYS = ("val_threshold", "val_threshold_precision", "val_threshold_recall", "val_threshold_f1",
                  "val_tp", "val_fp", "val_fn", "val_tn")


def threshold_fields(best: Calls | None) -> dict[str, float | int | None]:
    if best is None:
        return dict.fromkeys(THRESHOLD_KEYS)
    return dict(zip(THRESHOLD_KEYS, (best.threshold, best.precision, best.recall, best.f1,
                                     best.tp, best.fp, best.fn, best.tn)))
