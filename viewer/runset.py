"""The runs a compare shows, kept current: each unfinished run followed like `watch` follows one, new runs
joining as they appear under the given folders.

One `Follower` per unfinished run (the follower `watch` uses: file events as hints, a fallback poll), closed
once the run's end record is read: a finished run's log never grows again. A rescan every RESCAN_SECONDS
finds runs that started since (a new folder, or a new run in a finished run's folder). When a trainer
archives a run to start another in the same folder, the archived run keeps its curves and colour: the rescan
finds it under archive/ by its run id instead of loading it again.

Threads: followers' observer threads only set events (and `wake`, which the consumer waits on); everything
else runs on the consumer's thread. Not thread-safe otherwise.
"""

from __future__ import annotations

import math
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shared.history import History
from shared.logends import read_ends
from shared.logreader import NewRun, read_log
from shared.records import Record
from shared.rundir import LOG_NAME
from viewer.discover import find_runs, is_archived
from viewer.growth import file_quiet
from viewer.runsummary import RunSummary, summarize

if TYPE_CHECKING:
    from viewer.follow import Follower

RESCAN_SECONDS = 2.0  # how soon a run that starts under a compared folder joins (a walk of the folders)


@dataclass(eq=False)
class Run:
    """One run in the compare. `path` is None while an archived run's new folder is not found yet."""

    path: Path | None
    history: History = field(default_factory=History)
    follower: Follower | None = None
    archived: bool = False
    index: int = 0  # order of arrival: the run's colour, stable while others join
    log_ident: tuple[int, int] | None = None  # (device, inode) of the log a finished run was read from

    @property
    def key(self) -> str:
        return f"run{self.index}"

    def summary(self, now: float) -> RunSummary:
        """The run's row at Unix time `now` (its whole history is read: best values are exact). The log's quiet
        time is the follower's (timed on this viewer's clock), or its modification time's age."""
        path = self.path if self.path is not None else Path("(archived: folder not found yet)")
        if self.follower is not None:
            quiet = self.follower.quiet()
        else:
            quiet = file_quiet(path / LOG_NAME, lambda: now) if self.path is not None else math.inf
        return summarize(path, self.history, quiet, whole=True, archived=self.archived)


def _follower(path: Path, poll: bool) -> Follower:
    from viewer.follow import Follower  # watchdog loads only where runs are followed (not for a PNG)

    return Follower(path, poll=poll)


