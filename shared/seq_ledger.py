"""Which `seq` numbers of one run a reader has yielded, and how often: exact de-duplication after a re-read.

`seq` never gates normal reading (a reader yields every valid line as it is appended); it only lets a reader
that must read a file again from its start (truncated, replaced, restarted by the trainer) skip exactly the
records it already yielded, never more. The ledger also says what is odd about a seq (a duplicate, a jump or
a step back) so the reader can warn once about that line.

Memory stays small: the yielded seqs are kept as sorted, disjoint stretches `[lo, hi)` (a well-formed log is
one stretch), plus a count of the few seqs yielded more than once. The stretch being extended is kept open
(`open_lo` .. `next_seq`) so that the reader's hot loop only increments `next_seq` (see `fast`).
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right
from collections import Counter

NO_LIMIT = sys.maxsize


class SeqLedger:
    """The yielded seqs of one run.

    Hot path (the reader inlines it): a record whose seq equals `next_seq` and is below `limit` is the next one
    of the current stretch and was never yielded before; the reader yields it and increments `next_seq`.
    Everything else goes through `take`, which files the seq and says what is odd about it.
    """

    def __init__(self) -> None:
        self._los: list[int] = []  # closed stretches [lo, hi): sorted, disjoint, not touching
        self._his: list[int] = []
        self._extra: Counter[int] = Counter()  # seqs yielded more than once: the times beyond the first
        self._open_lo = 0  # the open stretch is [_open_lo, next_seq), not yet in the lists
        self.next_seq = 0  # the seq that continues the current stretch
        self.limit = NO_LIMIT  # the lowest yielded seq above the open stretch: `fast` holds only below it
        # After one odd record: (its seq, the seq that continues the order it interrupted); holds for the next
        # record only.
        self._resume: tuple[int, int] | None = None

    def fast(self, seq: int) -> bool:
        """True (and filed) if `seq` simply continues the current stretch; the reader inlines this test."""
        if seq == self.next_seq < self.limit:
            self.next_seq += 1
            return True
        return False

    def count(self, seq: int) -> int:
        """How many times `seq` was yielded."""
        if not (self._open_lo <= seq < self.next_seq or self._contains(seq)):
            return 0
        return 1 + self._extra.get(seq, 0)

    def expect(self, seq: int) -> None:
        """Let the next record carry `seq` without being called out of order (a restarted log's next record)."""
        self._resume = (self.next_seq - 1, seq)

    def take(self, seq: int) -> str | None:
        """File `seq` as yielded; return None if it is in order, else what is odd about it ("duplicate seq 5",
        "seq 999 after 8"). In order: the next seq of the current stretch, or the one that continues the order a
        single odd record interrupted (8, 999, 9: only 999 is odd)."""
        self._close()
        previous = self.next_seq - 1
        resume = self._resume[1] if self._resume is not None and self._resume[0] == previous else None
        self._resume = None
        if self._contains(seq):
            self._extra[seq] += 1
            odd: str | None = f"duplicate seq {seq}"
        else:
            self._insert(seq, seq + 1)
            odd = None if seq in (self.next_seq, resume) else f"seq {seq} after {previous}"
        if odd is not None:
            # The record after this one may go on where the order was interrupted.
            self._resume = (seq, resume if resume is not None else self.next_seq)
        self._open_lo, self.next_seq = seq, seq + 1
        self.limit = self._first_at_or_above(seq + 1)
        return odd

    def _close(self) -> None:
        if self.next_seq > self._open_lo:
            self._insert(self._open_lo, self.next_seq)
        self._open_lo = self.next_seq

    def _contains(self, seq: int) -> bool:
        i = bisect_right(self._los, seq) - 1
        return i >= 0 and self._his[i] > seq

    def _first_at_or_above(self, seq: int) -> int:
        if self._contains(seq):
            return seq
        i = bisect_right(self._los, seq)
        return self._los[i] if i < len(self._los) else NO_LIMIT

    def _insert(self, lo: int, hi: int) -> None:
        # Stretches i .. j-1 overlap or touch [lo, hi): merge them with it into one.
        i = bisect_left(self._his, lo)
        j = bisect_right(self._los, hi)
        if i < j:
            lo, hi = min(lo, self._los[i]), max(hi, self._his[j - 1])
        self._los[i:j] = [lo]
        self._his[i:j] = [hi]
