"""The live compare window: the compare figure, kept current from a RunSet, and a click that highlights a run.

The GUI thread owns the figure. A canvas timer calls `tick()` every TIMER_MS: it polls the RunSet (cheap
when no follower is due) and redraws only when a curve or a table cell changed; the status words are
re-derived every STATUS_SECONDS (a trainer that died changes no file). Clicking a run's curve or its table
row highlights it (bold, others faint); clicking it again, or the panel's empty space, shows all alike.
Works on any figure, so tests build it on an Agg canvas and call `tick()` and `select()`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from matplotlib.figure import Figure

from viewer.compareview import CompareView
from viewer.geometry import DEBUG_GEOMETRY_ENV  # set to 1: rows' screen boxes and clicks are printed
from viewer.runset import RunSet
from viewer.runsummary import UNSETTLED, VAL_LOSS

TIMER_MS = 100  # poll interval; a tick with nothing due costs microseconds
STATUS_SECONDS = 1.0  # status words and durations are re-derived this often


class CompareWindow:
    def __init__(self, fig: Figure, runset: RunSet, *, metric: str = VAL_LOSS, title: str = "stlar-dl compare",
                 clock: Callable[[], float] = time.time) -> None:
        self.fig = fig
        self.runset = runset
        self.view = CompareView(fig, metric, title)
        self.timer = None
        self.interrupted = False
        self.closed = False
        self.on_close: Callable[[], None] | None = None
        self.draws = 0  # canvas redraws asked for (tests and benchmarks count them)
        self._clock = clock
        self._last_status = -float("inf")
        self._shown: tuple = ()
        self._picked_event: object = None
        self._debug = os.environ.get(DEBUG_GEOMETRY_ENV) == "1"
        self._reported: tuple = ()
        self._reported_epochs = -1
        fig.canvas.mpl_connect("pick_event", self._on_pick)
        fig.canvas.mpl_connect("button_press_event", self._on_press)
        fig.canvas.mpl_connect("close_event", lambda _event: self.stop_timers())
        if self._debug:
            fig.canvas.mpl_connect("draw_event", lambda _event: self._report_geometry())
        self.refresh()

    @property
    def highlighted(self) -> str | None:
        return self.view.panel.highlighted

    # ---- updates ------------------------------------------------------------------------------------------
    def start_timer(self) -> None:
        self.timer = self.fig.canvas.new_timer(interval=TIMER_MS)
        self.timer.add_callback(self._on_timer)
        self.timer.start()

    def _on_timer(self) -> None:
        # Returns None on purpose: matplotlib's timer drops a callback that returns 0 or False, and `tick`
        # returns False whenever nothing needed a redraw.
        self.tick()

    def tick(self) -> bool:
        """Fold in what the runs appended; redraw if anything shown changed. True if it redrew."""
        if self.interrupted and self.on_close is not None:
            self.on_close()
            return False
        if self.runset.poll():
            return self.refresh()
        if self._clock() - self._last_status >= STATUS_SECONDS and self._unsettled():
            return self.refresh(curves=False)
        return False

    def _unsettled(self) -> bool:
        # Only a run that may still change needs its words re-derived as time passes (stalled, crashed).
        return any(s.status in UNSETTLED for s in self.view.summaries.values())

    def refresh(self, curves: bool = True) -> bool:
        """Update the figure from the runs as they are now; ask for a redraw only if something changed."""
        now = self._clock()
        self._last_status = now
        self.view.update(self.runset.runs, now, curves=curves)
        shown = (tuple(text.get_text() for _, text in self.view.rows), self.highlighted,
                 tuple((run.key, run.history.n_epochs) for run in self.runset.runs))
        if shown == self._shown:
            return False
        self._shown = shown
        self.draws += 1
        self.fig.canvas.draw_idle()
        return True

    def select(self, key: str | None) -> None:
        """Highlight run `key`; selecting the highlighted run again (or None) shows all runs alike."""
        self.view.panel.highlight(None if key == self.highlighted else key)
        if self._debug:
            print(f"[{DEBUG_GEOMETRY_ENV}] highlighted={self.highlighted}", file=sys.stderr, flush=True)
        self.refresh(curves=False)

    # ---- clicks -------------------------------------------------------------------------------------------
    def _toolbar_busy(self) -> bool:
        toolbar = getattr(self.fig.canvas, "toolbar", None)
        return bool(getattr(toolbar, "mode", ""))  # zooming or panning: a click is not a selection

    def _on_pick(self, event) -> None:
        key = self.view.key_at(event.artist)
        # One click can pick several artists (two runs' curves cross there): the first one wins.
        if key is None or event.mouseevent is self._picked_event or self._toolbar_busy():
            return
        self._picked_event = event.mouseevent
        self.select(key)

    def _on_press(self, event) -> None:
        # Figure.pick runs before this handler (it was connected first): a click that picked nothing and
        # landed in the panel clears the highlight.
        if event is self._picked_event or self._toolbar_busy() or self.highlighted is None:
            return
        if event.inaxes is self.view.panel.ax:
            self.select(None)

    # ---- closing ------------------------------------------------------------------------------------------
    def stop_timers(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        self.closed = True

    # ---- GUI tests ----------------------------------------------------------------------------------------
    def row_screen_box(self, key: str) -> tuple[int, int, int, int] | None:
        """Run `key`'s table row as (x, y, width, height) in screen pixels (top-left origin); None if unknown."""
        widget_of = getattr(self.fig.canvas, "get_tk_widget", None)
        if widget_of is None or key not in self.view.row_keys:
            return None
        widget = widget_of()
        if not widget.winfo_ismapped():
            return None
        _, text = self.view.rows[self.view.row_keys.index(key)]
        box = text.get_window_extent()
        top = self.fig.bbox.height - box.y1
        return (int(widget.winfo_rootx() + box.x0), int(widget.winfo_rooty() + top), int(box.width),
                int(box.height))

    def _report_geometry(self) -> None:
        epochs = sum(run.history.n_epochs for run in self.runset.runs)
        if epochs != self._reported_epochs:  # what a frame shows: a GUI test sees live runs grow on screen
            self._reported_epochs = epochs
            print(f"[{DEBUG_GEOMETRY_ENV}] epochs={epochs}", file=sys.stderr, flush=True)
        rows = tuple((key, self.row_screen_box(key)) for key in self.view.row_keys)
        if rows != self._reported and all(box is not None for _, box in rows):
            self._reported = rows
            for key, (x, y, w, h) in rows:
                print(f"[{DEBUG_GEOMETRY_ENV}] row={key} x={x} y={y} w={w} h={h}", file=sys.stderr, flush=True)


def show_compare(window: CompareWindow) -> None:
    """Run the GUI loop until the window is closed (or Ctrl-C in the terminal, acted on at the next tick):
    the same loop as `watch`'s window (viewer.gui.show)."""
    import matplotlib.pyplot as plt

    from viewer.gui import show

    show(window)  # type: ignore[arg-type] - the same duck type: on_close, interrupted, start/stop timers
    plt.close("all")