def _ident(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _peek_run_id(log: Path) -> str | None:
    """The run id of the run in `log`, from its ends: tells an archived run already shown by its id."""
    try:
        if not stat.S_ISREG(os.stat(log).st_mode):
            return None  # a FIFO under the log's name would block the open
        return read_ends(log, 1).history().run_id
    except OSError:
        return None


class RunSet:
    """The runs under `roots`. `live` False reads each log once (for a PNG); True follows unfinished runs.

    `poll()` folds in what is due and says whether anything changed; `wait(timeout)` sleeps until a file
    event or a fallback poll is due. Call `close()` (or use `with`) to stop every follower's thread.
    """

    def __init__(
        self,
        roots: Sequence[Path],
        *,
        live: bool = True,
        poll: bool = False,
        rescan_seconds: float = RESCAN_SECONDS,
        on_warning: Callable[[str], None] | None = None,
        follower_factory: Callable[[Path], Follower] | None = None,
        find: Callable[..., list[Path]] = find_runs,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.roots = list(roots)
        self.live = live
        self.rescan_seconds = rescan_seconds
        self.on_warning = on_warning
        self.runs: list[Run] = []
        self.wake = threading.Event()  # set from observer threads on any file event of a followed run
        self._follower_factory = follower_factory or (lambda path: _follower(path, poll))
        self._find = find
        self._clock = clock
        self._by_path: dict[str, Run] = {}
        self._last_scan = -float("inf")
        self._warned: set[str] = set()

    # ---- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> RunSet:
        """Find and read the runs there are now; colours go to them in order of their start."""
        self._rescan()
        self.runs.sort(key=lambda r: (r.history.start is None, (r.history.start or {}).get("time", 0.0)))
        for i, run in enumerate(self.runs):
            run.index = i
        return self

    def close(self) -> None:
        for run in self.runs:
            self._retire(run)

    def __enter__(self) -> RunSet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def following(self) -> int:
        """How many runs are followed (unfinished)."""
        return sum(1 for run in self.runs if run.follower is not None)

    # ---- updates ------------------------------------------------------------------------------------------
    def poll(self) -> bool:
        """Read the followed runs that are due, rescan the folders when due; True if a run changed or joined."""
        changed = False
        for run in list(self.runs):
            follower = run.follower
            if follower is not None and follower.due():
                changed |= self._fold(run, follower.drain())
        if self.live and self._clock() - self._last_scan >= self.rescan_seconds:
            changed |= self._rescan()
        return changed

    def wait(self, timeout: float) -> None:
        """Sleep until a followed run's file changes, or `timeout` seconds (the caller's fallback) pass."""
        self.wake.wait(timeout)
        self.wake.clear()

    def _fold(self, run: Run, items: list[Record | NewRun]) -> bool:
        changed = False
        for item in items:
            if isinstance(item, NewRun):
                # The trainer archived the run to start another here: the old curves stay, as a run whose new
                # folder (archive/<start>_<id>/) the next rescan finds by its run id.
                moved = Run(path=None, history=run.history, archived=True, index=len(self.runs))
                moved.index, run.index = run.index, moved.index  # the old run keeps its colour
                self.runs.append(moved)
                run.history = History()
                changed = True
                continue
            run.history.add(item)
            changed = True
        if run.history.end is not None:
            self._retire(run)
        return changed

    def _retire(self, run: Run) -> None:
        follower, run.follower = run.follower, None
        if follower is not None:
            follower.close()
            if run.path is not None:
                run.log_ident = _ident(run.path / LOG_NAME)

    def _warn(self, text: str) -> None:
        if text not in self._warned and self.on_warning is not None:
            self._warned.add(text)
            self.on_warning(text)

    def _rescan(self) -> bool:
        self._last_scan = self._clock()
        changed = False
        for path in self._find(self.roots, on_warning=self._warn):
            key = os.path.abspath(path)
            known = self._by_path.get(key)
            if known is None:
                changed |= self._arrive(path, key)
            elif known.follower is None and not known.archived and self.live:
                # A finished run's folder: a new log there is a new run (the old one went to archive/).
                ident = _ident(path / LOG_NAME)
                if ident is not None and ident != known.log_ident:
                    known.path = None
                    known.archived = True
                    del self._by_path[key]
                    changed |= self._arrive(path, key)
        return changed

    def _arrive(self, path: Path, key: str) -> bool:
        log = path / LOG_NAME
        if is_archived(path):
            run_id = _peek_run_id(log)
            same = [r for r in self.runs if run_id is not None and r.history.run_id == run_id]
            moved = next((r for r in same if r.path is None), None)
            if moved is not None:
                moved.path = path
                self._by_path[key] = moved
                return False
            if same:
                # The trainer moved this run here a moment ago and the run is still shown at its old folder
                # (the rescan came before its follower saw the new log): a later rescan links it, once that
                # folder's change is seen. Loading it now would show the run twice.
                return False
        run = Run(path=path, archived=is_archived(path), index=len(self.runs))
        self.runs.append(run)
        self._by_path[key] = run
        # Read it once; only a run without its end record gets a follower (and its thread): a finished run's
        # log never grows, and a compare of a hundred finished runs should not start a hundred observers. Nor
        # does an archived one's: the trainer moved it aside to start another run.
        records, warnings = read_log(log, latest_progress=True)  # a history keeps only the latest progress
        run.history.extend(records)
        for text in warnings if not self.live or run.history.end is not None or run.archived else ():
            self._warn(f"{path}: {text}")  # a followed run's follower says them itself
        if not self.live or run.history.end is not None or run.archived:
            run.log_ident = _ident(log)
            return True
        run.history = History()  # the follower reads the log again from its start, records and all
        follower = self._follower_factory(path)
        follower.on_warning = lambda text, where=path: self._warn(f"{where}: {text}")
        follower.start()
        follower.on_change = self.wake.set
        run.follower = follower
        self._fold(run, follower.drain())
        return True
