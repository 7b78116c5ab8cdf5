"""What makes the window tick: a canvas timer every TIMER_MS, and on Tk a file event at once.

Both call `tick` on the GUI thread, which owns the figure; the follower's observer thread never touches it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

from shared.logreader import NewRun
from shared.records import Record

TIMER_MS = 25  # drain interval where nothing else wakes the window (replay --speed, non-Tk toolkits)
IDLE_MS = 1000  # where file events wake it (Tk on POSIX), the timer only reads the log in case an event was
# missed (viewer.follow), refreshes the status line when due and acts on Ctrl-C: 40 idle wake-ups a second
# cost ~1 % of a core, one costs ~0.05 %


class Source(Protocol):
    """What the window reads records from: `Follower`, or replay's `ReplaySource`."""

    on_warning: Callable[[str], None] | None

    def due(self) -> bool: ...

    def drain(self) -> list[Record | NewRun]: ...

    def quiet(self) -> float:
        """Seconds since the log last grew, on the viewer's clock (`viewer.growth`)."""
        ...


class Ticker:
    """Calls `tick` on `canvas`'s GUI loop at once when `source` reports a change (Tk on POSIX) and every
    IDLE_MS besides; where no change is reported, every TIMER_MS."""

    def __init__(self, canvas, source, tick: Callable[[], None]) -> None:
        self.canvas = canvas
        self.source = source
        self.tick = tick
        self.timer = None
        self._stop_waking: Callable[[], None] | None = None  # undoes `_wake_on_change`

    def start(self) -> None:
        self._wake_on_change()
        self.timer = self.canvas.new_timer(interval=TIMER_MS if self._stop_waking is None else IDLE_MS)
        self.timer.add_callback(self.tick)
        self.timer.start()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        stop, self._stop_waking = self._stop_waking, None
        if stop is not None:
            stop()

    def _wake_on_change(self) -> None:
        """Tk on POSIX: a file event ticks the window at once instead of at the next timer tick (up to TIMER_MS
        later). The follower's observer thread may not touch Tk, so it writes a byte to a pipe whose read end
        Tk watches on the GUI thread (the self-pipe trick). Elsewhere the timer alone drains the source."""
        widget_of = getattr(self.canvas, "get_tk_widget", None)
        if widget_of is None or os.name != "posix" or not hasattr(self.source, "on_change"):
            return
        import tkinter

        tk = widget_of().tk
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)

        def wake() -> None:  # observer thread
            try:
                os.write(write_fd, b"!")
            except OSError:  # the pipe is full (a wake-up is pending anyway) or closed (the window is gone)
                pass

        def on_readable(_fd: int, _mask: int) -> None:  # GUI thread
            try:
                os.read(read_fd, 4096)
            except OSError:
                pass
            self.tick()

        def stop() -> None:
            self.source.on_change = None
            try:
                tk.deletefilehandler(read_fd)
            except Exception:  # the Tk interpreter is already gone
                pass
            os.close(read_fd)
            os.close(write_fd)

        try:
            tk.createfilehandler(read_fd, tkinter.READABLE, on_readable)
        except Exception:  # a Tk without file handlers: the timer alone will do
            os.close(read_fd)
            os.close(write_fd)
            return
        self.source.on_change = wake
        self._stop_waking = stop
