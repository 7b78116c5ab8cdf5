"""When the log last grew, on the viewer's own clock: the heartbeat a run's status is judged by.

A record's `time` comes from the trainer's host, whose clock may be minutes off; comparing it with this host's
clock called a live run stalled (or a dead one live). So the viewer times the log itself: `LogGrowth` notes
every change of the log's identity or size it sees and measures the quiet since on `time.monotonic`. The
first look has no earlier observation: it takes the file's modification time, which the file system sets
on this host's clock for a local disk (a network file system sets it on the server's, usually in sync). A
one-shot command (`replay`, `stop`) has only that first look: `file_quiet`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path


def mtime_age(st: os.stat_result | None, wall: float) -> float:
    """Seconds since the file was last written, by this host's wall clock (0 if it is in the future)."""
    if st is None:
        return math.inf
    return max(0.0, wall - st.st_mtime)


def file_quiet(path: str | Path, wall: Callable[[], float] = time.time) -> float:
    """How long the file at `path` has been quiet, from one look (math.inf if it is not there)."""
    try:
        st = os.stat(path)
    except OSError:
        return math.inf
    return mtime_age(st, wall())


class LogGrowth:
    """Seconds since the log last grew, as this viewer saw it. Call `observe` after every read of the log.

    Growth is any change of (device, inode, size): appended records, a torn line, a log truncated or
    replaced by the trainer. Not thread-safe: the consumer thread that reads the log calls it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._wall = wall
        self._key: tuple[int, int, int] | None = None
        self._grew_at: float | None = None  # on `clock`

    def observe(self, st: os.stat_result | None) -> bool:
        """Note the log's state now (`st`: its stat, None if it is not there); True if it grew."""
        if st is None:
            return False  # gone for now: the quiet goes on
        key = (st.st_dev, st.st_ino, st.st_size)
        if key == self._key:
            return False
        now = self._clock()
        # First look: it last grew when it was last written (see the module docstring); later: now.
        self._grew_at = now - mtime_age(st, self._wall()) if self._key is None else now
        self._key = key
        return True

    def quiet(self) -> float:
        """Seconds since the log last grew (math.inf if it was never seen)."""
        return math.inf if self._grew_at is None else max(0.0, self._clock() - self._grew_at)
