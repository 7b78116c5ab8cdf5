"""Incremental reader of `training_log.jsonl`, for viewers that attach at any time and tail a live run."""

from __future__ import annotations

import contextlib
import gc
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from shared.records import MAX_DEPTH, START, Record, RecordError, decode, validate

MAX_LINE_BYTES = 1 << 20  # longer lines are skipped unread: no record is anywhere near this
READ_CHUNK = 4 << 20  # bytes read per system call; bounds memory when attaching to a huge log
HEAD_BYTES = 64  # the first bytes of the file identify it (they hold the start record's run_id)
MAX_WARNINGS = 50  # after this many, malformed lines are only counted
GC_PAUSE_BYTES = 1 << 20  # a poll with at least this much to read pauses the cyclic garbage collector


@contextlib.contextmanager
def _gc_paused(pause: bool) -> Iterator[None]:
    """Pause the cyclic collector while a large backlog is parsed, then restore its previous state.

    A record is about 16 container objects, all kept: attaching to 100,000 epochs makes the collector
    re-scan the growing heap again and again, about a third of the read time (benchmarks/RESULTS.md).
    Records hold no reference cycles, so reference counting alone frees whatever is dropped meanwhile.
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True)
class NewRun:
    """Marker in the reader's output: the records before it belong to an earlier run; start afresh."""

    run_id: str
    reason: str


