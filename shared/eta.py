"""How long a run has left: one estimate for the trainer's console, the terminal viewer and the window.

From the recorded `seconds` of the latest epochs, so every view (and a replay) works out the same number.
The median, not the mean: one epoch slowed by a checkpoint write or a busy machine does not swing it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

ETA_EPOCHS = 5  # the median of the last this many epoch durations


def per_epoch_seconds(seconds: Sequence[float]) -> float | None:
    """The median duration of the latest ETA_EPOCHS epochs (finite, positive ones); None without any."""
    recent = [s for s in seconds[-ETA_EPOCHS:] if math.isfinite(s) and s > 0]
    return statistics.median(recent) if recent else None


def fmt_duration(seconds: float) -> str:
    """`40 s`, `3 min`, `1 h 20 min`, `3 days`: the precision an ETA or an age deserves."""
    if not math.isfinite(seconds):  # a log never seen growing, an absurd record: no traceback
        return "an unknown time" if math.isnan(seconds) or seconds > 0 else "0 s"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(round(seconds))} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{int(round(minutes / 1440))} days"


def eta_text(seconds: Sequence[float], done: int, planned: int | None) -> str:
    """`ETA 2 min` after `done` of `planned` epochs took `seconds` each; empty after the last one or without
    a duration to go by."""
    per_epoch = per_epoch_seconds(seconds)
    if per_epoch is None or not planned or done >= planned:
        return ""
    return f"ETA {fmt_duration(per_epoch * (planned - done))}"
