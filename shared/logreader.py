"""Incremental reader of `training_log.jsonl`, for viewers that attach at any time and tail a live run."""

from __future__ import annotations

import contextlib
import gc
from operator import attrgetter
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.fastrecords import EpochBlock, fast_parse, is_epoch, is_progress, parse_lines, to_record
from shared.records import PROGRESS, START, Record, RecordError, decode
from shared.seq_ledger import SeqLedger

MAX_LINE_BYTES = 1 << 20  # longer lines are skipped unread: no record is anywhere near this
READ_CHUNK = 4 << 20  # bytes read per system call; bounds memory when attaching to a huge log
HEAD_BYTES = 64  # the first bytes of the file identify it (they hold the start record's run_id)
MAX_WARNINGS = 50  # after this many, malformed lines are only counted
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark some editors put before the first line: not part of it
_SEQ, _RUN_ID = attrgetter("seq"), attrgetter("run_id")
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

    def _warn(self, message: str, skipped: bool = True) -> None:
        self.skipped_lines += skipped
        self._warned += 1
        if self._warned > MAX_WARNINGS:
            return
        if self._warned == MAX_WARNINGS:
            message += (f" (further malformed lines of {self.path.name} are skipped without a warning, and "
                        "records out of order are read without one)")
        self.warnings.append(message)
        if self._on_warning is not None:
            self._on_warning(message)

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

    def _pieces(self, data: bytes, out: list[Record | NewRun | EpochBlock]) -> None:
        """Read complete lines `data` in pieces of at most max_line_bytes, each ending with a newline: no
        line in such a piece is over the limit, so where a piece is nothing but the next epoch and progress
        records of the current run, in order, msgspec decodes it in one call (`_piece`); any other piece
        goes line by line (`_lines`), which is what the one-call path does, only slower."""
        pos, size, max_len = 0, len(data), self.max_line_bytes
        while pos < size:
            end = data.rfind(b"\n", pos, pos + max_len + 1) + 1
            if end <= pos:  # the line at pos is over the limit: `_lines` skips it with a warning
                end = data.index(b"\n", pos) + 1
            piece = data[pos:end] if pos or end < size else data
            if not self._piece(piece, out):
                self._lines(piece.split(b"\n")[:-1], out)
            pos = end

    def _piece(self, piece: bytes, out: list[Record | NewRun | EpochBlock]) -> bool:
        """Yield the records of `piece` if it is all the next epoch/progress records of the current run
        (what `_lines` would yield for it); False, yielding nothing, otherwise."""
        if self._reread is not None or self._line_no == 0 or len(piece) > self.max_line_bytes + 1:
            return False
        objs = parse_lines(piece)
        if objs is None:
            return False
        ledger, n, run_id = self._ledger, len(objs), self.run_id
        first = ledger.next_seq
        if (first + n > ledger.limit or list(map(_SEQ, objs)) != list(range(first, first + n))
                or set(map(_RUN_ID, objs)) != {run_id}):
            return False
        ledger.next_seq = first + n
        self._line_no += n
        if self.latest_progress and self.epoch_blocks:
            # Progress records followed by an epoch are superseded by it; of the trailing ones, the last stays.
            last = n
            while last and is_progress(objs[last - 1]):
                last -= 1
            epochs = list(filter(is_epoch, objs[:last])) if last < n or not all(map(is_epoch, objs)) else objs
            if epochs:
                if out and type(out[-1]) is EpochBlock:
                    out[-1].structs += epochs
                else:
                    out.append(EpochBlock(epochs))
            if last < n:
                self._yield_progress(to_record(objs[-1]), out)
            return True
        held = None
        latest, append = self.latest_progress, out.append
        for obj in objs:
            if latest and is_progress(obj):
                held = obj
                continue
            if held is not None:
                self._yield_progress(to_record(held), out)
                held = None
            append(to_record(obj))
        if held is not None:
            self._yield_progress(to_record(held), out)
        return True

    def _lines(self, lines: list[bytes], out: list[Record | NewRun | EpochBlock]) -> None:
        # The hot loop of attaching to a long run: locals, and the common case (the next epoch or progress
        # record of the current run, in order, parsed and checked in C by `fast_parse`) first. Anything
        # unusual (other types, extra fields, odd numbers, bad lines) goes through `_line`.
        parse, record_of, progress, append = fast_parse, to_record, is_progress, out.append
        latest = self.latest_progress
        blocks = latest and self.epoch_blocks
        block: list = []  # epoch_blocks: the Structs of the epochs read since the last other item
        max_len, run_id, ledger = self.max_line_bytes, self.run_id, self._ledger
        expected, limit = ledger.next_seq, ledger.limit  # SeqLedger.fast, inlined (written back below)
        normal = self._reread is None  # while re-reading, every line goes through `_line`
        line_no = self._line_no
        held = None  # latest_progress: the last progress record read, not yet a dict (most are dropped)
        if line_no == 0 and lines:
            lines[0] = lines[0].removeprefix(BOM)
        for line in lines:
            line_no += 1
            # The fast path's types nest two levels at most, so no depth check is needed here.
            if normal and len(line) <= max_len:
                obj = parse(line)
                # The next seq of the current stretch, never yielded before, of the current run.
                if obj is not None and obj.seq == expected < limit and obj.run_id == run_id:
                    expected += 1
                    if latest and progress(obj):
                        held = obj
                        continue
                    if blocks:
                        held = None  # superseded by this epoch
                        block.append(obj)
                        continue
                    if held is not None:
                        self._yield_progress(record_of(held), out)
                        held = None
                    append(record_of(obj))
                    continue
            if block:
                append(EpochBlock(block))
                block = []
            if held is not None:
                self._yield_progress(record_of(held), out)
                held = None
            ledger.next_seq = expected
            self._line_no = line_no
            self._line(line, out)
            run_id, ledger, normal = self.run_id, self._ledger, self._reread is None
            expected, limit = ledger.next_seq, ledger.limit
        if block:
            append(EpochBlock(block))
        if held is not None:
            self._yield_progress(record_of(held), out)
        ledger.next_seq = expected
        self._line_no = line_no

    @staticmethod
    def _yield_progress(record: Record, out: list[Record | NewRun]) -> None:
        # latest_progress: a progress record right after another (from an earlier chunk) replaces it.
        if out and type(out[-1]) is dict and out[-1]["type"] == PROGRESS:
            out[-1] = record
        else:
            out.append(record)

    def _line(self, line: bytes, out: list[Record | NewRun]) -> None:
        where = f"{self.path.name} line {self._line_no}"
        if len(line) > self.max_line_bytes:
            self._warn(f"{where}: skipped (longer than {self.max_line_bytes} bytes)")
            return
        if not line.strip():
            return
        try:
            record = decode(line)
        except RecordError as exc:
            self._warn(f"{where}: skipped ({exc})")
            return
        run_id, seq, is_start = record["run_id"], record["seq"], record["type"] == START
        restarted = is_start and isinstance(record.get("restarted"), dict)
        if self.run_id is None:
            self.run_id = run_id
        elif run_id != self.run_id:
            if not is_start:
                self._warn(f"{where}: skipped (record of run {run_id} without its start record; "
                           f"the current run is {self.run_id})")
                return
            self._new_run(NewRun(run_id, self._restart_reason or "new run in the log"), out)
        else:
            if restarted and self._reread is None:
                # The trainer started its log again and we did not see the file change (it grew back past
                # our offset): what follows is a re-read of the same run.
                self._reread = SeqLedger()
            if self._reread is not None:
                if self._ledger.count(seq) > self._reread.count(seq):
                    self._reread.take(seq)  # yielded before the file was read again: skip it, once
                    if restarted:
                        self._expect_after(record)
                    return
                self._reread = None  # the first record not yielded before: normal reading from here on
            if is_start and not restarted:
                self._warn(f"{where}: a second start record of run {run_id}: read as a new run", skipped=False)
                self._new_run(NewRun(run_id, f"a second start record of run {run_id} at line {self._line_no}"), out)
        odd = self._ledger.take(seq)
        if odd is not None:
            self._warn(f"{where}: {odd} (read anyway; seq should count up by one)", skipped=False)
        if restarted:
            self._expect_after(record)
        out.append(record)

    def _new_run(self, marker: NewRun, out: list[Record | NewRun]) -> None:
        out.append(marker)
        self._restart_reason = None
        self._reread = None
        self.run_id = marker.run_id
        self._ledger = SeqLedger()

    def _expect_after(self, start: Record) -> None:
        # A restarted log's start copy is followed by the run's next record, not by seq 1.
        following = start["restarted"].get("seq")
        if type(following) is int:
            self._ledger.expect(following)


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
