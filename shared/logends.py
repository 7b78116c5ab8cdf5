"""The two ends of a log: its last run's start record and its last records, read without the middle.

`stlar-dl stop`, a run's status and a list of runs need the start record (config, planned epochs, host, pid)
and the last few records (the latest epochs, the progress after them, a stop request, the end). Reading the
whole log for that costs seconds and hundreds of MB on a week-long run (300,000 progress records, ~50 MB);
reading its ends costs a few KB. `read_ends` reads the first record from the head and walks back from the
end in chunks until it holds the last `epochs` epoch records of the run (or the run's start); progress
records on the way are skipped unparsed, except the last one.

Contract (for a log our writer wrote: one start record per run, type first on each line):
- `history()` of the result equals `history_of(read_log(path)[0])` in what a status needs: `run_id`,
  `start`, `last_epoch`, the last `epochs` entries of every column, `progress`, `stop_request`, `end`,
  `last_time`, and so `planned_epochs`, `best_epoch`, `best_val_loss`. Only the counts differ (`n_epochs`,
  `records`): the middle was never read. A stop request is in the tail because the trainer stops after the
  epoch in which it saw one;
- the run is the one of the last start record, and only its records count (like `LogReader`); a log
  without a start record is the run of its first valid record; a start marked `restarted` (the trainer
  started its log again) continues the run;
- a last line without its newline is a write in progress: left out, as `LogReader` does, unless
  `final_line=True` (a finished log from a writer that omitted the last newline);
- malformed lines are skipped and counted (`skipped`); a UTF-8 byte-order mark at the start is ignored;
- never raises on file content; OSError only if the file cannot be opened or read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shared.history import History
from shared.logreader import MAX_LINE_BYTES
from shared.records import EPOCH, PROGRESS, START, Record, RecordError, decode

TAIL_EPOCHS = 3  # epoch records a status needs: the ETA averages the last 3 epochs' durations
CHUNK = 64 << 10  # bytes read per step backwards; doubles each step, so a long stretch of progress costs few reads
MAX_CHUNK = 4 << 20  # ... up to this: the memory a scan holds at most (plus the lines it keeps)
BOM = b"\xef\xbb\xbf"
_PROGRESS_LINE = b'{"type":"progress"'  # how our writer starts a progress line: skipped without parsing


@dataclass
class LogEnds:
    """The last run's start record (None if the log has none) and its last records, in file order."""

    start: Record | None = None
    tail: list[Record] = field(default_factory=list)
    skipped: int = 0  # malformed lines met on the way
    bytes_read: int = 0  # how much of the file was read, for the curious and the benchmarks

    def history(self) -> History:
        """A History of the start and the tail: exact for a status, not for counts (see the module doc)."""
        history = History()
        if self.start is not None:
            history.add(self.start)
        history.extend(self.tail)
        return history


def _decode(line: bytes) -> Record | None:
    if not line.strip() or len(line) > MAX_LINE_BYTES:
        return None
    try:
        return decode(line)
    except RecordError:
        return None


def _head(fh, size: int) -> tuple[Record | None, int, int, int]:
    """(the first valid record, the offset just past its line, malformed lines before it, bytes read).

    Reads line by line from the start; gives up at the first line without its newline.
    """
    fh.seek(0)
    skipped = read = 0
    first = True
    while read < size:
        line = fh.readline(MAX_LINE_BYTES + 2)
        if not line:
            break
        read += len(line)
        if first:
            first = False
            if line.startswith(BOM):
                line = line[len(BOM):]
        if not line.endswith(b"\n"):
            break
        record = _decode(line)
        if record is not None:
            return record, read, skipped, read
        if line.strip():
            skipped += 1
    return None, 0, skipped, read


def _last_newline(fh, lo: int, size: int) -> int:
    """The offset just past the file's last newline after `lo` (`lo` if none): where the torn part begins."""
    pos = size
    while pos > lo:
        n = min(CHUNK, pos - lo)
        pos -= n
        fh.seek(pos)
        i = fh.read(n).rfind(b"\n")
        if i >= 0:
            return pos + i + 1
    return lo


