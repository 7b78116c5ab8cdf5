"""Getting a run directory ready before the first byte of a new run is written to it.

In order: (1) create it if needed and prove it is writable, (2) take the run-dir lock so a second trainer
is refused, (3) remove the temporary files of a killed run's atomic writes, (4) move an earlier run's
outputs to `archive/<start time>_<run_id>/`, (5) remove a stale `STOP`. The lock comes before the archive
so that two trainers started together cannot both move files. Nothing of an earlier run is overwritten or
deleted, except a stale stop file and dead temporary files, which are printed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import filelock

from shared.errors import RunDirError
from shared.logreader import BOM
from shared.records import START, RecordError, decode
from shared.rundir import LOG_NAME, RUN_OUTPUTS, RunDir
from shared.stopfile import clear_stop, read_stop

VIEWER_LOG_NAME = "viewer.log"  # stdout/stderr of a viewer started with --gui
ARCHIVED = (*RUN_OUTPUTS, VIEWER_LOG_NAME)
_FIRST_LINE_LIMIT = 1 << 20  # a start record is far smaller; a bigger first line is not one


@dataclass
class PreparedRunDir:
    """A locked run directory. `notes` are lines for the user (archive, stale stop); `release()` unlocks."""

    run_dir: RunDir
    lock: filelock.BaseFileLock
    archived_to: Path | None = None
    stale_stop: dict | None = None
    notes: list[str] = field(default_factory=list)

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self.lock.release()

    def __enter__(self) -> PreparedRunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def prepare_run_dir(path: str | Path, display: str | None = None, resume: bool = False) -> PreparedRunDir:
    """Create, check, lock, archive and clear `path` for a new run; raise RunDirError with the fix.

    `resume`: the run in `path` goes on, so nothing is archived (the rest is the same).

    `display` is the path as the user typed it, used in messages. The lock is held until `release()`; it is
    an OS lock (filelock: fcntl on POSIX, msvcrt on Windows), so it is freed when the process dies.
    """
    path = Path(path)
    shown = display or str(path)
    check_writable(path, shown)
    run_dir = RunDir(path)
    lock = filelock.FileLock(str(run_dir.lock), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise RunDirError(
            f"--out-dir {shown}: another trainer is running in this run dir (it holds {run_dir.lock.name}); "
            f"wait for it to finish, stop it (stlar-dl stop {shown}), or choose another --out-dir"
        ) from None
    except OSError as exc:
        raise RunDirError(f"--out-dir {shown}: cannot create the lock file ({exc.strerror or exc})") from None
    prepared = PreparedRunDir(run_dir=run_dir, lock=lock)
    try:
        stale = remove_stale_temp_files(run_dir)
        if stale:
            prepared.notes.append(f"Removed {len(stale)} temporary file(s) a killed run left in {shown} "
                                  f"({', '.join(p.name for p in stale[:3])}{' ...' if len(stale) > 3 else ''})")
        prepared.archived_to = None if resume else archive_previous_run(run_dir)
        if prepared.archived_to is not None:
            rel = Path(shown) / prepared.archived_to.relative_to(path)
            prepared.notes.append(f"Archived the previous run's outputs to {rel}")
        if run_dir.stop.is_dir():
            # Every poll would read it as a stop, and it is not ours to delete.
            raise RunDirError(f"--out-dir {shown}: {Path(shown) / run_dir.stop.name} is a folder, not a stop file; "
                              "remove or rename it, then start again")
        if run_dir.stop.exists():
            prepared.stale_stop = read_stop(run_dir.stop) or {}
            try:
                clear_stop(run_dir.stop)
            except OSError as exc:
                raise RunDirError(f"--out-dir {shown}: cannot remove the stale stop file "
                                  f"{Path(shown) / run_dir.stop.name} ({exc.strerror or exc}); remove it, "
                                  "then start again") from None
            by = prepared.stale_stop.get("by")
            prepared.notes.append(
                f"Removed a stale stop file {Path(shown) / run_dir.stop.name} left by an earlier run"
                + (f" (requested by {by})" if by else "")
            )
    except BaseException:
        prepared.release()
        raise
    return prepared


def remove_stale_temp_files(run_dir: RunDir) -> list[Path]:
    """Remove what atomic writes of a killed run left: `.best.x1y2.tmp.pt`, `.training_metrics.x1y2.tmp.json` ...

    A trainer killed while saving leaves its temporary file (as large as the checkpoint) and nothing else
    would ever remove it. Call only with the run-dir lock held: then no trainer is writing one of them.
    """
    removed = []
    for name in RUN_OUTPUTS:
        if name == LOG_NAME:  # appended in place, never written through a temporary file
            continue
        stem, suffix = Path(name).stem, Path(name).suffix  # the pattern of shared.atomic.atomic_path
        for path in sorted(run_dir.path.glob(f".{stem}.*.tmp{suffix}")):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def check_writable(path: Path, shown: str) -> None:
    """Create `path` (and parents) if missing and prove a file can be created in it."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"--out-dir {shown}: is a file, not a folder; choose a folder for the run's outputs")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".stlar-dl-write-test."):
            pass
    except OSError as exc:
        raise RunDirError(
            f"--out-dir {shown}: cannot write there ({exc.strerror or exc}); choose a folder you can write to"
        ) from None


def archive_previous_run(run_dir: RunDir) -> Path | None:
    """Move an earlier run's outputs into `archive/<start time>_<run_id>/`; return that folder or None.

    The name comes from the old log's start record; without one (no log, or a log that does not start with
    a start record) it falls back to the newest output's modification time and `unknown`. A name already
    taken gets a `-2`, `-3` ... suffix, so no archive is ever overwritten.
    """
    present = [run_dir.path / name for name in ARCHIVED if (run_dir.path / name).exists()]
    if not any(p.name in RUN_OUTPUTS for p in present):
        return None
    started, run_id = _start_of(run_dir.log)
    stamp = _stamp(started) if started is not None else None
    if stamp is None:  # no start record, or a time no calendar holds (1e20 in a corrupt log)
        stamp = _stamp(max(p.stat().st_mtime for p in present)) or "unknown-time"
    base = f"{stamp}_{run_id or 'unknown'}"
    dest = run_dir.archive / base
    n = 1
    while dest.exists():
        n += 1
        dest = run_dir.archive / f"{base}-{n}"
    try:
        dest.mkdir(parents=True)
        for p in present:
            os.replace(p, dest / p.name)
    except OSError as exc:
        raise RunDirError(
            f"{run_dir.path}: cannot archive the previous run to {dest} ({exc.strerror or exc}); "
            "move its files away by hand or choose another --out-dir"
        ) from None
    return dest


def _stamp(seconds: float) -> str | None:
    """`20261203-194500` for Unix time `seconds` in local time; None where the calendar ends (or NaN)."""
    try:
        return time.strftime("%Y%m%d-%H%M%S", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):
        return None


def _start_of(log: Path) -> tuple[float | None, str | None]:
    """(time, run_id) of the start record on a log's first line, or (None, None)."""
    if not log.is_file():  # opening a FIFO under the log's name would block until a writer came
        return None, None
    try:
        with open(log, "rb") as fh:
            line = fh.readline(_FIRST_LINE_LIMIT)
    except OSError:
        return None, None
    try:
        record = decode(line.removeprefix(BOM))
    except RecordError:
        return None, None
    if record["type"] != START:
        return None, None
    run_id = "".join(c for c in str(record["run_id"]) if c.isalnum() or c in "-_")[:40] or None
    return float(record["time"]), run_id
