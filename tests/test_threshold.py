"""The decision threshold: exact against a brute-force count at every threshold, ties included."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer.threshold import Calls, best_f1, calls_at, sigmoid, threshold_metrics


def brute_calls(scores, labels, t):
    """The confusion matrix by looking at every segment: the definition."""
    tp = sum(1 for s, y in zip(scores, labels) if s >= t and y)
    fp = sum(1 for s, y in zip(scores, labels) if s >= t and not y)
    fn = sum(1 for s, y in zip(scores, labels) if s < t and y)
    tn = sum(1 for s, y in zip(scores, labels) if s < t and not y)
    return tp, fp, fn, tn


def brute_best(scores, labels):
    """Try every distinct score as the threshold, F1 as an exact fraction; ties go to the higher threshold."""
    best = None
    for t in sorted(set(scores), reverse=True):
        tp, fp, fn, tn = brute_calls(scores, labels, t)
        f1 = Fraction(2 * tp, 2 * tp + fp + fn)
        if best is None or f1 > best[0]:  # strictly better only: the first (highest) threshold keeps a tie
            best = (f1, t, (tp, fp, fn, tn))
    return best


# Scores from a few values so that ties (also between a positive and a negative) are common.
scores_and_labels = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5000001, 0.7, 0.9, 1.0]) | st.floats(0, 1), min_size=n,
             max_size=n),
    st.lists(st.integers(0, 1), min_size=n, max_size=n)))


@settings(max_examples=300, deadline=None)
@given(scores_and_labels)
def test_best_f1_matches_the_brute_force(data):
    scores, labels = data
    got = best_f1(np.array(scores), np.array(labels))
    if sum(labels) == 0:
        assert got is None
        return
    f1, t, (tp, fp, fn, tn) = brute_best(scores, labels)
    assert (got.threshold, got.tp, got.fp, got.fn, got.tn) == (t, tp, fp, fn, tn)
    assert got.f1 == float(f1)


@settings(max_examples=200, deadline=None)
@given(scores_and_labels, st.sampled_from([0.5, 0.0, 0.25, 1.0]))
def test_calls_at_a_threshold_match_the_brute_force(data, t):
    scores, labels = data
    got = calls_at(np.array(scores), np.array(labels), t)
    assert (got.tp, got.fp, got.fn, got.tn) == brute_calls(scores, labels, t)


@pytest.mark.parametrize("scores, labels, expected", [
    # Perfect separation: the highest threshold that calls every positive.
    ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], Calls(0.8, 2, 0, 0, 2)),
    # 0.7 and 0.3 both give F1 = 2/3 (one TP, no FP, one FN / two TP, two FP): the higher one wins.
    ([0.9, 0.7, 0.5, 0.3], [1, 0, 0, 1], Calls(0.9, 1, 0, 1, 2)),
    # A tie between a positive and a negative: calling one calls both.
    ([0.6, 0.6, 0.2], [1, 0, 0], Calls(0.6, 1, 1, 0, 1)),
])
def test_best_f1_table(scores, labels, expected):
    assert best_f1(np.array(scores), np.array(labels)) == expected


def test_undefined_cases_are_none():
    assert best_f1(np.array([0.2, 0.9]), np.array([0, 0])) is None  # no positives
    assert best_f1(np.array([]), np.array([])) is None
    assert best_f1(np.array([0.2, np.nan]), np.array([0, 1])) is None
    none_called = calls_at(np.array([0.1, 0.2]), np.array([0, 1]))
    assert none_called.precision is None and none_called.f1 == 0.0 and none_called.recall == 0.0


def test_epoch_metrics_keys():
    m = threshold_metrics(np.array([0.1, 0.4, 0.6, 0.9]), np.array([0, 1, 0, 1]))
    assert m == {"val_precision": 0.5, "val_recall": 0.5, "val_f1": 0.5, "val_threshold": 0.4,
                 "val_threshold_precision": 2 / 3, "val_threshold_recall": 1.0, "val_threshold_f1": 0.8,
                 "val_tp": 2, "val_fp": 1, "val_fn": 0, "val_tn": 1}


def test_sigmoid_is_stable():
    p = sigmoid(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0]))
    assert p[0] == 0.0 and p[-1] == 1.0 and p[2] == 0.5 and p[1] == pytest.approx(1 - p[3])
