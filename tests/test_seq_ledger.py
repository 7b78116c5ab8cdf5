"""The seq ledger: what is odd about a seq, and exactly how often each seq was yielded."""

import random
from collections import Counter

import pytest

from shared.seq_ledger import SeqLedger


def feed(seqs):
    ledger = SeqLedger()
    odd = []
    for seq in seqs:
        if not ledger.fast(seq):
            odd.append(ledger.take(seq))
    return ledger, [o for o in odd if o is not None]


@pytest.mark.parametrize("seqs, odd", [
    (range(10), []),
    ([0, 1, 2, 999, 3, 4], ["seq 999 after 2"]),  # a lone jump: the order goes on, one odd line
    ([0, 1, 2, 999, 1000, 1001], ["seq 999 after 2"]),  # the writer keeps the jump: one odd line
    ([0, 1, 2, 0, 3], ["duplicate seq 0"]),
    ([0, 1, 2, 2, 3], ["duplicate seq 2"]),
    ([0, 1, 5, 2, 3, 4, 5, 6], ["seq 5 after 1", "duplicate seq 5"]),  # the order reaches the jump's seq
    ([0, 1, 9, 1, 2], ["seq 9 after 1", "duplicate seq 1"]),  # two odd lines in a row
    ([3, 4, 5], ["seq 3 after -1"]),  # a run that does not start at 0
])
def test_what_is_odd(seqs, odd):
    assert feed(seqs)[1] == odd


@pytest.mark.parametrize("seqs, counts", [
    (range(5), {0: 1, 4: 1, 5: 0}),
    ([0, 1, 1, 1, 2], {1: 3, 2: 1, 3: 0}),
    ([0, 1, 7, 2, 3, 7], {7: 2, 5: 0, 6: 0, 3: 1}),
    ([0, 5, 1, 2, 3, 4, 6], {5: 1, 6: 1, 4: 1, 7: 0}),  # stretches that meet merge
])
def test_counts(seqs, counts):
    ledger = feed(seqs)[0]
    assert {seq: ledger.count(seq) for seq in counts} == counts


def test_expect_lets_a_restarted_logs_gap_pass():
    ledger = SeqLedger()
    assert ledger.take(0) is None
    ledger.expect(57)
    assert ledger.take(57) is None and ledger.fast(58)
    other = SeqLedger()
    other.take(0)
    assert other.take(57) == "seq 57 after 0"


def test_counts_match_a_plain_count_for_any_order():
    rng = random.Random(11)
    seqs = [rng.choice([i, rng.randrange(300)]) for i in range(2000)]
    ledger = feed(seqs)[0]
    truth = Counter(seqs)
    assert all(ledger.count(s) == truth[s] for s in range(2100))
