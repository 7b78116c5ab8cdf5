"""The 2x2 diagnostic figure, drawn the same way for the PNG, the live window and replay.

Lines are created once and updated in place with `set_data`, so a live update costs one redraw, not a new
figure. A curve with more points than its panel has pixels is drawn for display only as the band between
each pixel's minimum and maximum (every spike stays visible): stroking 100,000 points where a panel has 550
pixels buys nothing. The data stays whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from shared.atomic import atomic_path
from shared.diagnostics import (
    INSTABILITY_STD,
    INSTABILITY_WINDOW,
    OVERFIT_GAP,
    PLATEAU_EPOCHS,
    Plateau,
    Settings,
    check_overfitting,
    fmt_num,
    gaps,
    improvements,
    rolling_spread,
)
from shared.history import History
from shared.names import EPOCH_LINE_METRICS, end_words, metric_label
from shared.safetext import FIGURE_TEXT, printable

MAX_POINTS = 2000  # points per line at most; more are drawn as a min/max band (`envelope`) ...
POINTS_PER_PIXEL = 2  # ... as are more than this many per pixel of the panel's width (a band has a min and a
# max per pixel)
TICKS = 5  # tick intervals per axis at most (matplotlib's MaxNLocator nbins)
LOG_SPAN = 100.0  # losses spanning more than this factor (two decades) get a logarithmic axis
MARKER_EPOCHS = 60  # up to this many epochs each point gets a dot, so 1 or 2 epochs are visible

TRAIN_COLOR, VAL_COLOR = "tab:blue", "tab:red"
LR_COLOR = "tab:purple"  # the lr change marks on the loss panel
LR_LABELS = 12  # label at most this many (the latest) lr changes


def envelope(x: np.ndarray, y: np.ndarray, buckets: int) -> list[np.ndarray]:
    """The band between each bucket's minimum and maximum of `y`, as polygons (one per stretch without NaN).

    What a line through every point shows when there are more points than pixels: drawn as a filled band with
    its outline stroked, a smooth curve looks like a line and a noisy one like the area its zigzag fills, at a
    fraction of the cost of stroking thousands of up-and-down segments (14 ms -> 2 ms at 100,000 epochs).
    The first and last buckets reach the first and last x, so the band spans the data.
    """
    n = y.size
    bucket = int(np.ceil(n / buckets))
    rows = int(np.ceil(n / bucket))
    grid = np.full(rows * bucket, np.nan)
    grid[:n] = y
    grid = grid.reshape(rows, bucket)
    lo, hi = np.fmin.reduce(grid, axis=1), np.fmax.reduce(grid, axis=1)  # NaN only where a bucket is all NaN
    xs = x[np.minimum(np.arange(rows) * bucket + bucket // 2, n - 1)].astype(float)
    xs[0], xs[-1] = x[0], x[n - 1]
    valid = ~np.isnan(lo)
    edges = np.flatnonzero(np.diff(np.concatenate([[False], valid, [False]]).astype(np.int8)))
    return [np.concatenate([np.column_stack([xs[a:b], hi[a:b]]), np.column_stack([xs[a:b][::-1], lo[a:b][::-1]])])
            for a, b in zip(edges[::2], edges[1::2])]


def epoch_tick(value: float, _pos: int | None = None) -> str:
    """An epoch axis label: `40`, `2500`, then `10k`, `95.5k`, `1.2M`, so long runs' labels never run together."""
    if abs(value) < 10_000:
        return f"{value:g}"
    if abs(value) < 1_000_000:
        return f"{value / 1000:g}k"
    return f"{value / 1_000_000:g}M"


