"""The live window: header line, the shared 2x2 figure, a log panel, a status line and a Stop button.

The GUI thread owns the figure. A canvas timer on the main thread calls `tick()` every TIMER_MS: it asks the
source (a `Follower`, or replay's records) whether anything is due, drains it, folds the records into a
History, updates the lines in place and redraws: in full when the axes moved, otherwise by restoring the saved
background and drawing only the changing artists (blitting). When nothing changed a tick is
an Event check and a clock read. The class works on any figure, so tests build it on an Agg figure, feed
records with `apply`, call `click()` and read `header`, `status`, `button_label` and `log_lines`.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from matplotlib.figure import Figure
from matplotlib.transforms import Bbox, IdentityTransform, blended_transform_factory
from matplotlib.widgets import Button

from shared.console import UNICODE, asciify, fmt_loss, fmt_signed, glyphs_for
from shared.errors import RunDirError
from shared.figure import DiagnosticFigure, figure_title, save_png
from shared.history import History
from shared.logreader import NewRun
from shared.records import EPOCH, Record
from shared.rundir import RunDir
from shared.stopfile import request_stop, who
from viewer.events import Events
from viewer.status import (
    CRASHED, FINISHED, LIVE, STALLED, STOPPING, WAITING, Status, finishing, pid_alive, status_of,
)

TIMER_MS = 25  # drain interval: the floor of the append-to-redraw latency (a tick with nothing due costs µs)
STATUS_SECONDS = 1.0  # the status line (record age, ETA, pid check) is refreshed this often
LOG_LINES = 8  # lines shown in the log panel
HOLD_MARGIN_X, HOLD_MARGIN_Y = 0.5, 0.25  # axes grow by this fraction of the data range when the data leave,
HOLD_GROWTH = 0.5  # ... and by at least this fraction of their span
HEADER_BAND, STATUS_BAND = 0.935, 0.06  # figure fractions: the header lives above, the status line below
PANEL_PAD = 3  # pixels around a panel that its frame redraws (a spine's line reaches past the axes box)
CELL_PAD = 2  # pixels around a panel's tight box (ticks, labels, title, legend) that a panel redraw clears
FIGSIZE = (13.0, 9.4)  # inches at 100 dpi; shrunk to fit smaller screens (SCREEN_FILL)
SCREEN_FILL = 0.9  # a window never covers more than this fraction of the screen's width or height
DEBUG_GEOMETRY_ENV = "STLAR_DEBUG_GEOMETRY"  # set to 1: print the Stop button's screen geometry (GUI tests)

STOP_LABEL, STOPPING_LABEL, CLOSE_LABEL = "Stop Training", "Stopping...", "Close"
_BUTTON_COLORS = {  # label -> (face, hover)
    STOP_LABEL: ("#d62728", "#ef5350"),
    STOPPING_LABEL: ("#bdbdbd", "#bdbdbd"),
    CLOSE_LABEL: ("#2ca02c", "#43c143"),
}
_STATUS_COLORS = {WAITING: "dimgray", LIVE: "#1b5e20", STOPPING: "#e65100", FINISHED: "#0d47a1",
                  STALLED: "#b71c1c", CRASHED: "#b71c1c"}
BEST_COLOR, BEST_FACE = "#1b5e20", "#dcedc8"


def hold_limits(held: tuple[float, float] | None, tight: tuple[float, float], margin: float,
                cap: float | None = None) -> tuple[float, float]:
    """Axis limits that hold still while the data stay inside them.

    `tight` is the data's own range. Inside `held`: keep `held`. Outside: grow the side that was left by
    `margin` times the data range, and by at least HOLD_GROWTH times the held span, so the span grows
    geometrically and a run moves its axes a few times, not every epoch (a move redraws the panel: in the
    first epochs, when the losses fall fastest, a data-sized margin moved them at almost every epoch).
    `cap` bounds the upper limit (the planned last epoch) without cutting into the data.
    """
    lo, hi = tight
    if held is None:
        return tight
    held_lo, held_hi = held
    if held_lo <= lo and hi <= held_hi:
        return held
    pad = max((hi - lo) * margin, (held_hi - held_lo) * HOLD_GROWTH)
    new_lo = min(held_lo, lo - pad) if lo < held_lo else held_lo
    new_hi = max(held_hi, hi + pad) if hi > held_hi else held_hi
    if cap is not None:
        new_hi = max(hi, min(new_hi, cap))
    return new_lo, new_hi


def _pixel_box(box: Bbox, pad: int) -> tuple[int, int, int, int]:
    """`box` grown to whole pixels plus `pad` on each side: (x0, y0, x1, y1), display coordinates."""
    return (math.floor(box.x0) - pad, math.floor(box.y0) - pad, math.ceil(box.x1) + pad, math.ceil(box.y1) + pad)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


class Source(Protocol):
    """What the window reads records from: `Follower`, or replay's `ReplaySource`."""

    on_warning: Callable[[str], None] | None

    def due(self) -> bool: ...

    def drain(self) -> list[Record | NewRun]: ...


