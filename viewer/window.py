"""The live window: one run's header line, the shared 2x2 figure, a log panel, a status line and a Stop button.

The GUI thread owns the figure. A `Ticker` on the main thread calls `tick()`: it asks the source (a `Follower`,
or replay's records) whether anything is due, drains it, folds the records into a History, updates the
lines in place and lets `Frames` redraw what changed. When nothing changed a tick is an Event check and a
clock read. The class works on any figure, so tests build it on an Agg figure, feed records with `apply`,
call `click()` and read `header`, `status`, `button_label` and `log_lines`.

The parts live beside it, each in its own module: `layout` (where things sit), `header`, `log_panel`,
`stop_button` (its states and what Stop does), `limits` (held axis limits), `frames` (the partial-redraw
engine), `ticker` (timer and file-event wake-ups) and `gui` (opening a real window, the GUI loop).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from matplotlib.figure import Figure

from shared.console import UNICODE, asciify, final_report, glyphs_for
from shared.figure_png import figure_title, save_png
from shared.history import History
from shared.logreader import NewRun
from shared.records import END, EPOCH, STOP_REQUESTED, Record
from shared.rundir import RunDir
from shared.safetext import printable
from shared.stopfile import who
from viewer.events import CATCH_UP_EPOCHS, Events
from viewer.frames import Frames
from viewer.geometry import DEBUG_GEOMETRY_ENV, report_geometry
from viewer.header import on_screen, show_header
from viewer.layout import fit, lay_out
from viewer.limits import hold_axes
from viewer.log_panel import LogPanel
from viewer.status import (
    CRASHED, FINISHED, LIVE, REPLAYING, STALL_SECONDS, STALLED, STOPPING, WAITING, Status, pid_alive, status_of,
    trainer_alive,
)
from viewer.stop_button import CLOSE_LABEL, STOP_LABEL, StopButton, ask_to_stop, label_for
from viewer.ticker import Ticker

STATUS_SECONDS = 10.0  # the status line (record age, ETA, pid check) is refreshed this often: each refresh
# redraws the line (~13 ms); once a second, that was ~1.3 % of a core for a live run with nothing new
_STATUS_COLORS = {WAITING: "dimgray", REPLAYING: "dimgray", LIVE: "#1b5e20", STOPPING: "#e65100", FINISHED: "#0d47a1",
                  STALLED: "#b71c1c", CRASHED: "#b71c1c"}


class Source(Protocol):
    """What the window reads records from: `Follower`, or replay's `ReplaySource`."""

    on_warning: Callable[[str], None] | None

    def due(self) -> bool: ...

    def drain(self) -> list[Record | NewRun]: ...

    def quiet(self) -> float:
        """Seconds since the log last grew, on the viewer's clock (`viewer.growth`)."""
        ...


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
        self.fig = fig
        self.run_dir = RunDir(run_dir)
        self.source = source
        self.live = live
        self.png = png
        self._clock = clock
        self._alive = alive
        self._hostname = hostname
        self.by = by or who("stlar-dl watch")
        self.out = out
        self._out_glyphs = glyphs_for(out) if out is not None else UNICODE
        self.on_close = on_close
        self.debug_geometry = (os.environ.get(DEBUG_GEOMETRY_ENV) == "1") if debug_geometry is None \
            else debug_geometry
        self.history = History()
        self.events = Events(UNICODE, checkpoint=str(self.run_dir.checkpoint))
        self.events.final_best = getattr(source, "final_best", None)  # replay knows the run's last best
        self.status = Status(WAITING, "waiting for the run")
        self.closed = False
        self.interrupted = False  # set by a Ctrl-C handler while the GUI loop runs
        self._stop_sent = False
        self._stop_sent_at: float | None = None  # on `clock`: when this window wrote the stop file
        self._stop_error: str | None = None
        self._last_status = -float("inf")
        self._tick_failed = False
        self._ticker: Ticker | None = None
        self._held: dict[tuple, tuple[float, float]] = {}  # limits held per (axes, "x" or "y")
        source.on_warning = self._reader_warning
        if hasattr(source, "epoch_blocks"):  # a Follower: runs of epochs come as blocks (see Events.split)
            source.epoch_blocks = True

        parts = lay_out(fig, f"stlar-dl {'watch' if live else 'replay'} — {self.run_dir.path}")
        self.caption, self.header, self.panels = parts.caption, parts.header, parts.panels
        self.log = LogPanel(parts.ax_log)
        self.log_lines, self.log_texts = self.log.lines, self.log.texts  # every line; the rows on the panel
        self.status_text, self.ax_button = parts.status, parts.ax_button
        self.stop_button = StopButton(parts.ax_button, self.click)
        self.button = self.stop_button.button
        self.fig.canvas.mpl_connect("close_event", self._on_window_closed)
        p = self.panels
        self._axes = (p.ax_loss, p.ax_impr, p.ax_gap, p.ax_spread)
        # What changes between epochs without moving the axes; everything else is the blitted background.
        dynamic = [p.train_line, p.val_line, p.best_marker, p.best_vline, p.resume_lines, p.resume_text,
                   p.overfit_text, p.impr_line,
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

    def tick(self) -> None:
        """Drain the source if due, update in place, refresh the status each second; redraw if anything changed."""
        changed = False
        if self.source.due():
            items = self.source.drain()
            if items:
                changed = self.apply(items, draw=False)
        if changed or self._clock() - self._last_status >= STATUS_SECONDS:
            changed = self._refresh_status() or changed
        if changed or self._frames.stale:
            # (A draw we did not make, such as a resize, leaves no backgrounds: make a full frame at once.)
            self.redraw()

    def apply(self, items: list[Record | NewRun], draw: bool = True) -> bool:
        """Fold records (and NewRun markers) into the view; True if anything visible changed."""
        if not items:
            return False
        epochs = False
        # Catching up on a long run, only the last CATCH_UP_EPOCHS epochs get a line and warnings: formatting
        # 100,000 lines nobody scrolls back to took half of an attach.
        skip = self.events.catch_up(items)
        self.events.saved_best(items)
        if skip:
            self._log(self.events.catch_up_note(skip, CATCH_UP_EPOCHS, lines=False))
        # The oldest `skip` epochs: folded in bulk. Records of other types among them (the start record)
        # still get their lines, in order; none of those lines reads the epochs.
        bulk, items = self.events.split(items, skip)
        if bulk:
            added = self.history.extend(bulk)
            epochs = added > 0
            skip -= added
            for item in bulk:
                if isinstance(item, dict) and item["type"] != EPOCH:
                    for text in self.events.lines(item, self.history, diagnose=False):
                        self._log(text)
        for item in items:
            if isinstance(item, NewRun):
                self.history = History()
                self._held = {}
                self._stop_sent = False
                self._stop_sent_at = None
                self._stop_error = None
                epochs = True  # the panels show the empty new run
                self._log(self.events.new_run(item)[0])
                continue
            added = self.history.add(item)
            epochs = added or epochs
            skip -= added
            if item["type"] == STOP_REQUESTED and self._stop_sent and (item.get("stop") or {}).get("by") == self.by:
                # Our own request answered: one acknowledgement, not the request said again.
                self._log(f"Stop acknowledged: the trainer stops after epoch {item['epoch']}")
                continue
            for text in self.events.lines(item, self.history, diagnose=skip < 0):
                self._log(text)
            if item["type"] == END:
                epochs = True  # x now fits the epochs run (viewer.limits)
                for text in final_report(self.history, item["reason"]):
                    self._log(text)
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

    def _log(self, text: str) -> None:
        text = printable(text)  # log text may carry escape sequences: not for the terminal, nor the panel
        self.log.add(text)
        if self.out is not None:
            try:
                print(asciify(text, self._out_glyphs), file=self.out, flush=True)
            except (OSError, ValueError, UnicodeEncodeError):  # a closed or odd terminal must not stop the view
                pass

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
        self._last_status = now = self._clock()
        if getattr(self.source, "playing", False):  # replay --speed: no verdict before the end of the log
            last = self.history.last_epoch
            status = Status(REPLAYING, f"replaying — epoch {last['epoch'] if last else 0} of the log")
        else:
            stop_pending = self._stop_sent and self.history.stop_request is None
            waited = now - self._stop_sent_at if stop_pending and self._stop_sent_at is not None else None
            status = status_of(self.history, quiet=self.source.quiet(), live=self.live, stop_pending=stop_pending,
                               stop_unanswered=waited,
                               trainer=trainer_alive(self.history, hostname=self._hostname, alive=self._alive))
        if status.kind in (STALLED, CRASHED) and self.live:
            # Records that landed between our read and the verdict: one more read settles it.
            more = self.source.drain()
            if more:
                return self.apply(more, draw=False)
        text = status.text
        if self._stop_error is not None and status.kind not in (FINISHED,):
            text += " | Stop failed: see the log panel"
        if (status.kind, text) == (self.status.kind, self.status_text.get_text()):
            return False
        self.status = Status(status.kind, text)
        self.status_text.set_text(on_screen(text))
        self.status_text.set_color(_STATUS_COLORS.get(status.kind, "black"))
        self._frames.dirty.add("status")
        self._sync_button()
        return True

    def _unanswered(self) -> bool:
        """True when this window's stop request got no stop_requested record within STALL_SECONDS."""
        return (self._stop_sent and self._stop_sent_at is not None and self.history.stop_request is None
                and self._clock() - self._stop_sent_at > STALL_SECONDS)

    def _sync_button(self) -> None:
        crashed = self.status.kind == CRASHED
        unanswered = self._unanswered()
        label = label_for(self.history, live=self.live, stop_sent=self._stop_sent,
                          gone=crashed or unanswered)
        if label == CLOSE_LABEL and self.button_label and label != self.button_label and self.live:
            if self.history.finished:
                self._log("The run has ended: the button closes this window")
            elif unanswered:
                self._log(f"The trainer did not answer the stop request within {STALL_SECONDS:g} s (stopped, "
                          "hung or gone): the button closes this window; the stop file stays, so the trainer "
                          "stops if it resumes")
            else:
                self._log("The run crashed (no end record, trainer gone): the button closes this window")
        self.stop_button.show(label)

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
        outcome = ask_to_stop(self.history, self.run_dir.path, self.run_dir.stop, self.by, self.events.warning)
        if outcome.error is not None:
            self._stop_error = outcome.error
        elif outcome.sent:
            self._stop_sent, self._stop_error = True, None
            self._stop_sent_at = self._clock()
        for line in outcome.lines:
            self._log(line)
        self._sync_button()
        self._refresh_status()
        self._show_log()
        self.redraw()

    def close(self) -> None:
        """End this view (the Close button). Training is not touched."""
        self.stop_timers()
        self.closed = True
        if self.on_close is not None:
            self.on_close()

    def _on_window_closed(self, _event: object) -> None:
        self.stop_timers()
        self.closed = True
