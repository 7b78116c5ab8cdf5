"""`stlar-dl replay RUN_DIR`: a finished, stopped or crashed run from its log alone.

In a window (optionally played epoch by epoch with `--speed`), as a PNG (`--png`, no window), or in the
terminal (`--no-window`: the trainer's epoch lines and its final diagnostic report). A log without an end
record gets the verdict of `viewer.status` from the log's modification time and the pid check: crashed once
the trainer is gone and the log has been quiet for the stall time, live while it still grows. Played with
`--speed`, the verdict is said only when the playback reaches the end of the log.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from shared.errors import InputError
from shared.history import History, history_of
from shared.logreader import NewRun, read_log
from shared.records import EPOCH, Record
from shared.rundir import ARCHIVE_NAME, LOG_NAME, RunDir
from shared.safetext import printable
from viewer.growth import file_quiet
from viewer.paths import png_arg, run_dir_arg
from viewer.read_ahead import ReadAhead

if TYPE_CHECKING:
    from shared.figure_data import Columns
from viewer.status import LIVE, Status, status_of, trainer_alive


MIN_SPEED = 1e-3  # epochs per second; slower is a typo (1e-12 would wait longer than any timer can)


def load_run(run_dir: Path, epoch_blocks: bool = False) -> tuple[list[Record], list[str]]:
    """The records of the last run in RUN_DIR's log and the warnings about skipped lines; InputError if none.

    `epoch_blocks`: runs of epoch records come as `EpochBlock`s (for a History only: see `load_history`)."""
    run_dir = run_dir_arg(run_dir, must_exist=True)
    log = RunDir(run_dir).log
    if not log.is_file():
        raise InputError(f"RUN_DIR {run_dir}: no {LOG_NAME} here; pass a folder a training run wrote "
                         f"(earlier runs are kept in {run_dir / ARCHIVE_NAME}/<start time>_<run id>/)")
    # A finished file: a last line without newline counts. Only the last of consecutive progress records:
    # a view shows the latest one, and a week-long log holds 300,000.
    records, warnings = read_log(log, final=True, latest_progress=True, epoch_blocks=epoch_blocks)
    if not records:
        detail = f"; {warnings[0]}" if warnings else ""
        raise InputError(f"{log}: no valid records to replay (the log is empty or every line is malformed{detail})")
    return records, warnings


def load_history(run_dir: Path) -> History:
    """The History of the last run in RUN_DIR's log (what a PNG shows); InputError if it has no records."""
    records, _warnings = load_run(run_dir, epoch_blocks=True)
    return history_of(records)


def load_plot(run_dir: Path) -> tuple[History, Columns]:
    """The History of the last run in RUN_DIR's log and its columns as the figure plots them (numpy, no
    matplotlib: what replay --png's read-ahead child works out while the parent imports matplotlib)."""
    from shared.figure_data import Columns

    history = load_history(run_dir)
    columns = Columns(history, tuple(history.metrics))  # every metric it has: the figure picks its own
    columns.extend()
    return history, columns


class ReplaySource:
    """Releases a finished log's records to the window: all at once, or `speed` epochs per second.

    With `speed`, the records before the first epoch (the start) come at once and epoch k, with the
    records that follow it up to the next epoch (progress, stop request, end), comes k / speed s later.
    """

    def __init__(self, records: list[Record], warnings: list[str] = (), speed: float | None = None,
                 clock: Callable[[], float] = time.monotonic, quiet: float = 0.0) -> None:
        self.on_warning: Callable[[str], None] | None = None
        # The run's last best epoch: only its "New best" line says "Saved to" (best.pt holds only that one).
        self.final_best = next((r["epoch"] for r in reversed(records) if r["type"] == EPOCH and r.get("best")), None)
        self._quiet_at_load = quiet  # how long the log had been quiet when it was read (viewer.growth)
        self._loaded_at = clock()
        self._warnings = list(warnings)
        self._chunks = _chunks(records) if speed else [list(records)]
        self._speed = speed
        self._clock = clock
        self._t0: float | None = None
        self._next = 0

    @property
    def done(self) -> bool:
        return self._next >= len(self._chunks)

    @property
    def playing(self) -> bool:
        """True while a `speed` playback has not reached the end of the log (no verdict on the run yet)."""
        return bool(self._speed) and not self.done

    def quiet(self) -> float:
        """How long the log has been quiet: as it was when read, plus the time since (it is not read again)."""
        return self._quiet_at_load + max(0.0, self._clock() - self._loaded_at)

    def _release_time(self, i: int) -> float:
        assert self._t0 is not None
        return self._t0 if not self._speed else self._t0 + i / self._speed

    def due(self) -> bool:
        if self.done:
            return False
        if self._t0 is None:
            return True
        return self._clock() >= self._release_time(self._next)

    def wait(self) -> None:
        """Block until the next chunk is due (for the terminal)."""
        if self._t0 is not None and not self.done:
            threading.Event().wait(max(0.0, self._release_time(self._next) - self._clock()))

    def drain(self) -> list[Record | NewRun]:
        if self._t0 is None:
            self._t0 = self._clock()
            for warning in self._warnings:
                if self.on_warning is not None:
                    self.on_warning(warning)
        out: list[Record | NewRun] = []
        while not self.done and self._clock() >= self._release_time(self._next):
            out += self._chunks[self._next]
            self._next += 1
        return out


