"""Runs overlaid in one panel: val loss solid and train loss dashed (or one chosen metric), a colour per run,
each run's best epoch starred, and an X where a crashed or diverged run's curve stops.

Pure drawing on a given Axes (no pyplot): the PNG, the window and the tests use the same class. Artists are
made once per run and updated with `set_data`, as in `shared.figure`. A curve with more points than the
panel has pixels is thinned for display to each pixel's minimum and maximum (`thin`): every spike stays
visible, dashes stay dashes, and the data stay whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from shared.figure_axes import epoch_tick
from shared.figure_data import DISPLAY_MAX
from shared.history import History
from viewer.runsummary import TRAIN_LOSS, UNSETTLED, VAL_LOSS, best_point, column

MAX_POINTS = 1500  # points per line at most; more are thinned (see `thin`)
MARKER_EPOCHS = 40  # up to this many epochs each point gets a dot, so a run of 1 or 2 epochs is visible
HIGHLIGHT_WIDTH, NORMAL_WIDTH, DIMMED_ALPHA = 2.8, 1.5, 0.18
ENDED_BADLY = frozenset({"crashed", "diverged"})


def run_colour(index: int) -> str:
    """Distinct colours for the first 10 runs (tab10), then 10 more (tab20's light shades), then again."""
    tab10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
             "#17becf")
    light = ("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d",
             "#9edae5")
    palette = tab10 + light
    return palette[index % len(palette)]


def metric_title(metric: str) -> str:
    if metric == VAL_LOSS:
        return "Validation loss (solid) and training loss (dashed)"
    text = metric.replace("_", " ").replace("val ", "validation ").replace("train ", "training ")
    text = text.replace("auroc", "AUROC")
    return text[:1].upper() + text[1:]


