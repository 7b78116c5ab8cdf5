"""The head and the tail of a run's log: what listing hundreds of runs needs, without reading them whole.

The start record is the log's first line; the latest epoch, progress, stop request and end record are its
last lines. Reading HEAD_BYTES from the front and TAIL_BYTES from the back gives a run's summary at a fixed
cost per run, whatever its length. A log no longer than both together is read whole.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from shared.records import Record, RecordError, decode

HEAD_BYTES = 16 << 10  # the start record (~1 KB) and the first epochs
TAIL_BYTES = 64 << 10  # the last ~150 epochs: the latest state, the end record, the best values of the tail


@dataclass
class LogEnds:
    """The records read from a log's two ends, in file order, of its last run only.

    `whole` is True when every line of the log was read: the records are then the whole run, and values
    taken over its epochs (a best AUROC) are exact rather than a bound.
    """

    records: list[Record] = field(default_factory=list)
    whole: bool = True
    skipped: int = 0  # complete lines that are not records (malformed)


def _complete_lines(data: bytes, *, drop_first: bool) -> list[bytes]:
    """The complete lines of `data`: without the line cut at its end, and (`drop_first`) the one cut at its start."""
    end = data.rfind(b"\n")
    if end < 0:
        return []
    lines = data[: end + 1].split(b"\n")[:-1]
    return lines[1:] if drop_first else lines


def read_head_tail(path: str | Path, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> LogEnds:
    """The records of `path`'s first `head` and last `tail` bytes (each complete line once).

    Raises OSError when the log cannot be opened or read, or is not a regular file (a FIFO under the name
    would otherwise block the open). Malformed lines are counted in `skipped`, never raised. When the log
    holds more than one run (no trainer writes that, but a hand-made log may), only the last run's records
    are kept, as `shared.logreader.read_log` does.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{Path(path).name} is not a regular file")
        size = st.st_size
        if size <= head + tail:
            lines, whole = _complete_lines(fh.read(size), drop_first=False), True
        else:
            first = _complete_lines(fh.read(head), drop_first=False)
            fh.seek(size - tail)
            lines, whole = first + _complete_lines(fh.read(tail), drop_first=True), False
    out = LogEnds(whole=whole)
    seen: set[int] = set()
    for line in lines:
        if not line.strip():
            continue
        try:
            record = decode(line)
        except RecordError:
            out.skipped += 1
            continue
        if out.records and record["run_id"] != out.records[-1]["run_id"]:
            if record["type"] != "start":
                out.skipped += 1  # a stray record of another run: read_log skips it too
                continue
            out.records, seen = [], set()  # a new run in the same log: the earlier one is not this log's run
        if record["seq"] in seen:
            continue  # the head and the tail overlap only when whole; kept for safety on a log that grew
        seen.add(record["seq"])
        out.records.append(record)
    return out
