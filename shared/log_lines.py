"""How the log reader turns complete lines into records: which run each belongs to, in what order, and what
is skipped with a warning. `LogReader` (shared.logreader) owns the file (offsets, torn tails, truncation,
replacement) and hands its complete lines here.

Two paths give the same records: a piece of plain lines (nothing but the next epoch and progress records of
the current run, laid out as our writer lays them out) is decoded in one msgspec call (`_piece`); anything
else goes line by line (`_lines`), the common lines still parsed in C (`fast_parse`) and the rest through
`_line`, which keeps unknown types and extra fields, names what is wrong, follows runs and restarts and files
every seq in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from shared.fastrecords import EpochBlock, fast_parse, is_epoch, is_progress, parse_lines, to_record
from shared.records import PROGRESS, START, Record, RecordError, decode
from shared.seq_ledger import SeqLedger

MAX_WARNINGS = 50  # after this many, malformed lines are only counted
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark some editors put before the first line: not part of it
_SEQ, _RUN_ID = attrgetter("seq"), attrgetter("run_id")


@dataclass(frozen=True)
class NewRun:
    """Marker in the reader's output: the records before it belong to an earlier run; start afresh."""

    run_id: str
    reason: str


class LineRules:
    """The line side of `LogReader` (its base class): the state it keeps is the reader's, set up there."""

    path: Path
    max_line_bytes: int
    latest_progress: bool
    epoch_blocks: bool
    warnings: list[str]
    skipped_lines: int
    run_id: str | None
    _on_warning: Callable[[str], None] | None
    _warned: int
    _ledger: SeqLedger
    _reread: SeqLedger | None
    _restart_reason: str | None
    _line_no: int

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
