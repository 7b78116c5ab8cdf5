"""The viewer's real update path, in this process, on an Agg canvas: what attach, update cost and latency drive.

`AggView` builds `viewer.window.RunWindow` (the class `stlar-dl watch` shows) on an Agg figure of the window's
size, fed by a `viewer.follow.Follower`. In a Tk window a file event wakes the GUI loop, which ticks the window
at once (and a canvas timer ticks it every TIMER_MS); here the caller calls `tick()` itself when `wake` is set
or TIMER_MS passed (see `latency.run_timer`). Agg's `draw_idle` draws at once,
so when `tick()` returns the frame is complete. The frame's finish time comes from the canvas's `draw_event`
(matplotlib fires it at the end of a full draw; the window also fires it after a blitted frame), so nothing
in the viewer needs a benchmark hook. A full frame may fire it twice; the last one is the frame's end.

`Tap` sits between the follower and the window and remembers the epoch records each drain hands over, so a
latency can be computed from the record's own `time` (set by the writer just before its write and fsync).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from shared.records import EPOCH


class Tap:
    """A window `Source` that forwards a Follower and keeps the epoch records drained since `take()`."""

    def __init__(self, follower: Any) -> None:
        self.follower = follower
        self._epochs: list[dict] = []

    @property
    def on_warning(self):
        return self.follower.on_warning

    @on_warning.setter
    def on_warning(self, value) -> None:  # the window sets it on its source: it belongs to the follower
        self.follower.on_warning = value

    @property
    def on_change(self):
        return self.follower.on_change

    @on_change.setter
    def on_change(self, value) -> None:  # the Tk window sets it to wake its loop: it belongs to the follower
        self.follower.on_change = value

    @property
    def epoch_blocks(self) -> bool:
        return getattr(self.follower, "epoch_blocks", False)

    @epoch_blocks.setter
    def epoch_blocks(self, value: bool) -> None:  # the window asks for blocks of epochs (a newer Follower)
        if hasattr(self.follower, "epoch_blocks"):
            self.follower.epoch_blocks = value

    def due(self) -> bool:
        return self.follower.due()

    def quiet(self) -> float:
        return self.follower.quiet()

    def drain(self) -> list:
        items = self.follower.drain()
        for item in items:
            if isinstance(item, dict):
                if item.get("type") == EPOCH:
                    self._epochs.append(item)
            elif hasattr(item, "records"):  # a block of epoch records (shared.fastrecords.EpochBlock)
                self._epochs.append(item)  # its dicts are made in `take`, outside the view's timing
        return items

    def take(self) -> list[dict]:
        items, self._epochs = self._epochs, []
        return [r for item in items for r in (item.records() if hasattr(item, "records") else (item,))]


class AggView:
    """`RunWindow` + `Follower` on an Agg canvas. `draws` holds the wall-clock (time.time) end of each frame.

    `start` starts the follower's observer thread (file events, or polling with `poll`); without it the
    caller calls `nudge()` after an append, which is exactly what the observer thread's handler does.
    """

    def __init__(self, run_dir: Path, *, poll: bool = False, start: bool = False) -> None:
        from viewer.follow import Follower
        from viewer.window import RunWindow

        try:
            from viewer.layout import FIGSIZE
        except ImportError:  # a baseline tree from before the window was split (benchmarks --baseline)
            from viewer.window import FIGSIZE

        self.fig = Figure(figsize=FIGSIZE)
        FigureCanvasAgg(self.fig)
        self.draws: list[float] = []  # wall-clock time of each draw_event
        self.cpu_draws: list[float] = []  # this process's CPU time (time.process_time) at each draw_event
        self.fig.canvas.mpl_connect("draw_event", lambda _event: (self.draws.append(time.time()),
                                                                  self.cpu_draws.append(time.process_time())))
        self.follower = Follower(run_dir, poll=poll)
        # What the window's Tk file handler does (see viewer.ticker.Ticker._wake_on_change): a file event wakes the loop.
        self.wake = threading.Event()
        self.follower.on_change = self.wake.set
        if start:
            self.follower.start()
        self.tap = Tap(self.follower)
        self.window = RunWindow(self.fig, run_dir, self.tap, out=None)

    @property
    def n_epochs(self) -> int:
        return self.window.history.n_epochs

    def tick(self) -> None:
        self.window.tick()

    def nudge(self) -> None:
        """What a file event does: tell the follower to read now."""
        self.follower.changed.set()

    def close(self) -> None:
        self.follower.close()