def _lines_backward(fh, lo: int, hi: int, ends: LogEnds) -> Iterator[bytes]:
    """The complete lines of the file between `lo` (a line start) and `hi` (just past a newline), newest
    first, without their newlines. Reads CHUNK bytes, then twice as many each step up to MAX_CHUNK; a line
    longer than MAX_LINE_BYTES is skipped (counted) without being held whole."""
    pos, step, carry, overlong = hi, CHUNK, b"", False
    while pos > lo:
        n = min(step, pos - lo)
        step = min(step * 2, MAX_CHUNK)
        pos -= n
        fh.seek(pos)
        data = fh.read(n)
        ends.bytes_read += n
        lines = (data + carry).split(b"\n")
        if pos + n == hi:
            lines.pop()  # `hi` is just past a newline: the piece after it is empty
        elif overlong:
            lines.pop()  # the start of the overlong line, read now
            if not lines:
                continue  # no newline in this chunk: still inside it
            overlong = False
            ends.skipped += 1
        carry = lines.pop(0) if pos > lo else b""  # may begin mid-line: completed by the next chunk
        if len(carry) > MAX_LINE_BYTES:
            carry, overlong = b"", True
        yield from reversed(lines)


def read_ends(path: str | Path, epochs: int = TAIL_EPOCHS, *, final_line: bool = False) -> LogEnds:
    """The start record and the last records of the last run in the log at `path` (see the module doc)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        head, head_end, skipped, head_read = _head(fh, size)
        # Without a record in the head, the walk back reads those lines again and counts them itself.
        ends = LogEnds(skipped=skipped if head is not None else 0, bytes_read=head_read)
        end = _last_newline(fh, head_end, size)
        lines = _lines_backward(fh, head_end, end, ends)
        if final_line and 0 < size - end <= MAX_LINE_BYTES:
            fh.seek(end)
            torn = fh.read(size - end)
            ends.bytes_read += len(torn)
            lines = itertools.chain((torn,), lines)
        kept = _walk(lines, head, epochs, ends, bom=head_end == 0)
    # `kept` is newest first and ends at the run's start, at the head's start, or at the head.
    start = kept[-1] if kept and kept[-1]["type"] == START else None
    run_id = kept[-1]["run_id"] if kept else None
    ends.start = start
    ends.tail = [r for r in reversed(kept) if r["run_id"] == run_id and r is not start]
    return ends


def _walk(lines: Iterator[bytes], head: Record | None, epochs: int, ends: LogEnds, bom: bool) -> list[Record]:
    """Decode lines newest first until the run's start, or `epochs` epoch records of the head's run; then
    the head closes the list (if the walk reached it, or the head is that run's start)."""
    kept: list[Record] = []
    want_progress = True  # no progress or epoch record seen yet: the last progress record still matters
    head_run = head["run_id"] if head is not None and head["type"] == START else None
    head_epochs = 0
    for line in lines:
        if not want_progress and line.startswith(_PROGRESS_LINE):
            continue  # superseded by a later progress or epoch record: never parsed
        record = _decode(line)
        if record is None and bom and line.startswith(BOM):
            record = _decode(line[len(BOM):])  # the first line of a log whose head held no record
        if record is None:
            ends.skipped += line.strip() != b""
            continue
        kept.append(record)
        rtype = record["type"]
        if rtype == START and not isinstance(record.get("restarted"), dict):
            return kept  # a start marked restarted (the trainer started its log again) continues the run
        if rtype in (PROGRESS, EPOCH):
            want_progress = False
        if rtype == EPOCH and record["run_id"] == head_run:
            head_epochs += 1
            if head_epochs >= epochs:
                break  # the run of the head's start: the middle holds nothing a status needs
    if head is not None:
        kept.append(head)
    return kept
