"""The live window: one run's header line, the shared 2x2 figure, a log panel, a status line and a Stop button.

The GUI thread owns the figure. A `Ticker` on the main thread calls `tick()`: it asks the source (a `Follower`,
or replay's records) whether anything is due, drains it, folds the records into a History, updates the
lines in place and lets `Frames` redraw what changed. When nothing changed a tick is an Event check and a
clock read. The class works on any figure, so tests build it on an Agg figure, feed records with `apply`,
call `click()` and read `header`, `status`, `button_label` and `log_lines`.

The parts live beside it: `layout`, `header`, `log_panel`, `status_line`, `stop_button`, `stop_flow` (a stop
request from click to answer), `fold` (records into lines), `limits` (held axis limits), `frames` (the
partial-redraw engine), `ticker` (timer and file-event wake-ups) and `gui` (a real window, the GUI loop).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from matplotlib.figure import Figure

from shared.console import UNICODE
from shared.figure_png import figure_title, save_png
from shared.history import History
from shared.logreader import NewRun
from shared.records import Record
from shared.rundir import RunDir
from shared.stopfile import who
from viewer.events import Events
from viewer.fold import crash_report, fold
from viewer.frames import Frames
from viewer.geometry import DEBUG_GEOMETRY_ENV, report_geometry
from viewer.header import show_header
from viewer.layout import fit, lay_out
from viewer.limits import hold_axes
from viewer.log_panel import LogPanel
from viewer.status import CRASHED, STALLED, Status, pid_alive
from viewer.status_line import StatusLine, next_change, window_status
from viewer.stop_button import CLOSE_LABEL, STOP_LABEL, StopButton
from viewer.stop_flow import StopFlow
from viewer.ticker import Source, Ticker


class RunWindow:
    """One run's window on `fig` (any backend). `live` False is replay: no Stop, the button is Close.

    `out` gets every log-panel line too. `on_close` is called by the Close button (the CLI closes the
    window there); closing the window any other way only ends the viewer: training is never touched.
    """

    def __init__(
        self,
        fig: Figure,
        run_dir: str | Path,
        source: Source,
        *,
        live: bool = True,
        png: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        alive: Callable[[int, float | None], bool] = pid_alive,
        hostname: str | None = None,
        by: str | None = None,
        out: TextIO | None = sys.stdout,
        on_close: Callable[[], None] | None = None,
        debug_geometry: bool | None = None,
    ) -> None:
        self.fig, self.run_dir, self.source, self.live, self.png = fig, RunDir(run_dir), source, live, png
        self._clock, self._alive, self._hostname = clock, alive, hostname
        self.by, self.out, self.on_close = by or who("stlar-dl watch"), out, on_close
        self.debug_geometry = (os.environ.get(DEBUG_GEOMETRY_ENV) == "1") if debug_geometry is None \
            else debug_geometry
        self.history = History()
        self.events = Events(UNICODE, checkpoint=str(self.run_dir.checkpoint))
        self.events.final_best = getattr(source, "final_best", None)  # replay knows the run's last best
        self.closed = False
        self.interrupted = False  # set by a Ctrl-C handler while the GUI loop runs
        self._tick_failed = False
        self._ticker: Ticker | None = None
        self._held: dict[tuple, tuple[float, float]] = {}  # limits held per (axes, "x" or "y")
        source.on_warning = self._reader_warning
        if hasattr(source, "epoch_blocks"):  # a Follower: runs of epochs come as blocks (see Events.split)
            source.epoch_blocks = True

        parts = lay_out(fig, f"stlar-dl {'watch' if live else 'replay'} — {self.run_dir.path}")
        self.caption, self.header, self.panels = parts.caption, parts.header, parts.panels
        self.log = LogPanel(parts.ax_log, out=out)
        self.log_lines, self.log_texts = self.log.lines, self.log.texts  # every line; the rows on the panel
        self.status_text, self.ax_button = parts.status, parts.ax_button
        self._status_line = StatusLine(parts.status, clock)
        self.stop_button = StopButton(parts.ax_button, self.click)
        self.button = self.stop_button.button
        self.stop = StopFlow(self.stop_button, self.run_dir, self.by, live=live, clock=clock, log=self._log,
                             supersede=self.log.supersede, echo=self.log.echo, warning=self.events.warning)
        self.fig.canvas.mpl_connect("close_event", self._on_window_closed)
        p = self.panels
        self._axes = (p.ax_loss, p.ax_impr, p.ax_gap, p.ax_spread)
        # What changes between epochs without moving the axes; everything else is the blitted background.
        dynamic = [p.train_line, p.val_line, p.best_marker, p.best_vline, p.resume_lines, p.resume_text,
                   p.overfit_text, p.impr_line, *p.lr_marks.texts, *p.metrics.lines.values(),
                   p.plateau_text, p.gap_line, p.train_spread_line, p.val_spread_line, p.spread_text, *p.bands]
        self._frames = Frames(fig, self._axes, dynamic, parts.outside, header=self.header, status=self.status_text,
                              log=self.log, ax_button=self.ax_button, caption=self.caption,
                              button_label=lambda: self.button_label)
        self.log.connect(self._log_scrolled)
        # A resized window places its parts anew for its size (the next frame is a full one: see Frames).
        self._parts = parts
        self.fig.canvas.mpl_connect("resize_event", lambda _event: self._refit())
        if self.debug_geometry:
            report_geometry(self)
        self._update_panels()
        self._update_header()
        self._sync_button()
        self._refresh_status()

    @property
    def button_label(self) -> str:
        return self.stop_button.label

    @property
    def status(self) -> Status:
        """The status line's verdict as shown."""
        return self._status_line.status

    @property
    def frames(self) -> int:
        """Frames drawn so far."""
        return self._frames.count

    @property
    def _partial_draw(self) -> bool:
        """True during the background pass of a full frame: that draw is not on screen yet."""
        return self._frames.partial_draw

    @property
    def timer(self):
        return self._ticker.timer if self._ticker is not None else None

    # ---- ticking ------------------------------------------------------------------------------------------
    def start_timer(self) -> None:
        self._ticker = Ticker(self.fig.canvas, self.source, self._tick_guarded)
        self._ticker.start()

    def stop_timers(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()

    def _tick_guarded(self) -> None:
        if self.interrupted:  # Ctrl-C in the terminal (see `gui.show`): end the view, never the training
            self.close()
            return
        # A timer callback that raises would print the same traceback 40 times a second; say it once, go on.
        try:
            self.tick()
        except Exception:
            if not self._tick_failed:
                self._tick_failed = True
                traceback.print_exc()
                self._log("Internal error while updating the view (details on stderr); the run is not affected")

    def first_frame(self) -> None:
        """Read what the source holds and draw it all: the frame a real window opens with (see `gui.show`)."""
        self._tick_guarded()
        if self.frames == 0:
            self.redraw()

    def tick(self) -> None:
        """Drain the source if due, update in place, refresh the status when due; redraw if anything changed."""
        changed = False
        if self.source.due():
            items = self.source.drain()
            if items:
                changed = self.apply(items, draw=False)
        if changed or self._status_line.due():
            changed = self._refresh_status() or changed
        if changed or self._frames.stale:
            # (A draw we did not make, such as a resize, leaves no backgrounds: make a full frame at once.)
            self.redraw()

    def apply(self, items: list[Record | NewRun], draw: bool = True) -> bool:
        """Fold records (and NewRun markers) into the view; True if anything visible changed."""
        if not items:
            return False
        self.history, epochs = fold(items, self.history, self.events, self._log, new_run=self._new_run,
                                    own=self.stop.answer)
        if epochs:
            self._update_panels()
            if self.png is not None and self.history.n_epochs:
                self._write_png()
        self._update_header()
        self._sync_button()
        self._refresh_status()
        self._show_log()
        if draw:
            self.redraw()
        return True

    def _new_run(self, _marker: NewRun) -> History:
        """A new run in the run dir: the view starts afresh (its lines stay, after a line that says so)."""
        self._held = {}
        self.stop.reset()
        return History()

    def redraw(self) -> None:
        """Show the current state now (see `Frames.redraw`)."""
        self._frames.redraw()

    # ---- pieces -------------------------------------------------------------------------------------------
    def _update_panels(self) -> None:
        self.panels.update(self.history)
        self._frames.dirty.add("axes")
        hold_axes(self._axes, self.history, self._held)
        self.panels.place_notes()  # for the limits the window holds

    def _update_header(self) -> None:
        if show_header(self.header, self.history, self._parts.header_size):
            self._frames.dirty.add("header")

    def _log(self, text: str, echo: bool = True) -> int:
        return self.log.say(text, echo)

    def _show_log(self) -> None:
        if self.log.show():
            self._frames.dirty.add("log")

    def _refit(self) -> None:
        fit(self.fig, self._parts)
        show_header(self.header, self.history, self._parts.header_size)

    def _log_scrolled(self) -> None:
        self._show_log()
        self.redraw()

    def _reader_warning(self, message: str) -> None:
        self._log(self.events.warning(message))

    def _refresh_status(self) -> bool:
        """Work out the status anew; True if the status line (or, through a last read, anything) changed."""
        quiet, waited = self.source.quiet(), self.stop.waited(self.history)
        self._status_line.asked(next_change(quiet, waited))
        status = window_status(self.history, quiet=quiet, live=self.live,
                               playing=getattr(self.source, "playing", False),  # replay --speed
                               stop_waited=waited, hostname=self._hostname, alive=self._alive)
        if status.kind in (STALLED, CRASHED) and self.live:
            # Records that landed between our read and the verdict: one more read settles it.
            more = self.source.drain()
            if more:
                return self.apply(more, draw=False)
        was = self.status.kind
        if not self._status_line.show(status, self.stop.error):
            return False
        self._frames.dirty.add("status")
        if status.kind == CRASHED and was != CRASHED:  # the run's end without an end record: its report
            for text in crash_report(self.history):
                self._log(text)
        self._sync_button()
        self._show_log()  # (the lines just said)
        return True

    def _sync_button(self) -> None:
        self.stop.sync(self.history, crashed=self.status.kind == CRASHED)

    def _write_png(self) -> None:
        try:
            save_png(self.history, self.png, figure_title(self.history, str(self.run_dir.path)))
        except OSError as exc:
            self._log(self.events.warning(f"{self.png}: cannot write the figure ({exc.strerror or exc})"))

    # ---- the button ---------------------------------------------------------------------------------------
    def click(self, event: object = None) -> None:
        """The button: Stop Training writes the stop file; Close closes the window; Stopping... does nothing."""
        if self.button_label == CLOSE_LABEL:
            self.close()
            return
        if self.button_label != STOP_LABEL:
            return
        self.stop.request(self.history)
        self._sync_button()
        self._refresh_status()
        self._show_log()
        self.redraw()

    def close(self) -> None:
        """End this view (the Close button). Training is not touched."""
        self._on_window_closed(None)
        if self.on_close is not None:
            self.on_close()

    def _on_window_closed(self, _event: object) -> None:
        self.stop_timers()
        self.closed = True
        self.stop.flush()  # a stop request still waiting for its answer: the terminal hears of it
