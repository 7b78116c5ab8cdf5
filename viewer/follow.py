"""Follows a run directory: file events say "look now", a bounded fallback poll catches what they miss.

Threads: watchdog's observer thread runs `_Hint.on_any_event`, which only sets a `threading.Event`. The
consumer (the window's canvas timer or the terminal loop, both on the main thread) calls `drain()`, which
reads the log with `shared.logreader.LogReader`. Nothing else is shared between the threads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from shared.logreader import LogReader, NewRun
from shared.records import Record
from shared.rundir import RunDir
from viewer.growth import LogGrowth

FALLBACK_SECONDS = 1.0  # read the log at least this often even without a file event (events are only a hint)
POLL_OBSERVER_SECONDS = 0.5  # --poll: how often watchdog's polling observer compares directory snapshots

# Our own reads of the log open and close it; inotify reports those, and reacting to them would wake the
# consumer after every read, forever. Only changes are hints.
_IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})


class _Hint(FileSystemEventHandler):
    """Runs on the observer thread: sets the event and calls the follower's `on_change`, touches nothing else."""

    def __init__(self, changed: threading.Event, wake: Callable[[], None]) -> None:
        self._changed = changed
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _IGNORED_EVENTS:
            self._changed.set()
            self._wake()


def _change_events() -> list[type] | None:
    """The event classes worth a wake-up, for observers that filter in the kernel (watchdog >= 4)."""
    try:
        from watchdog.events import (
            DirCreatedEvent, DirDeletedEvent, DirModifiedEvent, DirMovedEvent, FileClosedEvent,
            FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent,
        )
    except ImportError:  # pragma: no cover - watchdog 3 has no FileClosedEvent; the handler filters instead
        return None
    return [DirCreatedEvent, DirDeletedEvent, DirModifiedEvent, DirMovedEvent, FileClosedEvent,
            FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent]


def watch_target(run_dir: Path) -> Path:
    """The directory to watch: the run dir itself, or while it does not exist its nearest existing parent."""
    path = run_dir
    while not path.is_dir():
        if path.parent == path:
            return path
        path = path.parent
    return path


