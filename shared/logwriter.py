"""Appends records to a run's `training_log.jsonl`: the trainer's only way to speak to the world."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.errors import LogWriteError
from shared.records import Record, encode, finite_or_none


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class LogWriter:
    """Writes one record per line with a single `write`, then fsyncs, so a reader never waits on a buffer.

    Contract: records of one run get `seq` 0, 1, 2 ... with no gap; a record is either wholly on disk or not
    at all. If a write fails part-way (disk full), the file is cut back to its last complete line before
    LogWriteError is raised, so the next record never lands after a torn one. Assumes it is the log's only
    writer (the run-dir lock guarantees that).
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
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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
            raise LogWriteError(f"{self.path}: cannot append to the training log ({exc.strerror})") from exc
        self._seq += 1
        return record

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
