"""Validation metrics from logits and labels: accuracy at threshold 0.5 and AUROC. numpy only."""

from __future__ import annotations

import math

import numpy as np


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float | None:
    """Fraction of segments whose P(HFO) = sigmoid(logit) falls on their label's side of 0.5.

    sigmoid(z) > 0.5 exactly when z > 0, so no sigmoid is computed (and none can overflow). None when there
    are no segments or a logit is non-finite (a diverged model has no meaningful accuracy).
    """
    logits, labels = np.asarray(logits, dtype=float), np.asarray(labels, dtype=float)
    if labels.size == 0 or not np.all(np.isfinite(logits)):
        return None
    return float(np.mean((logits > 0) == (labels > 0.5)))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve by the Mann-Whitney U statistic, ties counted half; None with one class.

    AUROC = (R1 - n1 (n1 + 1) / 2) / (n1 n0), where R1 is the sum of the positives' ranks among all scores
    and tied scores share their average rank. Any monotone score works (logits or probabilities). A
    non-finite score makes the result None: it cannot be ranked meaningfully.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float) > 0.5
    n1 = int(labels.sum())
    n0 = labels.size - n1
    if n1 == 0 or n0 == 0 or not np.all(np.isfinite(scores)):
        return None
    ranks = average_ranks(scores)
    u = ranks[labels].sum() - n1 * (n1 + 1) / 2
    value = float(u / (n1 * n0))
    return value if math.isfinite(value) else None


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values`, ties given the mean of the ranks they span (like scipy's rankdata)."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Start index of each run of equal values in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends averaged
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks
