"""Validation metrics: rank-based AUROC against a brute-force pair count, accuracy at 0.5."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer.metrics import accuracy, auroc, average_ranks


def auroc_by_pairs(scores, labels) -> float:
    """P(score of a positive > score of a negative), ties counted half: the definition, O(n^2)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("scores, labels, expected", [
    ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
    ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
    ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),
    ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),
    ([-3.0, 2.0, 2.0, 5.0], [0, 0, 1, 1], 0.875),  # one tie between a positive and a negative
])
def test_auroc_table(scores, labels, expected):
    assert auroc(np.array(scores), np.array(labels)) == pytest.approx(expected)


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1], []])
def test_auroc_is_none_with_one_class(labels):
    assert auroc(np.zeros(len(labels)), np.array(labels)) is None


def test_auroc_is_none_with_non_finite_scores():
    assert auroc(np.array([0.1, math.nan, 0.3]), np.array([0, 1, 1])) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.booleans()), min_size=2, max_size=40))
def test_auroc_matches_the_pair_count(pairs):
    scores = [float(s) for s, _ in pairs]  # small integers: many ties
    labels = [y for _, y in pairs]
    if all(labels) or not any(labels):
        assert auroc(np.array(scores), np.array(labels, dtype=float)) is None
    else:
        assert auroc(np.array(scores), np.array(labels, dtype=float)) == pytest.approx(auroc_by_pairs(scores, labels))


def test_average_ranks_share_ties():
    assert average_ranks(np.array([10.0, 20.0, 10.0, 30.0])).tolist() == [1.5, 3.0, 1.5, 4.0]


@pytest.mark.parametrize("logits, labels, expected", [
    ([2.0, -1.0, 0.5, -0.2], [1, 0, 0, 0], 0.75),
    ([0.0], [1], 0.0),  # sigmoid(0) = 0.5 is not above the threshold
    ([], [], None),
    ([math.nan, 1.0], [1, 1], None),
])
def test_accuracy(logits, labels, expected):
    assert accuracy(np.array(logits), np.array(labels)) == expected