def header_line(history: History) -> tuple[str, bool]:
    """(`Epoch: 10/20 | Train Loss: ... | Best Val Loss: 0.3512 ✓`, whether the latest epoch is a new best).

    Improvement is this epoch's val loss minus the previous one (negative is better), as the trainer's Δ.
    """
    planned = history.planned_epochs
    last = history.last_epoch
    if last is None:
        if history.start is None:
            return "Waiting for the run to start", False
        return f"Epoch: 0/{planned} | waiting for the first epoch to finish", False
    val = history.val_loss
    improvement = fmt_signed(val[-1] - val[-2]) if len(val) >= 2 else "—"
    text = (f"Epoch: {last['epoch']}/{planned} | Train Loss: {fmt_loss(history.train_loss[-1])} | "
            f"Val Loss: {fmt_loss(val[-1])} | Gap: {fmt_signed(val[-1] - history.train_loss[-1])} | "
            f"Improvement: {improvement} | Best Val Loss: {fmt_loss(history.best_val_loss)}")
    if last["best"]:
        text += f" {UNICODE.ok}"
    return text, bool(last["best"])


def on_screen(text: str) -> str:
    """Text as the window's font can draw it: DejaVu Sans has ✓ and ⚠ but no emoji presentation selector."""
    return text.replace("\ufe0f", "")


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
        clock: Callable[[], float] = time.time,
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
        self.events = Events(UNICODE)
        self.log_lines: deque[str] = deque(maxlen=LOG_LINES)
        self.status = Status(WAITING, "waiting for the run")
        self.button_label = ""
        self.closed = False
        self.interrupted = False  # set by a Ctrl-C handler while the GUI loop runs
        self._stop_sent = False
        self._stop_error: str | None = None
        self._last_status = -float("inf")
        self._geometry: tuple | None = None
        self._tick_failed = False
        self.timer = None
        self._stop_waking: Callable[[], None] | None = None  # undoes `_wake_on_change`
        self._held: dict[tuple, tuple[float, float]] = {}  # limits held per (axes, "x" or "y")
        self._backgrounds: dict | None = None  # per region, the canvas without the changing artists
        self._regions: dict = {}
        self._blank = None  # the canvas with nothing but the figure's face (see `_full_frame`)
        self._cells: list[tuple[int, int, int, int] | None] = []  # per panel, the pixels its last draw covered
        self._fixed_boxes: dict[str, tuple[int, int, int, int]] | None = None  # what panel redraws must not touch
        self._dirty: set[str] = set()  # regions changed since the last frame
        self._log_drawn: list[str] = []  # the log lines as the canvas shows them
        self._drawn_layout: tuple | None = None
        self._own_draw = False  # a draw of ours: it leaves the backgrounds valid
        self._partial_draw = False  # our draw of the backgrounds only, the changing artists hidden
        self.frames = 0
        source.on_warning = self._reader_warning
        self._build()
        self._update_panels()
        self._update_header()
        self._sync_button()
        self._refresh_status()

    # ---- layout -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        fig = self.fig
        fig.set_facecolor("white")
        self.caption = fig.text(0.01, 0.992, f"stlar-dl {'watch' if self.live else 'replay'} — {self.run_dir.path}",
                                ha="left", va="top", fontsize=9, color="dimgray")
        self.header = fig.text(0.5, 0.962, "", ha="center", va="top", fontsize=12, fontweight="bold",
                               bbox=dict(boxstyle="round,pad=0.35", facecolor="white", edgecolor="lightgray"))
        grid = fig.add_gridspec(2, 2, left=0.07, right=0.985, top=0.895, bottom=0.34, hspace=0.42, wspace=0.22)
        axes = [fig.add_subplot(grid[i, j]) for i in range(2) for j in range(2)]
        self.panels = DiagnosticFigure(axes)
        self._outside: list = []  # panel artists drawn outside the plot box: never part of a panel's frame
        for ax in axes:
            # Titles to the left and legends beside them, above the plot: a legend inside the plot would sit
            # over the curves and have to be redrawn with them at every epoch (a third of a frame's cost).
            title = ax.get_title()
            ax.set_title("")
            ax.set_title(title, loc="left", fontsize=10)
            if ax.get_legend() is not None:
                self._outside.append(ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3, fontsize=8,
                                               frameon=False, borderaxespad=0.1, handlelength=1.6,
                                               columnspacing=1.0))

        self.ax_log = fig.add_axes((0.07, 0.075, 0.69, 0.195))
        self.ax_log.set_xticks([])
        self.ax_log.set_yticks([])
        self.ax_log.set_facecolor("#f7f7f7")
        self.ax_log.set_xlim(0, 1)
        self.ax_log.set_ylim(0, 1)
        self.ax_log.set_title("Diagnostics log", loc="left", fontsize=9, color="dimgray", pad=3)
        # x in axes fractions, y in pixels: `_place_log_lines` puts the lines a whole number of pixels apart,
        # so that scrolling the panel by pixels shows exactly what drawing the lines anew would.
        at = blended_transform_factory(self.ax_log.transAxes, IdentityTransform())
        self.log_texts = [
            self.ax_log.text(0.008, 0, "", ha="left", va="center", fontsize=9, family="DejaVu Sans",
                             clip_on=True, transform=at)
            for _ in range(LOG_LINES)
        ]
        self._place_log_lines()
        self.status_text = fig.text(0.07, 0.028, "", ha="left", va="center", fontsize=11, fontweight="bold")

        self.ax_button = fig.add_axes((0.795, 0.105, 0.19, 0.13))
        self.button = Button(self.ax_button, STOP_LABEL, color=_BUTTON_COLORS[STOP_LABEL][0],
                             hovercolor=_BUTTON_COLORS[STOP_LABEL][1])
        self.button.label.set_fontsize(15)
        self.button.label.set_fontweight("bold")
        self.button.label.set_color("white")
        self.button.on_clicked(self.click)
        self.fig.canvas.mpl_connect("close_event", self._on_window_closed)
        self.fig.canvas.mpl_connect("draw_event", self._on_draw)
        p = self.panels
        self._axes = (p.ax_loss, p.ax_impr, p.ax_gap, p.ax_spread)
        # What changes between epochs without moving the axes; everything else is the blitted background.
        self._dynamic = [p.train_line, p.val_line, p.best_marker, p.best_vline, p.overfit_text, p.impr_line,
                         p.plateau_text, p.gap_line, p.train_spread_line, p.val_spread_line, p.spread_text, *p.bands,
                         self.header, self.status_text, *self.log_texts]
        if self.debug_geometry:
            # After a draw the canvas has its final size; before the first one the geometry can still change.
            self.fig.canvas.mpl_connect("draw_event", lambda _event: self._report_geometry())

    # ---- the timer ----------------------------------------------------------------------------------------
    def start_timer(self) -> None:
        self.timer = self.fig.canvas.new_timer(interval=TIMER_MS)
        self.timer.add_callback(self._tick_guarded)
        self.timer.start()
        self._wake_on_change()

    def _wake_on_change(self) -> None:
        """Tk on POSIX: a file event ticks the window at once instead of at the next timer tick (up to TIMER_MS
        later). The follower's observer thread may not touch Tk, so it writes a byte to a pipe whose read end
        Tk watches on the GUI thread (the self-pipe trick). Elsewhere the timer alone drains the source."""
        widget_of = getattr(self.fig.canvas, "get_tk_widget", None)
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
            self._tick_guarded()

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

    def _tick_guarded(self) -> None:
        if self.interrupted:  # Ctrl-C in the terminal (see `show`): end the view, never the training
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
        if changed or (self._backgrounds is None and getattr(self.fig.canvas, "supports_blit", False)):
            # (A draw we did not make, such as a resize, leaves no backgrounds: make a full frame at once.)
            self.redraw()

    def apply(self, items: list[Record | NewRun], draw: bool = True) -> bool:
        """Fold records (and NewRun markers) into the view; True if anything visible changed."""
        if not items:
            return False
        epochs = False
        # Catching up on a long run, only the epochs the log panel shows get a line and warnings: formatting
        # 100,000 lines that scroll out at once took half of an attach.
        skip = self.events.catch_up(items, keep=LOG_LINES)
        if skip:
            self._log(self.events.catch_up_note(skip, LOG_LINES, lines=False))
            # The oldest `skip` epochs: folded in bulk. Records of other types among them (the start record)
            # still get their lines, in order; none of those lines reads the epochs.
            end = seen = 0
            while end < len(items) and seen < skip and not isinstance(items[end], NewRun):
                seen += items[end]["type"] == EPOCH
                end += 1
            bulk, items = items[:end], items[end:]
            added = self.history.extend(bulk)
            epochs = added > 0
            skip -= added
            for item in bulk:
                if item["type"] != EPOCH:
                    for text in self.events.lines(item, self.history, diagnose=False):
                        self._log(text)
        for item in items:
            if isinstance(item, NewRun):
                self.history = History()
                self._held = {}
                self._stop_sent = False
                self._stop_error = None
                epochs = True  # the panels show the empty new run
                self._log(self.events.new_run(item)[0])
                continue
            added = self.history.add(item)
            epochs = added or epochs
            skip -= added
            for text in self.events.lines(item, self.history, diagnose=skip < 0):
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

    # ---- pieces -------------------------------------------------------------------------------------------
    def _update_panels(self) -> None:
        self.panels.update(self.history)
        self._dirty.add("axes")
        planned = self.history.planned_epochs
        if not self.history.n_epochs:
            # No data yet: show the epochs to come rather than matplotlib's default -0.05..0.05.
            for ax in self._axes:
                ax.set_xlim(0.5, (planned or 10) + 0.5)
            return
        # The shared figure fits the data tightly, so its limits (and tick labels) would move at every epoch
        # and every frame would redraw its panels. The x axis spans the planned epochs from the start (it
        # shows how far the run has come); y is held, and grows by a margin when the data leave it.
        last = self.history.epochs[-1]
        for ax in self._axes:
            if planned:
                x = (0.5, max(planned, last) + 0.5)
            else:
                x = hold_limits(self._held.get((ax, "x")), ax.get_xlim(), HOLD_MARGIN_X)
            y = hold_limits(self._held.get((ax, "y")), ax.get_ylim(), HOLD_MARGIN_Y)
            self._held[(ax, "x")], self._held[(ax, "y")] = x, y
            ax.set_xlim(x)
            ax.set_ylim(y)

    # ---- frames -------------------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Show the current state now, drawing as little as that takes:

        - a full draw when the button, the size or the saved backgrounds changed (or on the first frame);
        - a panel redraw for each panel whose axis limits moved: clear its cell (the panel with its ticks,
          labels, title and legend), draw that one panel and keep it as the panel's new background. A full draw
          of this figure costs 4-5 times one panel's; where a cell would touch anything else, a full draw;
        - then, per changed region (each panel, the header, the log, the status line), restore that region's
          background and draw its changing artists (blitting).

        Either way the canvas's `draw_event` fires once the frame is complete, so a listener can time frames.
        """
        canvas = self.fig.canvas
        layout = self._layout()
        drawn = self._drawn_layout
        full = (not getattr(canvas, "supports_blit", False) or self._backgrounds is None or drawn is None
                or layout[2] != drawn[2])
        moved: list[int] = []
        if not full:
            moved = [i for i, (now, before) in enumerate(zip(layout[0], drawn[0])) if now != before]
            full = bool(moved) and not self._panel_frames(moved)
        if not full and layout[1] != drawn[1]:
            full = not self._button_frame()
        if full:
            self._full_frame()
        else:
            for key in self._dirty:
                if key == "log":
                    self._log_frame()
                    continue
                for i, (background, bbox, artists) in enumerate(self._regions[key]):
                    if key == "axes" and i in moved:
                        continue  # drawn by its panel frame just now
                    canvas.restore_region(self._backgrounds[background])
                    for artist in artists:
                        self.fig.draw_artist(artist)
                    canvas.blit(bbox)
        self._drawn_layout = layout
        self._dirty.clear()
        self.frames += 1
        self._announce_frame()

    def _panel_frames(self, moved: list[int]) -> bool:
        """Redraw panels `moved` alone (their limits changed); False, drawing nothing, where one cannot be.

        A panel's cell is its tight box before and after the change (old tick labels are cleared, new ones
        fit), padded. Each cell is cleared to the figure's face, the panel drawn without its changing
        artists and kept as its background, then those artists drawn on top: the pixels a full draw makes,
        as long as nothing else of the figure reaches into the cell (checked here).
        """
        canvas = self.fig.canvas
        renderer = canvas.get_renderer()
        self._known_boxes(renderer)
        cells, tight = dict(enumerate(self._cells)), {}
        for i in moved:
            tight[i] = _pixel_box(self._axes[i].get_tightbbox(renderer), CELL_PAD)
            cells[i] = _pixel_box(Bbox.union([Bbox.from_extents(*self._cells[i]), Bbox.from_extents(*tight[i])]), 0)
        figure_box = _pixel_box(self.fig.bbox, 0)
        for i in moved:
            others = [box for j, box in cells.items() if j != i] + list(self._fixed_boxes.values())
            if not _inside(cells[i], figure_box) or any(_overlap(cells[i], box) for box in others):
                return False
        for i in moved:
            name, bbox, layers = self._regions["axes"][i]
            self._clear(cells[i])
            for artist in layers:
                artist.set_visible(False)
            try:
                self.fig.draw_artist(self._axes[i])
            finally:
                for artist in layers:
                    artist.set_visible(True)
            self._backgrounds[name] = canvas.copy_from_bbox(bbox)
            for artist in layers:
                self.fig.draw_artist(artist)
            canvas.blit(Bbox.from_extents(*cells[i]))
            self._cells[i] = tight[i]
        return True

    def _button_frame(self) -> bool:
        """Redraw the button alone (its label and colour changed); False, drawing nothing, where it cannot be."""
        canvas = self.fig.canvas
        renderer = canvas.get_renderer()
        self._known_boxes(renderer)
        box = _pixel_box(self.ax_button.get_tightbbox(renderer), CELL_PAD)
        others = self._cells + [b for name, b in self._fixed_boxes.items() if name != "button"]
        if not _inside(box, _pixel_box(self.fig.bbox, 0)) or any(_overlap(box, other) for other in others):
            return False
        self._clear(box)
        self.fig.draw_artist(self.ax_button)
        canvas.blit(Bbox.from_extents(*box))
        return True

    def _clear(self, box: tuple[int, int, int, int]) -> None:
        """Paint pixel box `box` (display coordinates) with the figure's bare face, as a full draw starts."""
        x0, y0, x1, y1 = box
        height = int(round(self.fig.bbox.height))
        # Image rows grow downwards; xy places the saved region's origin (the blank starts at the canvas's).
        self.fig.canvas.restore_region(self._blank, bbox=(x0, height - y1, x1, height - y0), xy=(0, 0))

    def _known_boxes(self, renderer) -> None:
        """Work out what a partial redraw checks against, where not known since the last full frame: each
        panel's cell as it was drawn, and the boxes of everything else that is drawn."""
        drawn_limits = self._drawn_layout[0]
        for i, ax in enumerate(self._axes):
            if self._cells[i] is None:
                self._cells[i] = _pixel_box(self._tight_box(ax, drawn_limits[i], renderer), CELL_PAD)
        if self._fixed_boxes is None:
            boxes = {key: bbox for key in ("header", "log", "status") for _, bbox, _ in self._regions[key]}
            boxes.update(log_panel=self.ax_log.get_tightbbox(renderer), button=self.ax_button.get_tightbbox(renderer),
                         caption=self.caption.get_window_extent(renderer))
            self._fixed_boxes = {name: _pixel_box(box, 0) for name, box in boxes.items()}

    @staticmethod
    def _tight_box(ax, limits: tuple, renderer) -> Bbox:
        """`ax`'s tight box (ticks, labels, title, legend) as it was with `limits` ((x0, x1), (y0, y1))."""
        now = ax.get_xlim(), ax.get_ylim()
        if now == limits:
            return ax.get_tightbbox(renderer)
        ax.set_xlim(limits[0])
        ax.set_ylim(limits[1])
        try:
            return ax.get_tightbbox(renderer)
        finally:
            ax.set_xlim(now[0])
            ax.set_ylim(now[1])

    def _layout(self) -> tuple:
        return (tuple((ax.get_xlim(), ax.get_ylim()) for ax in self._axes), self.button_label,
                tuple(self.fig.bbox.bounds))

    def _define_regions(self) -> None:
        """Each region of the canvas that changes, its bounds and the artists drawn into it per frame.

        A frame draws a region's artists over its saved background in the order a full draw would, so the
        pixels come out the same: in a panel that is every artist from the lowest changing z-order up (the
        static ones too: spines, legend, reference lines cover the curves in a full draw), the panel's titles
        aside. No two regions overlap.
        """
        from matplotlib.axis import Axis
        from matplotlib.text import Text

        width, height = self.fig.bbox.width, self.fig.bbox.height
        self._place_log_lines()
        self._regions = {"axes": []}
        for i, ax in enumerate(self._axes):
            changing = [a for a in self._dynamic if getattr(a, "axes", None) is ax]
            floor = min(a.get_zorder() for a in changing)
            layers = [a for a in sorted(ax.get_children(), key=lambda a: a.get_zorder())
                      if a.get_zorder() >= floor and a is not ax.patch and not isinstance(a, Axis)
                      and (not isinstance(a, Text) or a in changing) and a not in self._outside
                      and a.get_visible()]
            x0, y0, x1, y1 = ax.bbox.extents
            pad = PANEL_PAD
            self._regions["axes"].append((f"ax{i}", Bbox.from_extents(x0 - pad, y0 - pad, x1 + pad, y1 + pad),
                                          layers))
        self._regions["header"] = [("header", Bbox.from_extents(0, height * HEADER_BAND, width, height),
                                    [self.header])]
        self._regions["log"] = [("log", self.ax_log.bbox, list(self.log_texts))]
        self._regions["status"] = [("status", Bbox.from_extents(0, 0, width, height * STATUS_BAND),
                                    [self.status_text])]

    def _place_log_lines(self) -> None:
        """Slot i of the log panel: rows [top + i * pitch, top + (i + 1) * pitch) of the canvas, whole pixels."""
        height = self.fig.bbox.height
        box = self.ax_log.bbox
        first, last = math.ceil(height - box.y1) + 2, math.floor(height - box.y0) - 2  # inside the frame
        self._log_pitch = pitch = max(1, (last - first) // LOG_LINES)
        self._log_top = first + (last - first - LOG_LINES * pitch) // 2
        for i, artist in enumerate(self.log_texts):
            artist.set_y(height - (self._log_top + (i + 0.5) * pitch))

    def _log_area(self, first: int, last: int) -> Bbox:
        """Display box of log slots first..last-1 across the whole panel."""
        height, box = self.fig.bbox.height, self.ax_log.bbox
        top, pitch = self._log_top, self._log_pitch
        return Bbox.from_extents(box.x0, height - (top + last * pitch), box.x1, height - (top + first * pitch))

    def _log_frame(self) -> None:
        """Redraw the log panel: scroll it by whole lines when that is all that changed, else draw it anew."""
        canvas = self.fig.canvas
        now = [artist.get_text() for artist in self.log_texts]
        drawn = self._log_drawn
        shift = next((k for k in range(1, LOG_LINES) if drawn[k:] == now[:LOG_LINES - k]), None)
        if shift is None:
            canvas.restore_region(self._backgrounds["log"])
            fresh = self.log_texts
        else:
            # 1. Move the lines that stay up by `shift` slots (pixels of the canvas as they are);
            # 2. clear the slots freed at the bottom to the panel's background; 3. draw only the new lines.
            region = canvas.copy_from_bbox(self._log_area(0, LOG_LINES))
            x1, y1, x2, y2 = region.get_extents()  # image rows: y grows downwards
            rows = shift * self._log_pitch
            canvas.restore_region(region, bbox=(x1, y1 + rows, x2, y2), xy=(x1, y1 - rows))
            freed = self._backgrounds["log_area"]
            x1, y1, x2, y2 = freed.get_extents()
            canvas.restore_region(freed, bbox=(x1, y2 - rows, x2, y2), xy=(x1, y1))
            fresh = self.log_texts[LOG_LINES - shift:]
        for artist in fresh:
            self.fig.draw_artist(artist)
        canvas.blit(self.ax_log.bbox)
        self._log_drawn = now

    def _full_frame(self) -> None:
        canvas = self.fig.canvas
        if not getattr(canvas, "supports_blit", False):
            canvas.draw_idle()
            return
        # 1. Draw everything but what the regions redraw and keep each region of that as its background;
        # 2. draw the regions' artists on top.
        self._define_regions()
        layers = [a for regions in self._regions.values() for _, _, artists in regions for a in artists]
        self._own_draw = self._partial_draw = True
        try:
            # The figure's bare face, kept to clear a panel's cell for a panel redraw (see `_panel_frames`).
            renderer = canvas.get_renderer()
            renderer.clear()
            self.fig.patch.draw(renderer)
            self._blank = canvas.copy_from_bbox(self.fig.bbox)
            for artist in layers:
                artist.set_visible(False)
            canvas.draw()
            self._backgrounds = {name: canvas.copy_from_bbox(bbox)
                                 for regions in self._regions.values() for name, bbox, _ in regions}
            self._backgrounds["log_area"] = canvas.copy_from_bbox(self._log_area(0, LOG_LINES))
            # Worked out when a panel redraw first needs them: a panel's tight box costs ~10 ms of tick layout.
            self._cells = [None] * len(self._axes)
            self._fixed_boxes = None
        finally:
            for artist in layers:
                artist.set_visible(True)
            self._own_draw = self._partial_draw = False
        for artist in layers:
            self.fig.draw_artist(artist)
        canvas.blit(self.fig.bbox)
        self._log_drawn = [artist.get_text() for artist in self.log_texts]

    def _on_draw(self, _event: object) -> None:
        # A draw we did not make (resize, expose, the toolbar): the screen is right, our backgrounds are stale.
        if not self._own_draw:
            self._backgrounds = None

    def _announce_frame(self) -> None:
        from matplotlib.backend_bases import DrawEvent

        canvas = self.fig.canvas
        renderer = canvas.get_renderer() if hasattr(canvas, "get_renderer") else None
        self._own_draw = True
        try:
            canvas.callbacks.process("draw_event", DrawEvent("draw_event", canvas, renderer))
        finally:
            self._own_draw = False

    def _update_header(self) -> None:
        text, best = header_line(self.history)
        text = on_screen(text)
        if text == self.header.get_text():
            return
        self.header.set_text(text)
        self.header.set_color(BEST_COLOR if best else "black")
        self.header.get_bbox_patch().set_facecolor(BEST_FACE if best else "white")
        self._dirty.add("header")

    def _log(self, text: str) -> None:
        self.log_lines.append(on_screen(text))
        if self.out is not None:
            try:
                print(asciify(text, self._out_glyphs), file=self.out, flush=True)
            except (OSError, ValueError, UnicodeEncodeError):  # a closed or odd terminal must not stop the view
                pass

    def _show_log(self) -> None:
        lines = list(self.log_lines)
        lines += [""] * (LOG_LINES - len(lines))
        if lines == [artist.get_text() for artist in self.log_texts]:
            return
        for artist, text in zip(self.log_texts, lines):
            artist.set_text(text)
            artist.set_color("#b35900" if text.startswith("⚠") else BEST_COLOR if "NEW BEST" in text else "black")
        self._dirty.add("log")

    def _reader_warning(self, message: str) -> None:
        self._log(self.events.warning(message))

    def _refresh_status(self) -> bool:
        self._last_status = self._clock()
        stop_pending = self._stop_sent and self.history.stop_request is None
        status = status_of(self.history, self._last_status, live=self.live, stop_pending=stop_pending,
                           hostname=self._hostname, alive=self._alive)
        if status.kind == STALLED and self.live:
            # A trainer that wrote its last records and exited between our read and the pid check looks
            # stalled; it cannot write after its death, so one more read settles it.
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
        self._dirty.add("status")
        return True

    def _sync_button(self) -> None:
        if not self.live or self.history.finished:
            label = CLOSE_LABEL
        elif self.history.stopping or self._stop_sent:
            label = STOPPING_LABEL
        else:
            label = STOP_LABEL
        if label == self.button_label:
            return
        if label == CLOSE_LABEL and self.button_label and self.live:
            self._log("The run has ended: the button closes this window")
        self.button_label = label
        face, hover = _BUTTON_COLORS[label]
        self.button.label.set_text(label)
        self.button.label.set_color("#424242" if label == STOPPING_LABEL else "white")  # legible on gray
        self.button.color, self.button.hovercolor = face, hover
        self.ax_button.set_facecolor(face)
        self.button.set_active(label != STOPPING_LABEL)

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
        if self.history.start is None:
            self._log(f"No run to stop yet: nothing has started in {self.run_dir.path}")
        elif finishing(self.history):  # the loop is over: no epoch to stop after, no trainer reading the stop file
            last = self.history.last_epoch
            self._log(f"Nothing to stop: the run has finished its last epoch ({last['epoch']}/{last['epochs']}) "
                      "and is writing its outputs")
        else:
            try:
                created, request = request_stop(self.run_dir.stop, self.by, self.history.run_id)
            except RunDirError as exc:
                self._stop_error = str(exc)
                self._log(self.events.warning(f"Cannot stop the run: {exc}"))
            else:
                self._stop_sent = True
                self._stop_error = None
                if created:
                    self._log(f"Stop requested: wrote {self.run_dir.stop}; the trainer stops after the epoch it is in")
                else:
                    by = request.get("by")
                    self._log("A stop was already requested" + (f" by {by}" if by else "")
                              + "; waiting for the trainer")
        self._sync_button()
        self._refresh_status()
        self._show_log()
        self.redraw()

    def close(self) -> None:
        """End this view (the Close button). Training is not touched."""
        self._stop_timers()
        self.closed = True
        if self.on_close is not None:
            self.on_close()

    def _on_window_closed(self, _event: object) -> None:
        self._stop_timers()
        self.closed = True

    def _stop_timers(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        stop, self._stop_waking = self._stop_waking, None
        if stop is not None:
            stop()

    # ---- GUI tests ----------------------------------------------------------------------------------------
    def button_screen_box(self) -> tuple[int, int, int, int] | None:
        """The button's (x, y, width, height) in screen pixels, top-left origin; None where unknown (non-Tk)."""
        widget_of = getattr(self.fig.canvas, "get_tk_widget", None)
        if widget_of is None:
            return None
        widget = widget_of()
        if not widget.winfo_ismapped():
            return None
        # Display coordinates are the canvas widget's physical pixels (the figure's dpi already includes
        # Tk's scaling), with the origin at the bottom left; the screen's origin is at the top left.
        box = self.ax_button.get_window_extent()
        top = self.fig.bbox.height - box.y1
        return (int(widget.winfo_rootx() + box.x0), int(widget.winfo_rooty() + top), int(box.width),
                int(box.height))

    def _report_geometry(self) -> None:
        """After a draw: print where the button is, what it says and how many epochs are drawn, on change."""
        if self._partial_draw:  # the background pass of a frame: the frame is not on screen yet
            return
        geometry = (self.button_screen_box(), self.button_label, self.history.n_epochs)
        if geometry != self._geometry and geometry[0] is not None:
            self._geometry = geometry
            x, y, w, h = geometry[0]
            print(f"[{DEBUG_GEOMETRY_ENV}] button={self.button_label!r} x={x} y={y} w={w} h={h} "
                  f"epochs={self.history.n_epochs}", file=sys.stderr, flush=True)


# ---- opening a real window -----------------------------------------------------------------------------------
class NoDisplay(Exception):
    """No window can be opened here; the message says why (the CLI falls back to the terminal)."""


_BACKENDS = ("TkAgg", "MacOSX", "QtAgg", "GTK4Agg", "GTK3Agg", "WXAgg")


def open_figure(title: str) -> Figure:
    """A pyplot figure in a window titled `title`: TkAgg where Tk exists, another interactive backend otherwise.

    Raises NoDisplay when there is no display or no toolkit. A toolkit that imports but cannot reach the
    display ends the search: Qt, asked next, would abort the whole process on the same display.
    """
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NoDisplay("no display (DISPLAY is not set)")
    import matplotlib.pyplot as plt

    reasons = []
    for backend in _BACKENDS:
        try:
            plt.switch_backend(backend)
        except Exception as exc:  # ImportError mostly; some toolkits raise their own errors on import
            reasons.append(f"{backend}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            continue
        try:
            fig = plt.figure(num=title, figsize=FIGSIZE)
        except Exception as exc:
            plt.switch_backend("Agg")
            raise NoDisplay(f"cannot open a window ({' '.join(str(exc).split())})") from None
        _fit_to_screen(fig)
        return fig
    raise NoDisplay("no GUI toolkit for matplotlib (" + "; ".join(reasons[:2]) + "; on Linux install python3-tk)")


def _fit_to_screen(fig: Figure) -> None:
    window = getattr(fig.canvas.manager, "window", None)
    try:
        screen_w, screen_h = window.winfo_screenwidth(), window.winfo_screenheight()  # Tk only
    except Exception:
        return
    w, h = fig.get_size_inches() * fig.dpi
    scale = min(1.0, SCREEN_FILL * screen_w / w, (SCREEN_FILL * screen_h - 60) / h)  # 60 px: toolbar, title bar
    if scale < 1.0:
        fig.set_size_inches(fig.get_size_inches() * scale, forward=True)


def show(window: RunWindow) -> bool:
    """Run the GUI loop until the window is closed; return True if Ctrl-C in the terminal ended it.

    Ctrl-C only sets a flag that the next tick (within TIMER_MS) acts on by closing the window: raised as
    KeyboardInterrupt inside a GUI callback, Tk would print it and carry on.
    """
    import matplotlib.pyplot as plt

    if window.on_close is None:
        window.on_close = lambda: plt.close(window.fig)

    def on_sigint(_signum: int, _frame: object) -> None:
        window.interrupted = True

    restore = None
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        restore = signal.signal(signal.SIGINT, on_sigint)
    window.start_timer()
    try:
        plt.show()
    except KeyboardInterrupt:
        return True
    finally:
        if restore is not None:
            signal.signal(signal.SIGINT, restore)
        window._stop_timers()
        plt.close("all")
    return window.interrupted