class LogReader:
    """Reads the records appended to one log file since the last `poll()`.

    Contract:
    - yields each complete, valid line once, in file order, and never raises on file content;
    - holds back a trailing line without its newline until the newline arrives (a torn write is "not yet");
    - reads only the bytes appended since the last poll, so a poll costs the same on a 10-line or a
      100,000-line log; the file is opened per poll and closed again, so a trainer can rename it (archive)
      on every platform;
    - a log that shrinks below what was read (truncated) or is another file now (other device/inode, or its
      first bytes changed) is read again from the start; records already yielded (same run_id, seq below the
      next expected) are not yielded twice, and a `start` with a new run_id yields `NewRun` before it;
    - a malformed complete line (bad JSON, not UTF-8, wrong field types, over MAX_LINE_BYTES) is skipped with
      one warning naming its line number;
    - assumes one appending writer. A missing file is "not yet" (or "gone for now"): the view keeps what it had.
    """

    def __init__(
        self,
        path: str | Path,
        on_warning: Callable[[str], None] | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.warnings: list[str] = []
        self.skipped_lines = 0
        self.run_id: str | None = None
        self.exists = False
        self._on_warning = on_warning
        self._next_seq = 0
        self._ident: tuple[int, int] | None = None
        self._head = b""
        self._restart_reason: str | None = None
        self._not_a_file = False  # said once that the log's name is a FIFO, a device or a folder
        self._reset_file_state()

    def _reset_file_state(self) -> None:
        self._committed = 0  # byte offset just past the last complete line consumed
        self._pos = 0  # byte offset read so far (>= _committed: the rest is _pending or being skipped)
        self._pending = bytearray()
        self._skipping = False  # inside an overlong line: discard until its newline
        self._line_no = 0

    def _warn(self, message: str) -> None:
        self.skipped_lines += 1
        if self.skipped_lines > MAX_WARNINGS:
            return
        if self.skipped_lines == MAX_WARNINGS:
            message += f" (further malformed lines of {self.path.name} are skipped without a warning)"
        self.warnings.append(message)
        if self._on_warning is not None:
            self._on_warning(message)

    def poll(self) -> list[Record | NewRun]:
        """Return the new records (and NewRun markers) since the last poll; [] when nothing changed."""
        try:
            # Non-blocking: a FIFO under the log's name would otherwise block this open until a writer came.
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except OSError:
            # Not there yet, deleted, or briefly unavailable (network mounts): keep the state, try again.
            self.exists = False
            return []
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            regular = False
        if not regular:  # a FIFO, a device, a folder: not a log; wait for a real one
            os.close(fd)
            if not self._not_a_file:
                self._not_a_file = True
                self._warn(f"{self.path.name} is not a regular file; waiting for a real log")
            self.exists = False
            return []
        fh = os.fdopen(fd, "rb")
        with fh:
            try:
                st = os.fstat(fh.fileno())
                head = fh.read(HEAD_BYTES)
            except OSError:
                return []
            self.exists = True
            ident = (st.st_dev, st.st_ino)
            if self._ident is not None:
                if ident != self._ident:
                    # Another file under the name (the trainer archived the old log): replaced, even when the
                    # new one is shorter than what was read.
                    self._restart("log replaced")
                elif st.st_size < self._committed:
                    self._restart("log truncated")
                elif not head.startswith(self._head):
                    # The same inode reused for a new file: the first bytes tell them apart.
                    self._restart("log replaced")
                elif st.st_size < self._pos:
                    # The writer cut back a torn tail (disk full): forget it and read on from the last line.
                    self._pos = self._committed
                    self._pending.clear()
                    self._skipping = False
            self._ident = ident
            if len(self._head) < HEAD_BYTES:
                self._head = head[:HEAD_BYTES]
            out: list[Record | NewRun] = []
            size = st.st_size
            # Reading a long backlog: no cyclic collection in the middle of it (see _gc_paused).
            with _gc_paused(size - self._pos >= GC_PAUSE_BYTES):
                while self._pos < size:
                    fh.seek(self._pos)
                    try:
                        chunk = fh.read(min(READ_CHUNK, size - self._pos))
                    except OSError:
                        break
                    if not chunk:
                        break
                    self._pos += len(chunk)
                    self._consume(chunk, out)
            return out

    def _restart(self, reason: str) -> None:
        self._reset_file_state()
        self._head = b""
        self._restart_reason = reason

    def _consume(self, chunk: bytes, out: list[Record | NewRun]) -> None:
        start = 0
        if self._skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                return
            self._skipping = False
            self._line_no += 1
            self._committed = self._pos - len(chunk) + nl + 1
            self._warn(f"{self.path.name} line {self._line_no}: skipped (longer than {self.max_line_bytes} bytes)")
            start = nl + 1
        last_nl = chunk.rfind(b"\n")
        if last_nl < start:
            self._pending += chunk[start:]
            if len(self._pending) > self.max_line_bytes:
                self._pending.clear()
                self._skipping = True
            return
        data = bytes(self._pending) + chunk[start : last_nl + 1] if self._pending else chunk[start : last_nl + 1]
        self._pending = bytearray(chunk[last_nl + 1 :])
        self._committed = self._pos - len(self._pending)
        self._lines(data.split(b"\n")[:-1], out)
        if len(self._pending) > self.max_line_bytes:
            self._pending.clear()
            self._skipping = True

    def _lines(self, lines: list[bytes], out: list[Record | NewRun]) -> None:
        # The hot loop of attaching to a long run: locals, and the common case (next record of the current
        # run, parsed by orjson) first. Anything unusual goes through `_line`.
        loads, parse_error, append = orjson.loads, orjson.JSONDecodeError, out.append
        max_len, run_id = self.max_line_bytes, self.run_id
        line_no = self._line_no
        for line in lines:
            line_no += 1
            # A line with many brackets may nest deeply: `decode` (in `_line`) checks that.
            if len(line) <= max_len and line.count(b"[") + line.count(b"{") <= MAX_DEPTH:
                try:
                    record = validate(loads(line))
                except (parse_error, RecordError):
                    pass
                else:
                    if record["run_id"] == run_id and record["seq"] >= self._next_seq:
                        self._next_seq = record["seq"] + 1
                        append(record)
                        continue
            self._line_no = line_no
            self._line(line, out)
            run_id = self.run_id
        self._line_no = line_no

    def _line(self, line: bytes, out: list[Record | NewRun]) -> None:
        if len(line) > self.max_line_bytes:
            self._warn(f"{self.path.name} line {self._line_no}: skipped (longer than {self.max_line_bytes} bytes)")
            return
        if not line.strip():
            return
        try:
            record = decode(line)
        except RecordError as exc:
            self._warn(f"{self.path.name} line {self._line_no}: skipped ({exc})")
            return
        run_id, seq = record["run_id"], record["seq"]
        if self.run_id is None:
            self.run_id = run_id
        elif run_id != self.run_id:
            if record["type"] != START:
                self._warn(f"{self.path.name} line {self._line_no}: skipped (record of run {run_id} "
                           f"without its start record; the current run is {self.run_id})")
                return
            out.append(NewRun(run_id, self._restart_reason or "new run in the log"))
            self._restart_reason = None
            self.run_id = run_id
            self._next_seq = 0
        if seq < self._next_seq:
            return  # already yielded before the file was read again from its start
        self._next_seq = seq + 1
        out.append(record)


def read_log(path: str | Path, on_warning: Callable[[str], None] | None = None) -> tuple[list[Record], list[str]]:
    """All records of the last run in a log, and the warnings about skipped lines (for replay and tools)."""
    reader = LogReader(path, on_warning=on_warning)
    records: list[Record] = []
    for item in reader.poll():
        if isinstance(item, NewRun):
            records.clear()
        else:
            records.append(item)
    return records, reader.warnings
