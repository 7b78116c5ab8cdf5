"""A stand-in trainer for the latency benchmark: appends epoch records to a log, spaced like real epochs.

`python -m benchmarks.trickle LOG N LO HI [SEED]` writes a start record, then N epoch records with
uniform(LO, HI) seconds between them, through the shared `LogWriter` with fsync (as the trainer does), then
an end record. It runs as its own process, like the trainer, so the viewer's process does nothing for it.
Each record's `time` is taken just before its write: the start of the latency being measured.
"""

from __future__ import annotations

import random
import sys
import threading
from pathlib import Path

from benchmarks.logs import LiveLog


def trickle(log: Path, n: int, lo: float, hi: float, seed: int = 0) -> None:
    rng = random.Random(seed)
    pause = threading.Event()  # never set: wait() is an interruptible sleep
    live = LiveLog(log, 0, planned=n, seed=seed, fsync=True)
    try:
        for _ in range(n):
            pause.wait(rng.uniform(lo, hi))
            live.append()
        live.end()
    finally:
        live.close()


if __name__ == "__main__":
    path, count, low, high = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    trickle(path, count, low, high, int(sys.argv[5]) if len(sys.argv) > 5 else 0)