class _Columns:
    """One history's columns as arrays, kept between updates: an update converts only the epochs added since.

    History columns only grow (a new run is a new History), so the arrays and the rolling spreads of the
    epochs already seen stay valid; the spreads of the new epochs need only the window before them.
    """

    def __init__(self, history: History) -> None:
        self.history = history
        self.n = 0
        empty = np.empty(0)
        self.x = self.train = self.val = self.train_spread = self.val_spread = empty
        self.plateau = Plateau()  # the shared plateau rule, fed each epoch once
        self.lr_changes: list[tuple[int, float, float]] = []  # (first epoch at the new lr, old lr, new lr)
        self._last_lr = float("nan")

    def valid_for(self, history: History) -> bool:
        n = self.n
        return (history is self.history and history.n_epochs >= n
                and (n == 0 or history.epochs[n - 1] == self.x[n - 1]))

    def extend(self) -> None:
        h, k = self.history, self.n
        n = h.n_epochs
        if n == k:
            return
        self.x = np.concatenate([self.x, _shown(h.epochs[k:])])
        self.train = np.concatenate([self.train, _shown(h.train_loss[k:])])
        self.val = np.concatenate([self.val, _shown(h.val_loss[k:])])
        lo = max(0, k - (INSTABILITY_WINDOW - 1))  # the new epochs' windows reach this far back
        spread = rolling_spread(np.vstack([self.train[lo:], self.val[lo:]]))[:, k - lo:]  # both curves, one pass
        self.train_spread = np.concatenate([self.train_spread, spread[0]])
        self.val_spread = np.concatenate([self.val_spread, spread[1]])
        self.plateau.extend(h.epochs[k:], h.val_loss[k:])
        # lr changes among the new epochs, vectorised (a 100,000-epoch attach folds them in one go)
        lr = np.asarray(h.lr[k:], dtype=float)
        valid = ~np.isnan(lr)
        rates, numbers = lr[valid], np.asarray(h.epochs[k:])[valid]
        if rates.size:
            before = np.concatenate([[self._last_lr], rates[:-1]])
            for i in np.flatnonzero((rates != before) & ~np.isnan(before)):
                self.lr_changes.append((int(numbers[i]), float(before[i]), float(rates[i])))
            self._last_lr = float(rates[-1])
        self.n = n


DISPLAY_MAX = 1e12  # values beyond +-this are not drawn (as NaN): no epoch or loss is that large, and
# matplotlib's ticks fail on ranges near the float limit, which a hostile or corrupt log can hold (1e308)


def _shown(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return np.where(np.abs(arr) <= DISPLAY_MAX, arr, np.nan)


def _max_points(ax: Axes) -> int:
    """Points per line worth drawing in `ax`: POINTS_PER_PIXEL per pixel of its width, MAX_POINTS at most."""
    width = ax.bbox.width
    if not np.isfinite(width) or width <= 0:
        return MAX_POINTS
    return int(min(MAX_POINTS, max(100, POINTS_PER_PIXEL * width)))


def _limits(ax: Axes, x: np.ndarray, ys: Sequence[np.ndarray], floor: Sequence[float] = ()) -> None:
    """Fit the axes to the data (and to reference values such as a threshold), ignoring NaN. Data that are
    never negative get no negative axis (the padding stops at 0)."""
    x = x[np.isfinite(x)]
    if x.size:
        lo, hi = float(x.min()), float(x.max())
        ax.set_xlim(lo - 0.5, hi + 0.5 if hi > lo else lo + 1.5)
    values = [v[np.isfinite(v)] for v in ys] + [np.asarray(floor, dtype=float)]
    finite = np.concatenate(values) if values else np.empty(0)
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 0.05)
        ax.set_ylim(max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad)


def _loss_limits(ax: Axes, x: np.ndarray, ys: Sequence[np.ndarray]) -> None:
    """The loss panel's limits: linear, or logarithmic when the losses span more than LOG_SPAN (a divergence
    to 1e12 would flatten every other value onto the x axis)."""
    finite = np.concatenate([v[np.isfinite(v)] for v in ys])
    log = finite.size > 0 and finite.min() > 0 and finite.max() / finite.min() > LOG_SPAN
    if log != (ax.get_yscale() == "log"):
        ax.set_yscale("log" if log else "linear")
        if not log:
            ax.yaxis.set_major_locator(MaxNLocator(nbins=TICKS))
    if log:
        _limits(ax, x, [])
        ax.set_ylim(finite.min() / 1.5, finite.max() * 1.5)
    else:
        _limits(ax, x, ys)


CORNER_W, CORNER_H = 0.45, 0.16  # a note's corner: this fraction of the panel's width and height


