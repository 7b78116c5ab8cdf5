"""Appends records to a run's `training_log.jsonl`: the trainer's only way to speak to the world."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.errors import LogWriteError
from shared.records import START, Record, encode, finite_or_none


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class LogWriter:
    """Writes one record per line with a single `write`, then fsyncs, so a reader never waits on a buffer.

    Contract: records of one run get `seq` 0, 1, 2 ... with no gap; a record is either wholly on disk or not
    at all. If a write fails part-way (disk full), the file is cut back to its last complete line before
    LogWriteError is raised, so the next record never lands after a torn one. Assumes it is the log's only
    writer (the run-dir lock guarantees that).

    A log deleted, replaced or truncated under it (`rm`, a rotation by rename or by copy-truncate) is noticed
    at the next write, and again right after each write (the name no longer leads to our file, or the file
    is shorter than what we wrote): the log is started again with a copy of the run's start record (the one
    this writer wrote, or `start` as the caller set it: a resumed run's) that carries `restarted`
    (`restarted_start`), then the record is written (again, if it went to the deleted
    file), and `on_restart` gets one line saying so. No record is lost from the file under the log's name.
    """

    def __init__(
        self,
        path: str | Path,
        run_id: str | None = None,
        clock: Callable[[], float] = time.time,
        fsync: bool = True,
        seq: int = 0,
    ) -> None:
        self.path = Path(path)
        self.run_id = run_id or new_run_id()
        self._clock = clock
        self._fsync = fsync
        self._seq = seq  # a resumed run goes on from its log's next seq
        self.start: Record | None = None  # the run's start record, copied into a restarted log
        self.restarts = 0
        self.on_restart: Callable[[str], None] | None = None  # told once per restart (the trainer's console)
        self._fd: int | None = self._open()
        self._offset = os.lseek(self._fd, 0, os.SEEK_END)  # where our last complete line ends

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LogWriteError(f"{self.path}: cannot open the training log for writing ({exc.strerror})") from exc

    @property
    def seq(self) -> int:
        """The seq the next record will get."""
        return self._seq

    def write(self, rtype: str, **fields: Any) -> Record:
        """Append a record of type `rtype` with `fields`; return it as written (non-finite numbers -> None)."""
        if self._fd is None:
            raise LogWriteError(f"{self.path}: the training log is already closed")
        record: Record = finite_or_none(
            {"type": rtype, "run_id": self.run_id, "seq": self._seq, "time": self._clock(), **fields}
        )
        data = encode(record)
        why = self._lost()
        if why is not None:
            self._restart(why)
        self._append(data)
        why = self._lost()  # deleted or replaced while we wrote: this record went with the old file
        if why is not None:
            self._restart(why)
            self._append(data)
        if rtype == START and self.start is None:
            self.start = record
        self._seq += 1
        return record

    def _append(self, data: bytes) -> None:
        assert self._fd is not None
        fd = self._fd
        before = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                # Regular files take the whole buffer in one write unless the disk fills up.
                written = os.write(fd, view)
                view = view[written:]
            if self._fsync:
                os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, before)
            except OSError:
                pass
            self._offset = before
            raise LogWriteError(f"{self.path}: cannot append to the training log ({exc.strerror})") from exc
        self._offset = before + len(data)

    def _lost(self) -> str | None:
        """Why the file under the log's name is no longer all we wrote, or None (also when we cannot tell)."""
        assert self._fd is not None
        try:
            named = os.stat(self.path)
            own = os.fstat(self._fd)
        except FileNotFoundError:
            return "was deleted"
        except OSError:
            return None  # a network mount's hiccup: write on, look again next time
        if (named.st_dev, named.st_ino) != (own.st_dev, own.st_ino):
            return "was replaced by another file"
        if own.st_size < self._offset:
            return "was truncated"
        return None

    def _restart(self, why: str) -> None:
        """Start the log again under its name: reopen it if it is another file now, copy the start record."""
        assert self._fd is not None
        if why != "was truncated":
            old, self._fd = self._fd, None
            os.close(old)
            self._fd = self._open()
        self._offset = os.lseek(self._fd, 0, os.SEEK_END)
        self.restarts += 1
        if self.start is not None:
            self._append(encode(restarted_start(self.start, why, self._seq, self._clock())))
        if self.on_restart is not None:
            self.on_restart(f"{self.path} {why} while the run was writing it: started it again with a copy of the "
                            f"run's start record; records before seq {self._seq} are not in the new file")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def restarted_start(start: Record, why: str, next_seq: int, now: float) -> Record:
    """The copy of a run's start record that begins a restarted log: the same run_id and seq, plus
    `restarted` = {reason, seq of the record that follows, time}.

    `restarted` comes right after `type`, so the new file's first bytes differ from the old one's: a reader
    sees another file even when the new log grew back past the offset it had read to.
    """
    copy: Record = {"type": start["type"], "restarted": {"reason": f"the log {why}", "seq": next_seq, "time": now}}
    copy.update((k, v) for k, v in start.items() if k != "type")
    return copy