def thin(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` points that draw like all of them: each bucket's minimum and maximum, in x order.

    NaN gaps survive where a whole bucket is NaN (a diverged stretch stays a gap)."""
    n = y.size
    if n <= max_points:
        return x, y
    buckets = max(1, max_points // 2)
    size = int(math.ceil(n / buckets))
    rows = int(math.ceil(n / size))
    grid = np.full(rows * size, np.nan)
    grid[:n] = y
    grid = grid.reshape(rows, size)
    empty = np.isnan(grid).all(axis=1)
    safe = np.where(np.isnan(grid), np.inf, grid)
    lo_i = safe.argmin(axis=1)
    hi_i = np.where(np.isnan(grid), -np.inf, grid).argmax(axis=1)
    first, second = np.minimum(lo_i, hi_i), np.maximum(lo_i, hi_i)
    base = np.arange(rows) * size
    idx = np.column_stack([base + first, base + second]).ravel()
    idx = np.minimum(idx, n - 1)
    xs, ys = x[idx].astype(float), y[idx].astype(float)
    ys[np.repeat(empty, 2)] = np.nan
    return xs, ys


@dataclass
class Shown:
    """One run as the figure draws it."""

    key: str
    history: History
    colour: str
    label: str
    verdict: str


class _Artists:
    def __init__(self, ax: Axes, key: str, colour: str) -> None:
        (self.main,) = ax.plot([], [], color=colour, lw=NORMAL_WIDTH, gid=key, picker=True, pickradius=5)
        (self.dashed,) = ax.plot([], [], color=colour, lw=NORMAL_WIDTH * 0.8, ls="--", gid=key, picker=True,
                                 pickradius=5)
        (self.best,) = ax.plot([], [], "*", color=colour, mec="black", mew=0.8, ms=13, zorder=6, gid=key)
        (self.end,) = ax.plot([], [], "X", color=colour, mec="black", mew=0.8, ms=9, zorder=7, gid=key)

    @property
    def all(self) -> tuple[Line2D, ...]:
        return self.main, self.dashed, self.best, self.end


class CompareFigure:
    """The overlay panel in `ax`, for `metric` (`val_loss` draws train loss dashed beside it)."""

    def __init__(self, ax: Axes, metric: str = VAL_LOSS) -> None:
        self.ax = ax
        self.metric = metric
        self.highlighted: str | None = None
        self._artists: dict[str, _Artists] = {}
        self._legend_key: tuple = ()
        ax.set_title(metric_title(metric), fontsize=11)
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Loss" if metric in (VAL_LOSS, TRAIN_LOSS) else metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(epoch_tick))
        ax.grid(True, alpha=0.25)
        self._empty_text = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center",
                                   color="dimgray", fontsize=11)

    def update(self, runs: Sequence[Shown]) -> None:
        """Show `runs` (in this order in the legend). Does not draw the canvas."""
        xs, ys, planned = [], [], []
        keys = {run.key for run in runs}
        for key in [k for k in self._artists if k not in keys]:  # a run no longer shown
            for artist in self._artists.pop(key).all:
                artist.remove()
        for run in runs:
            art = self._artists.get(run.key) or self._artists.setdefault(run.key, _Artists(self.ax, run.key,
                                                                                            run.colour))
            h = run.history
            x = np.asarray(h.epochs, dtype=float)
            y = _shown(column(h, self.metric))
            width = _width(self.ax)
            art.main.set_data(*thin(x, y, width))
            if self.metric == VAL_LOSS:
                train = _shown(h.train_loss)
                art.dashed.set_data(*thin(x, train, width))
                ys.append(train)
            marker = "o" if x.size <= MARKER_EPOCHS else "None"
            for line in (art.main, art.dashed):
                line.set_marker(marker)
                line.set_markersize(3)
            best = best_point(h, self.metric)
            art.best.set_data(*([best[0]], [best[1]]) if best else ([], []))
            finite = np.flatnonzero(np.isfinite(y))
            if run.verdict in ENDED_BADLY and finite.size:
                art.end.set_data([x[finite[-1]]], [y[finite[-1]]])
            else:
                art.end.set_data([], [])
            xs.append(x)
            ys.append(y)
            # A run that may still train shows where it is heading; an ended one only what it ran (an early
            # stop at 30 of 1,000 planned epochs must not squeeze every curve into the left edge).
            planned.append((h.planned_epochs or 0, run.verdict in UNSETTLED))
        self._style()
        self._legend(runs)
        self._limits(xs, ys, planned)
        shown = any(np.isfinite(y).any() for y in ys)
        self._empty_text.set_text("" if shown else ("no epoch logged yet" if runs else "no runs yet"))

    def highlight(self, key: str | None) -> None:
        """Draw run `key` bold and the others faint; None shows every run alike."""
        self.highlighted = key if key in self._artists else None
        self._style()

    def _style(self) -> None:
        for key, art in self._artists.items():
            on = self.highlighted == key
            alpha = 1.0 if self.highlighted is None or on else DIMMED_ALPHA
            for line in art.all:
                line.set_alpha(alpha)
                line.set_zorder(5 if on else 2)
            art.best.set_zorder(7 if on else 6)
            art.end.set_zorder(8 if on else 7)
            art.main.set_linewidth(HIGHLIGHT_WIDTH if on else NORMAL_WIDTH)
            art.dashed.set_linewidth((HIGHLIGHT_WIDTH if on else NORMAL_WIDTH) * 0.8)

    def _legend(self, runs: Sequence[Shown]) -> None:
        labels = tuple((run.key, run.label + ("" if run.history.n_epochs else " (no epoch yet)")) for run in runs)
        if labels == self._legend_key:
            return
        self._legend_key = labels
        if not runs:
            legend = self.ax.get_legend()
            if legend is not None:
                legend.remove()
            return
        handles = [self._artists[key].main for key, _ in labels]
        self.ax.legend(handles, [text for _, text in labels], loc="best", fontsize=8,
                       ncol=2 if len(labels) > 8 else 1, framealpha=0.85)

    def _limits(self, xs: list[np.ndarray], ys: list[np.ndarray], planned: list[tuple[int, bool]]) -> None:
        ran = [int(np.nanmax(x)) for x in xs if x.size]
        heading = [plan for plan, unsettled in planned if unsettled]
        # No epoch anywhere yet: the epochs planned, as watch shows a run that has not begun.
        last = max(ran + heading) if ran or heading else max([plan for plan, _ in planned] + [1])
        self.ax.set_xlim(0.5, max(last, 1) + 0.5)
        finite = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.empty(0)
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            pad = (hi - lo) * 0.06 or max(abs(hi) * 0.1, 0.05)
            self.ax.set_ylim(lo - pad, hi + pad)


def _shown(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return np.where(np.abs(arr) <= DISPLAY_MAX, arr, np.nan)


def _width(ax: Axes) -> int:
    width = ax.bbox.width
    return int(min(MAX_POINTS, max(200, 2 * width))) if np.isfinite(width) and width > 0 else MAX_POINTS