class Follower:
    """New records of `RUN_DIR/training_log.jsonl`, whenever they come, at most `fallback` seconds late.

    Contract: `drain()` returns what `LogReader.poll()` returns (each record once, `NewRun` before a new run's
    records). `due()` is true when a file event arrived or `fallback` seconds passed since the last drain;
    `wait(timeout)` blocks until then. Both are cheap when nothing changed (an Event check and a clock read).
    Handles a run dir that does not exist yet (the nearest existing parent is watched until it appears), a
    run dir deleted and recreated (the watch moves to the new directory), and a log replaced by a new run
    (the reader yields `NewRun`). Where file events are unavailable (inotify limits, some mounts) it keeps
    working on the fallback poll alone and says so once through `on_warning`.
    Not thread-safe: one consumer thread calls `drain`, `due`, `wait`, `close`.
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        poll: bool = False,
        fallback: float = FALLBACK_SECONDS,
        on_warning: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        observer_factory: Callable[[], BaseObserver] | None = None,
    ) -> None:
        self.run_dir = RunDir(run_dir)  # as given, for messages
        self._abs_dir = Path(run_dir).absolute()
        self.poll_mode = poll
        self.fallback = fallback
        self.changed = threading.Event()
        self.on_warning = on_warning  # may be set later, before the first drain (the printer is made after us)
        # Called on the observer thread right after a file event, so a GUI loop can wake at once instead of at
        # its next timer tick. Must be thread-safe and quick (the window writes one byte to a pipe).
        self.on_change: Callable[[], None] | None = None
        self.reader = LogReader(self.run_dir.log, on_warning=self._warn, latest_progress=True)
        self.growth = LogGrowth(clock=clock, wall=wall)  # when the log last grew: the run's heartbeat (viewer.status)
        self._clock = clock
        self._observer_factory = observer_factory or (
            (lambda: PollingObserver(timeout=POLL_OBSERVER_SECONDS)) if poll else Observer
        )
        self._observer: BaseObserver | None = None
        self._watch = None
        self._watched: tuple[Path, int, int] | None = None  # (dir, st_dev, st_ino) of the scheduled watch
        self._events_failed = False
        self._last_drain = -float("inf")  # the first due() is true: read what is already there

    @property
    def epoch_blocks(self) -> bool:
        """True: `drain()` yields runs of epoch records as `EpochBlock`s (see `LogReader`); for a consumer that
        folds them into a History (the window). Off by default: other consumers get every record as a dict."""
        return self.reader.epoch_blocks

    @epoch_blocks.setter
    def epoch_blocks(self, value: bool) -> None:
        self.reader.epoch_blocks = value

    @property
    def watched_dir(self) -> Path | None:
        """The directory the file events come from now (None before start or without file events)."""
        return self._watched[0] if self._watched and self._watch is not None else None

    def start(self) -> Follower:
        """Start the observer thread and watch the run dir (or its nearest existing parent)."""
        if self._observer is None:
            self._observer = self._observer_factory()
            self._observer.start()
            self._retarget()
        return self

    def close(self) -> None:
        """Stop the observer and join its threads. Idempotent."""
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join()
        self._watch = None
        self._watched = None

    def __enter__(self) -> Follower:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def due(self) -> bool:
        return self.changed.is_set() or self._clock() - self._last_drain >= self.fallback

    def wait(self, timeout: float | None = None) -> bool:
        """Block until `due()` or `timeout` seconds passed; return `due()`. Sleeps on the Event: no busy loop."""
        deadline = None if timeout is None else self._clock() + timeout
        while not self.due():
            left = self._last_drain + self.fallback - self._clock()
            if deadline is not None:
                left = min(left, deadline - self._clock())
                if left <= 0:
                    return False
            self.changed.wait(max(left, 0.001))
        return True

    def drain(self) -> list[Record | NewRun]:
        """Read what was appended since the last drain (records and NewRun markers, in order)."""
        # 1. Clear the hint first: an append that lands while we read sets it again, so it is read next time
        #    instead of being lost between our read and a later clear.
        self.changed.clear()
        self._last_drain = self._clock()
        # 2. Move the watch if the run dir appeared, vanished or was recreated (one stat when nothing moved).
        if self._observer is not None:
            self._retarget()
        # 3. Read, and note whether the log grew.
        items = self.reader.poll()
        self.growth.observe(self.reader.stat)
        return items

    def quiet(self) -> float:
        """Seconds since the log last grew, on this viewer's clock (see `viewer.growth`)."""
        return self.growth.quiet()

    def _wake(self) -> None:
        on_change = self.on_change
        if on_change is not None:
            on_change()

    def _warn(self, message: str) -> None:
        if self.on_warning is not None:
            self.on_warning(message)

    def _emitter_alive(self) -> bool:
        # An inotify emitter stops itself when its directory is deleted; a directory recreated at once can
        # get the same inode number back, so the (dev, ino) key alone cannot tell that the watch is dead.
        assert self._observer is not None
        return any(e.watch == self._watch and e.is_alive() for e in self._observer.emitters)

    def _retarget(self) -> None:
        target = watch_target(self._abs_dir)
        try:
            st = os.stat(target)
        except OSError:
            return
        key = (target, st.st_dev, st.st_ino)
        if self._observer is None or (key == self._watched and (self._events_failed or self._emitter_alive())):
            return
        if self._watch is not None:
            try:
                self._observer.unschedule(self._watch)
            except (KeyError, OSError):  # its emitter already stopped itself when the directory went away
                pass
            self._watch = None
        self._watched = key
        try:
            filters = _change_events()
            try:
                self._watch = self._observer.schedule(_Hint(self.changed, self._wake), str(target),
                                                      recursive=False, event_filter=filters)
            except TypeError:  # pragma: no cover - watchdog < 4 has no event_filter
                self._watch = self._observer.schedule(_Hint(self.changed, self._wake), str(target), recursive=False)
        except OSError as exc:
            if not self._events_failed:
                self._warn(f"{target}: no file events ({exc.strerror or exc}); "
                                 f"reading the log every {self.fallback:g} s instead")
            self._events_failed = True
            return
        # The run dir may have appeared, or the log been written, between our stat and the new watch: look once.
        self.changed.set()