def _to_emptiest_corner(note, lines) -> None:
    """Move `note` (axes coordinates) to the corner of its axes where `lines` have the fewest points."""
    ax = note.axes
    to_axes = (ax.transData + ax.transAxes.inverted()).transform
    points = [np.column_stack(line.get_data()).astype(float) for line in lines if len(line.get_xdata())]
    pts = np.concatenate(points) if points else np.empty((0, 2))
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if pts.size:
        pts = to_axes(pts)
        # Sample the segments between points too: a steep line crosses a corner without a point in it.
        mid = (pts[1:] + pts[:-1]) / 2 if len(pts) > 1 else pts
        pts = np.concatenate([pts, mid])
    corners = (("right", "top"), ("left", "top"), ("right", "bottom"), ("left", "bottom"))  # ties: first

    def count(corner: tuple[str, str]) -> int:
        x_in = pts[:, 0] >= 1 - CORNER_W if corner[0] == "right" else pts[:, 0] <= CORNER_W
        y_in = pts[:, 1] >= 1 - CORNER_H if corner[1] == "top" else pts[:, 1] <= CORNER_H
        return int(np.count_nonzero(x_in & y_in)) if pts.size else 0

    ha, va = min(corners, key=count)
    note.set_position((0.98 if ha == "right" else 0.02, 0.95 if va == "top" else 0.05))
    note.set_ha(ha)
    note.set_va(va)


