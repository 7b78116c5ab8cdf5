"""The panels' axes: ticks, tick labels and limits fitted to the data (linear, or logarithmic for losses
spanning decades)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

TICKS = 5  # tick intervals per axis at most (matplotlib's MaxNLocator nbins)
LOG_SPAN = 100.0  # losses spanning more than this factor (two decades) get a logarithmic axis


def epoch_tick(value: float, _pos: int | None = None) -> str:
    """An epoch axis label: `40`, `2500`, then `10k`, `95.5k`, `1.2M`, so long runs' labels never run together."""
    if abs(value) < 10_000:
        return f"{value:g}"
    if abs(value) < 1_000_000:
        return f"{value / 1000:g}k"
    return f"{value / 1_000_000:g}M"


def style_ticks(ax: Axes) -> None:
    """Epoch ticks on x, at most TICKS ticks per axis, a light grid."""
    # At most TICKS ticks per axis: every tick is a label drawn glyph by glyph and a grid line, and
    # matplotlib's default of up to 9 made ticks and their text most of a first frame's time.
    ax.xaxis.set_major_locator(MaxNLocator(nbins=TICKS, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(epoch_tick))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=TICKS))
    ax.grid(True, alpha=0.25)


def fit_limits(ax: Axes, x: np.ndarray, ys: Sequence[np.ndarray], floor: Sequence[float] = ()) -> None:
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


def fit_loss_limits(ax: Axes, x: np.ndarray, ys: Sequence[np.ndarray]) -> None:
    """The loss panel's limits: linear, or logarithmic when the losses span more than LOG_SPAN (a divergence
    to 1e12 would flatten every other value onto the x axis)."""
    finite = np.concatenate([v[np.isfinite(v)] for v in ys])
    log = finite.size > 0 and finite.min() > 0 and finite.max() / finite.min() > LOG_SPAN
    if log != (ax.get_yscale() == "log"):
        ax.set_yscale("log" if log else "linear")
        if not log:
            ax.yaxis.set_major_locator(MaxNLocator(nbins=TICKS))
    if log:
        fit_limits(ax, x, [])
        ax.set_ylim(finite.min() / 1.5, finite.max() * 1.5)
    else:
        fit_limits(ax, x, ys)