def _chunks(records: list[Record]) -> list[list[Record]]:
    """[the records before the first epoch], then per epoch its record and what follows it up to the next."""
    chunks: list[list[Record]] = [[]]
    for record in records:
        if record["type"] == EPOCH:
            chunks.append([])
        chunks[-1].append(record)
    return chunks


def replay_status(history: History, quiet: float) -> Status:
    """The verdict on a replayed run (the same rules as every view: `viewer.status`)."""
    return status_of(history, quiet=quiet, trainer=trainer_alive(history), live=False)


def run_title(history: History, run_dir: Path, quiet: float) -> str:
    from shared.figure_png import figure_title

    title = figure_title(history, str(run_dir))
    if history.end is None:
        title += f" | {replay_status(history, quiet).text}"
    return title


def replay(run_dir: Path, *, png: Path | None = None, no_window: bool = False, speed: float | None = None,
           out: TextIO = sys.stdout, err: TextIO = sys.stderr, wall: Callable[[], float] = time.time) -> int:
    """Show the last run in RUN_DIR's log; return the exit code."""
    if speed is not None and not speed > 0:
        raise InputError(f"--speed {speed}: must be a positive number of epochs per second, such as 2")
    if speed is not None and png is not None:
        raise InputError(f"--speed {speed:g} with --png: a PNG shows the whole run at once; drop --speed (or "
                         "--png to play the run in a window)")
    if speed is not None and speed < MIN_SPEED:
        raise InputError(f"--speed {speed:g}: slower than {MIN_SPEED:g} epochs per second (one epoch every "
                         f"{1 / MIN_SPEED:g} s); pass a speed such as 2, or leave --speed out to show the run at once")
    run_dir = run_dir_arg(run_dir, must_exist=True)
    png = png_arg(png) if png is not None else None
    if png is not None and not no_window:
        # Only the figure: the log is read in a child process while this one imports matplotlib.
        ahead = ReadAhead(functools.partial(load_plot, run_dir))
        from shared.figure_png import save_png

        history, columns = ahead.result()
        records = warnings = []
    else:
        records, warnings = load_run(run_dir)
        history, columns = history_of(records), None
    quiet = file_quiet(RunDir(run_dir).log, wall)
    if png is not None:
        from shared.figure_png import save_png

        try:
            save_png(history, png, run_title(history, run_dir, quiet), columns=columns)
        except OSError as exc:
            raise InputError(f"--png {png}: cannot write it ({exc.strerror or exc}); free disk space or pick "
                             "another file") from None
        print(printable(f"Wrote {png} ({history.n_epochs} epochs; {replay_status(history, quiet).text})"),
              file=out, flush=True)
        if not no_window:
            return 0
    if not no_window:
        from viewer.gui import NoDisplay, open_figure, show
        from viewer.window import RunWindow

        try:
            fig = open_figure(f"stlar-dl replay — {run_dir}")
        except NoDisplay as exc:
            print(f"No window: {exc}; printing the run instead (--no-window)", file=err, flush=True)
        else:
            show(RunWindow(fig, run_dir, ReplaySource(records, warnings, speed, quiet=quiet), live=False, out=out))
            return 0
    return print_run(run_dir, records, warnings, out, speed=speed, quiet=quiet)


def print_run(run_dir: Path, records: list[Record], warnings: list[str], out: TextIO, *,
              speed: float | None = None, quiet: float = 0.0) -> int:
    """The run in the trainer's console format, ending with its report (or a crashed run's).

    `quiet`: how long the log had been quiet when it was read (`viewer.growth.file_quiet`)."""
    from viewer.terminal import ConsolePrinter

    source = ReplaySource(records, warnings, speed, quiet=quiet)
    printer = ConsolePrinter(out, run_dir, final_best=source.final_best)
    source.on_warning = printer.warning
    while not source.done:
        source.wait()
        printer.feed(source.drain())
    if printer.history.end is None:
        status = replay_status(printer.history, source.quiet())
        printer.line(f"Status: {status.text}")
        if status.kind != LIVE:
            printer.report(None)
    return 0