class DiagnosticFigure:
    """The four panels in four given axes: (1) losses, (2) val improvement, (3) gap, (4) rolling spread."""

    def __init__(self, axes: Sequence[Axes]) -> None:
        self.ax_loss, self.ax_impr, self.ax_gap, self.ax_spread = axes
        a = self.ax_loss
        (self.train_line,) = a.plot([], [], color=TRAIN_COLOR, lw=1.6, label="Train loss")
        (self.val_line,) = a.plot([], [], color=VAL_COLOR, lw=1.6, label="Val loss")
        (self.best_marker,) = a.plot([], [], "*", color="gold", mec="black", ms=14, zorder=5, label="Best epoch")
        self.best_vline = a.axvline(np.nan, color="gold", ls=":", lw=1.2)
        # Where a resumed run went on in a new trainer process (`train-dl --resume`): a line between the epochs.
        self.resume_lines = a.vlines([], 0, 1, transform=a.get_xaxis_transform(), colors="gray", linestyles="--",
                                     lw=1.0, zorder=1)
        self.resume_text = a.text(np.nan, 0.03, "resumed", transform=a.get_xaxis_transform(), rotation=90,
                                  ha="right", va="bottom", color="gray", fontsize=8)
        # Where the learning rate changed (--lr-schedule plateau): a line before the first epoch at the new lr,
        # labelled with it.
        self.lr_lines = a.vlines([], 0, 1, transform=a.get_xaxis_transform(), colors=LR_COLOR, linestyles="-.",
                                 lw=1.0, zorder=1)
        self.lr_texts: list[Any] = []
        self.overfit_text = a.text(0.98, 0.95, "", transform=a.transAxes, ha="right", va="top",
                                   color="darkred", fontsize=9, fontweight="bold")
        a.set_title("Training and validation loss")
        a.set_xlabel("Epoch")
        a.set_ylabel("Loss")

        a = self.ax_impr
        (self.impr_line,) = a.plot([], [], color="tab:green", lw=1.4)
        a.axhline(0, color="black", lw=0.8)
        self.plateau_text = a.text(0.98, 0.95, "", transform=a.transAxes, ha="right", va="top",
                                   color="darkorange", fontsize=9, fontweight="bold")
        a.set_title("Δ val loss per epoch (current − previous; < 0 is better)")
        a.set_xlabel("Epoch")
        a.set_ylabel("Δ val loss")

        a = self.ax_gap
        (self.gap_line,) = a.plot([], [], color="magenta", lw=1.6, label="Val − train")
        # The red zone spans from the threshold to far above any loss; the y limits clip it to view.
        a.axhspan(OVERFIT_GAP, 1e12, color="red", alpha=0.12, lw=0, label=f"Overfitting (> {OVERFIT_GAP})")
        a.axhline(0, color="black", lw=0.8)
        a.set_title("Generalization gap")
        a.set_xlabel("Epoch")
        a.set_ylabel("Val − train loss")

        a = self.ax_spread
        (self.train_spread_line,) = a.plot([], [], color=TRAIN_COLOR, lw=1.4, label="Train")
        (self.val_spread_line,) = a.plot([], [], color=VAL_COLOR, lw=1.4, label="Val")
        a.axhline(INSTABILITY_STD, color="red", ls="--", lw=1, label=f"Instability ({INSTABILITY_STD})")
        self.spread_text = a.text(0.98, 0.95, "", transform=a.transAxes, ha="right", va="top",
                                  color="darkred", fontsize=9, fontweight="bold")
        a.set_title(f"Spread around trend ({INSTABILITY_WINDOW} epochs)")
        a.set_xlabel("Epoch")
        a.set_ylabel("Std of residuals")

        for a in axes:
            # At most TICKS ticks per axis: every tick is a label drawn glyph by glyph and a grid line, and
            # matplotlib's default of up to 9 made ticks and their text most of a first frame's time.
            a.xaxis.set_major_locator(MaxNLocator(nbins=TICKS, integer=True))
            a.xaxis.set_major_formatter(FuncFormatter(epoch_tick))
            a.yaxis.set_major_locator(MaxNLocator(nbins=TICKS))
            a.grid(True, alpha=0.25)
        # Titles to the left and legends beside them, above the plot: a legend never covers data (and in the
        # window it is not redrawn with the curves at every epoch).
        self.legends = []
        for a in axes:
            title = a.get_title()
            a.set_title("")
            a.set_title(title, loc="left", fontsize=10)
            if a.get_legend_handles_labels()[0]:
                self.legends.append(a.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3, fontsize=8,
                                             frameon=False, borderaxespad=0.1, handlelength=1.6,
                                             columnspacing=1.0))
        self._notes = ((self.overfit_text, (self.train_line, self.val_line)), (self.plateau_text, (self.impr_line,)),
                       (self.spread_text, (self.train_spread_line, self.val_spread_line)))
        self._curves = (self.train_line, self.val_line, self.impr_line, self.gap_line, self.train_spread_line,
                        self.val_spread_line)
        # Each curve's stand-in when it has more points than its panel has pixels (see `envelope`).
        self.bands = tuple(self._band(line) for line in self._curves)
        self._columns: _Columns | None = None

    @staticmethod
    def _band(line) -> PolyCollection:
        band = PolyCollection([], facecolors=line.get_color(), edgecolors=line.get_color(),
                              linewidths=line.get_linewidth(), zorder=line.get_zorder())
        line.axes.add_collection(band, autolim=False)
        return band

    def update(self, history: History, settings: Settings | None = None) -> None:
        """Show `history` (any number of epochs, NaN for null losses). Does not draw the canvas."""
        s = settings or Settings.from_config(history.config)
        # A live view calls this once per epoch: only the new epochs are converted and their spreads computed,
        # so an update on 100,000 epochs costs about what one on 100 does (benchmarks: update cost).
        if self._columns is None or not self._columns.valid_for(history):
            self._columns = _Columns(history)
        cols = self._columns
        cols.extend()
        x, train, val = cols.x, cols.train, cols.val
        # Δ val as every surface shows it (shared.console.delta_val): current − previous, negative is better.
        impr, gap = -improvements(val), gaps(train, val)
        train_spread, val_spread = cols.train_spread, cols.val_spread

        for line, band, y in zip(self._curves, self.bands, (train, val, impr, gap, train_spread, val_spread)):
            max_points = _max_points(line.axes)
            if y.size <= max_points:
                line.set_data(x, y)
                band.set_verts([])
            else:
                line.set_data([], [])
                band.set_verts(envelope(x, y, max_points // POINTS_PER_PIXEL))
        marker = "o" if x.size <= MARKER_EPOCHS else "None"
        for line in self._curves:
            line.set_marker(marker)
            line.set_markersize(3)

        best = history.best_epoch
        i = int(np.searchsorted(x, best)) if best is not None else x.size  # epochs only increase
        if i < x.size and x[i] == best:
            self.best_marker.set_data([best], [val[i]])
            self.best_vline.set_xdata([best, best])
        else:
            self.best_marker.set_data([], [])
            self.best_vline.set_xdata([np.nan, np.nan])

        resumed = [epoch + 0.5 for epoch in getattr(history, "resumes", ())]
        self.resume_lines.set_segments([[(r, 0.0), (r, 1.0)] for r in resumed])
        self.resume_text.set_x(resumed[-1] if resumed else np.nan)

        tail_train, tail_val = list(train[-(PLATEAU_EPOCHS + 1):]), list(val[-(PLATEAU_EPOCHS + 1):])
        over = check_overfitting(tail_train, tail_val, s)
        self.overfit_text.set_text(f"Overfitting: gap {gap[-1]:+.3f} > {OVERFIT_GAP}" if over else "")
        rule = cols.plateau
        self.plateau_text.set_text(
            f"Plateau: no new best for {rule.wait} epochs (best at epoch {rule.best_epoch})" if rule.firing else "")
        latest = [v for v in (train_spread[-1:], val_spread[-1:]) if v.size and np.isfinite(v[0])]
        unstable = any(v[0] > INSTABILITY_STD for v in latest)
        if x.size < INSTABILITY_WINDOW:
            self.spread_text.set_text(f"needs {INSTABILITY_WINDOW} epochs")
            self.spread_text.set_color("gray")
        else:
            self.spread_text.set_text("Unstable" if unstable else "")
            self.spread_text.set_color("darkred")

        _loss_limits(self.ax_loss, x, [train, val])
        _limits(self.ax_impr, x, [impr], floor=[0.0])
        _limits(self.ax_gap, x, [gap], floor=[0.0, OVERFIT_GAP * 1.5])
        _limits(self.ax_spread, x, [train_spread, val_spread], floor=[0.0, INSTABILITY_STD * 1.2])
        if not np.isfinite(x).any():  # no epoch yet: show the epochs to come, not matplotlib's -0.06..0.06
            for ax in (self.ax_loss, self.ax_impr, self.ax_gap, self.ax_spread):
                ax.set_xlim(0.5, (history.planned_epochs or 10) + 0.5)
        self._mark_lr_changes(cols.lr_changes)  # after the limits: the labels go where the curves are not
        self.place_notes()

    def _mark_lr_changes(self, changes: list[tuple[int, float, float]]) -> None:
        """A dash-dot line before each epoch that trained with a new lr, labelled `lr 5e-4` (the latest
        LR_LABELS changes only, so a long schedule does not bury the panel in text)."""
        # Only changes inside the panel's x range: a label outside it is invisible anyway, and one at an
        # absurd epoch (a hostile log's -2e18) lands at a pixel position FreeType cannot rasterise.
        lo, hi = sorted(self.ax_loss.get_xlim())
        changes = [c for c in changes if lo <= c[0] - 0.5 <= hi]
        xs = [epoch - 0.5 for epoch, _, _ in changes]
        self.lr_lines.set_segments([[(x, 0.0), (x, 1.0)] for x in xs])
        shown = changes[-LR_LABELS:]
        while len(self.lr_texts) < len(shown):
            # Beside its line, at the height where the losses are farthest away (see update), small.
            # An annotation with annotation_clip is not drawn while its point is outside the panel: the
            # window's limits can move after this (held or fitted x), and a label at an absurd epoch would
            # otherwise be rasterised far off the canvas, where FreeType overflows.
            self.lr_texts.append(self.ax_loss.annotate("", (np.nan, 0.5), xycoords=self.ax_loss.get_xaxis_transform(),
                                                       annotation_clip=True, rotation=90, ha="right", va="center",
                                                       color=LR_COLOR, fontsize=8))
        for text, change in zip(self.lr_texts, shown + [None] * (len(self.lr_texts) - len(shown))):
            if change is None:
                text.xy = (np.nan, 0.5)
                text.set_position(text.xy)
                text.set_text("")
            else:
                text.xy = (change[0] - 0.5, self._emptiest_height(change[0]))
                text.set_position(text.xy)
                text.set_text(f"lr {fmt_num(change[2])}")

    def _emptiest_height(self, epoch: int) -> float:
        """Of the bottom, middle and top of the loss panel (axes fractions), the one farthest from the losses
        at the epochs around `epoch`: where an lr label hides no data."""
        heights = (0.2, 0.5, 0.8)
        lo, hi = self.ax_loss.get_ylim()
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
            return 0.5
        near = []
        for line in (self.train_line, self.val_line):
            x, y = (np.asarray(v, dtype=float) for v in line.get_data())
            near.extend(y[(np.abs(x - (epoch - 0.5)) <= 1.5) & np.isfinite(y)])
        if not near:
            return 0.5
        if self.ax_loss.get_yscale() == "log":
            pos = np.log10(np.maximum(near, 1e-300))
            lo, hi = np.log10(max(lo, 1e-300)), np.log10(hi)
        else:
            pos = np.asarray(near)
        frac = (pos - lo) / (hi - lo)
        return max(heights, key=lambda h: float(np.min(np.abs(frac - h))))

    def place_notes(self) -> None:
        """Put each panel's note (overfitting, plateau, instability) in the corner of its panel with the
        fewest data points, so it never sits on a curve; call again after changing the limits."""
        for note, lines in self._notes:
            if note.get_text():
                _to_emptiest_corner(note, lines)


# Fixed margins (fractions of the 12x9 in figure at 100 dpi) instead of layout="constrained": the solver ran
# on every save, which took 355 ms instead of 220 ms (demo run, 2-core machine). They leave room for y tick
# labels of 7 characters ("-0.0004") beside the y labels, a 6-digit x tick label ("100000") half out at a
# panel's right edge, the x labels, panel titles raised by an offset text ("1e-5") and a one-line suptitle;
# tests/test_figure.py renders such ranges and checks that nothing overlaps or is cut.
PANEL_MARGINS = {"left": 0.075, "right": 0.97, "bottom": 0.06, "top": 0.91, "wspace": 0.25, "hspace": 0.3}
TITLE_SIZES = (12, 10, 8)  # pt: a suptitle wider than the figure shrinks, then loses the middle of its text
PNG_COMPRESS_LEVEL = 3  # zlib level, 0-9: see save_png


def _fit_title(fig: Figure, title: str) -> None:
    """Set the suptitle so that it fits the figure's width: no layout engine would otherwise keep it in."""
    title = printable(title)
    text = fig.suptitle(title, fontsize=TITLE_SIZES[0], **FIGURE_TEXT)  # a run dir may be named `$EXP_$RUN`
    room = fig.bbox.width * 0.98
    for size in TITLE_SIZES:
        text.set_fontsize(size)
        width = text.get_window_extent().width
        if width <= room:
            return
    # Still too wide at the smallest size (a long run dir path): keep both ends, which hold the run id and
    # the epochs and end reason, and elide the middle.
    keep = int(len(title) * room / width)
    while width > room and keep > 2:
        keep -= 2
        text.set_text(f"{title[:keep // 2]}…{title[len(title) - keep // 2:]}")
        width = text.get_window_extent().width


def new_figure(title: str | None = None) -> tuple[Figure, DiagnosticFigure]:
    """A standalone 2x2 figure for files (no pyplot, no GUI backend: safe in any thread or process)."""
    fig = Figure(figsize=(12, 9), dpi=100)
    axes = fig.subplots(2, 2, gridspec_kw=PANEL_MARGINS).ravel()
    if title:
        _fit_title(fig, title)
    return fig, DiagnosticFigure(axes)


def figure_title(history: History, run_dir: str | None = None) -> str:
    parts = [f"stlar-dl run {history.run_id}" if history.run_id else "stlar-dl run"]
    if run_dir:
        parts.append(str(run_dir))
    if history.n_epochs:
        parts.append(f"{history.n_epochs}/{history.planned_epochs} epochs")
    if history.end is not None:
        parts.append(end_words(history.end["reason"]))
    best = history.best_epoch
    if best is not None:
        # The best epoch's validation metrics: the figure's panels plot losses only. Last in the title, so a
        # long run dir elided from the middle never hides them (see _fit_title).
        metrics = history.metrics_at(best)
        shown = [f"{metric_label(k)} {metrics[k]:.4f}" for k in EPOCH_LINE_METRICS
                 if k in metrics and np.isfinite(metrics[k])]
        parts.append(", ".join([f"best epoch {best}: val loss {history.best_val_loss:.4f}"
                                if history.best_val_loss is not None else f"best epoch {best}", *shown]))
    return " | ".join(parts)


def save_png(history: History, path: str | Path, title: str | None = None) -> None:
    """Render the figure of `history` to a PNG file atomically."""
    fig, panels = new_figure(title if title is not None else figure_title(history))
    panels.update(history)
    with atomic_path(path) as tmp:
        # zlib level 3, not Pillow's 6: encoding takes 25 ms instead of 38 for a file about 10% larger.
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
