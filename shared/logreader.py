"""Incremental reader of `training_log.jsonl`, for viewers that attach at any time and tail a live run."""

from __future__ import annotations

import contextlib
import gc
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from shared.fastrecords import EpochBlock
from shared.log_lines import BOM, MAX_WARNINGS, LineRules, NewRun
from shared.records import Record, RecordError, decode
from shared.seq_ledger import SeqLedger

__all__ = ["BOM", "MAX_LINE_BYTES", "MAX_WARNINGS", "EpochBlock", "LogReader", "NewRun", "read_log"]

MAX_LINE_BYTES = 1 << 20  # longer lines are skipped unread: no record is anywhere near this
READ_CHUNK = 4 << 20  # bytes read per system call; bounds memory when attaching to a huge log
HEAD_BYTES = 64  # the first bytes of the file identify it (they hold the start record's run_id)
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


class LogReader(LineRules):
    """Reads the records appended to one log file since the last `poll()`.

    Contract:
    - yields each complete, valid line once, in file order, and never raises on file content. `seq` never
      gates normal reading: a record whose seq is a duplicate, a jump (8 -> 999) or a step back is yielded
      like any other, with one warning naming its line (`SeqLedger` says which lines are odd);
    - holds back a trailing line without its newline until the newline arrives (a torn write is "not yet");
      `poll(final=True)` (a finished file, nothing more will come) takes such a last line as a record if it
      is a valid one, and warns about it if not;
    - a UTF-8 byte-order mark before the first line is ignored;
    - reads only the bytes appended since the last poll, so a poll costs the same on a 10-line or a
      100,000-line log; the file is opened per poll and closed again, so a trainer can rename it (archive)
      on every platform;
    - a log that shrinks below what was read (truncated) or is another file now (other device/inode, or its
      first bytes changed) is read again from the start. Records of the same run that were already yielded
      are then skipped, each as many times as it was yielded and no more, up to the first record not yielded
      before (from there on reading is normal again). The same happens at a `start` record of the current
      run that carries `restarted` (the trainer started its log again after it was deleted or truncated):
      that start is not yielded twice, and the gap in seq after it is expected, not warned about;
    - a `start` record with a new run_id yields `NewRun` before it; a second `start` of the current run
      without `restarted` is a new run too (`NewRun`, with one warning naming its line), never merged;
    - a malformed complete line (bad JSON, not UTF-8, wrong field types, over MAX_LINE_BYTES) is skipped with
      one warning naming its line number; at most MAX_WARNINGS warnings, then lines are only counted;
    - assumes one appending writer. A missing file is "not yet" (or "gone for now"): the view keeps what it had.
    """

    def __init__(
        self,
        path: str | Path,
        on_warning: Callable[[str], None] | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
        latest_progress: bool = False,
        epoch_blocks: bool = False,
    ) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        # True: of consecutive progress records, a poll yields only the last one. A viewer shows only the
        # latest progress (History keeps one), and a week-long log holds 300,000 of them (~1 GB as dicts).
        self.latest_progress = latest_progress
        # True (with latest_progress): a run of epoch records read on the fast path is yielded as one
        # `EpochBlock`, and a progress record followed by an epoch is dropped (the epoch supersedes it in a
        # History). For consumers that fold records into a History (the window, replay).
        self.epoch_blocks = epoch_blocks
        self.warnings: list[str] = []
        self.skipped_lines = 0
        self.run_id: str | None = None
        self.exists = False
        self.stat: os.stat_result | None = None  # the log's stat at the last poll (None: not there)
        self._on_warning = on_warning
        self._warned = 0
        self._ledger = SeqLedger()  # the seqs of the current run yielded so far
        self._reread: SeqLedger | None = None  # while re-reading from the start: the seqs skipped so far
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

    def poll(self, final: bool = False) -> list[Record | NewRun]:
        """Return the new records (and NewRun markers) since the last poll; [] when nothing changed.

        `final`: the file is finished (replay of a run that ended or died): a last line without its newline
        is taken as a record if it is valid, instead of waiting for its newline.
        """
        try:
            # Non-blocking: a FIFO under the log's name would otherwise block this open until a writer came.
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except OSError:
            # Not there yet, deleted, or briefly unavailable (network mounts): keep the state, try again.
            self.exists = False
            self.stat = None
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
            self.stat = None
            return []
        fh = os.fdopen(fd, "rb")
        with fh:
            try:
                st = os.fstat(fh.fileno())
                head = fh.read(HEAD_BYTES)
            except OSError:
                return []
            self.exists = True
            self.stat = st
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
            if final and self._pending and self._pos >= size:
                self._last_line(out)
            return out

    def _last_line(self, out: list[Record | NewRun]) -> None:
        # A finished file's last line without its newline: a record if it is a complete, valid one.
        line, self._pending = bytes(self._pending), bytearray()
        self._committed = self._pos
        self._line_no += 1
        if self._line_no == 1:
            line = line.removeprefix(BOM)
        if not line.strip() or len(line) > self.max_line_bytes:
            return
        try:
            decode(line)
        except RecordError as exc:
            self._warn(f"{self.path.name} line {self._line_no}: skipped (the last line, without a newline: {exc})")
            return
        self._line(line, out)

    def _restart(self, reason: str) -> None:
        self._reset_file_state()
        self._head = b""
        self._restart_reason = reason
        self._reread = SeqLedger()

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
        self._pieces(data, out)
        if len(self._pending) > self.max_line_bytes:
            self._pending.clear()
            self._skipping = True


def read_log(
    path: str | Path, on_warning: Callable[[str], None] | None = None, final: bool = False,
    latest_progress: bool = False, epoch_blocks: bool = False,
) -> tuple[list[Record], list[str]]:
    """All records of the last run in a log, and the reader's warnings (for replay and tools).

    `final`: the file is finished (see `LogReader.poll`); replay passes True, a reader of a live run False.
    `latest_progress`: of consecutive progress records keep only the last (see `LogReader`); what a view needs.
    `epoch_blocks` (with latest_progress): runs of epoch records as `EpochBlock`s, for a History only.
    """
    reader = LogReader(path, on_warning=on_warning, latest_progress=latest_progress, epoch_blocks=epoch_blocks)
    records: list[Record] = []
    for item in reader.poll(final=final):
        if isinstance(item, NewRun):
            records.clear()
        else:
            records.append(item)
    return records, reader.warnings
