"""What each panel of the diagnostic figure plots, as arrays: pure numpy, no matplotlib.

`Columns` keeps one history's columns between updates, so a live update converts only the new epochs.
`envelope` is how a curve with more points than its panel has pixels is drawn: as the band between each
pixel's minimum and maximum (every spike stays visible); stroking 100,000 points where a panel has 550
pixels buys nothing. The data stay whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shared.curve_metrics import INSTABILITY_WINDOW, rolling_spread
from shared.history import History
from shared.plateau import Plateau

MAX_POINTS = 2000  # points per line at most; more are drawn as a min/max band (`envelope`) ...
POINTS_PER_PIXEL = 2  # ... as are more than this many per pixel of the panel's width (a band has a min and a
# max per pixel)
DISPLAY_MAX = 1e12  # values beyond +-this are not drawn (as NaN): no epoch or loss is that large, and
# matplotlib's ticks fail on ranges near the float limit, which a hostile or corrupt log can hold (1e308)


def shown(values: Sequence[float]) -> np.ndarray:
    """`values` as floats, NaN where beyond DISPLAY_MAX (not drawn)."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.abs(arr) <= DISPLAY_MAX, arr, np.nan)


def max_points(width: float) -> int:
    """Points per line worth drawing in a panel `width` pixels wide: POINTS_PER_PIXEL per pixel, MAX_POINTS at
    most (and MAX_POINTS where the width is not known yet)."""
    if not np.isfinite(width) or width <= 0:
        return MAX_POINTS
    return int(min(MAX_POINTS, max(100, POINTS_PER_PIXEL * width)))


def envelope(x: np.ndarray, y: np.ndarray, buckets: int) -> list[np.ndarray]:
    """The band between each bucket's minimum and maximum of `y`, as polygons (one per stretch without NaN).

    What a line through every point shows when there are more points than pixels: drawn as a filled band with
    its outline stroked, a smooth curve looks like a line and a noisy one like the area its zigzag fills, at a
    fraction of the cost of stroking thousands of up-and-down segments (14 ms -> 2 ms at 100,000 epochs).
    The first and last buckets reach the first and last x, so the band spans the data.
    """
    n = y.size
    grid, bucket, rows = _bucketed(y, buckets)
    lo, hi = np.fmin.reduce(grid, axis=1), np.fmax.reduce(grid, axis=1)  # NaN only where a bucket is all NaN
    xs = x[np.minimum(np.arange(rows) * bucket + bucket // 2, n - 1)].astype(float)
    xs[0], xs[-1] = x[0], x[n - 1]
    valid = ~np.isnan(lo)
    edges = np.flatnonzero(np.diff(np.concatenate([[False], valid, [False]]).astype(np.int8)))
    return [np.concatenate([np.column_stack([xs[a:b], hi[a:b]]), np.column_stack([xs[a:b][::-1], lo[a:b][::-1]])])
            for a, b in zip(edges[::2], edges[1::2])]


class Columns:
    """One history's columns as arrays, kept between updates: an update converts only the epochs added since.

    History columns only grow (a new run is a new History), so the arrays and the rolling spreads of the
    epochs already seen stay valid; the spreads of the new epochs need only the window before them.
    """

    def __init__(self, history: History, metrics: Sequence[str] = ()) -> None:
        self.history = history
        self.n = 0
        self.metric_keys = tuple(metrics)  # the metric columns to keep, where the log has them
        self.metrics: dict[str, np.ndarray] = {}
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
        self.x = np.concatenate([self.x, shown(h.epochs[k:])])
        self.train = np.concatenate([self.train, shown(h.train_loss[k:])])
        self.val = np.concatenate([self.val, shown(h.val_loss[k:])])
        lo = max(0, k - (INSTABILITY_WINDOW - 1))  # the new epochs' windows reach this far back
        spread = rolling_spread(np.vstack([self.train[lo:], self.val[lo:]]))[:, k - lo:]  # both curves, one pass
        self.train_spread = np.concatenate([self.train_spread, spread[0]])
        self.val_spread = np.concatenate([self.val_spread, spread[1]])
        self.plateau.extend(h.epochs[k:], h.val_loss[k:])
        for key in self.metric_keys:
            column = h.metrics.get(key)
            if column is not None:  # (a metric first logged at a later epoch is NaN before it in History)
                self.metrics[key] = np.concatenate([self.metrics.get(key, np.full(k, np.nan)), shown(column[k:])])
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


def min_max_line(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The points of (`x`, `y`) that are each bucket's minimum and maximum, in their order: a line through them
    looks like the line through every point (at a bucket per pixel, every spike stays), at 2 points a bucket.

    For thin dashed lines, where a filled band (`envelope`) would not read as a line. A bucket without a
    finite value keeps a NaN point, so gaps stay gaps.
    """
    n = y.size
    grid, bucket, rows = _bucketed(y, buckets)
    missing = np.isnan(grid)
    low = np.where(missing, np.inf, grid).argmin(axis=1)  # an all-NaN bucket: its first point, NaN
    high = np.where(missing, -np.inf, grid).argmax(axis=1)
    base = np.arange(rows) * bucket
    index = np.minimum(np.column_stack([base + np.minimum(low, high), base + np.maximum(low, high)]).ravel(), n - 1)
    return x[index], y[index]


def _bucketed(y: np.ndarray, buckets: int) -> tuple[np.ndarray, int, int]:
    """`y` as a (rows, bucket) grid of at most `buckets` rows of consecutive points, NaN-padded at the end."""
    n = y.size
    bucket = int(np.ceil(n / buckets))
    rows = int(np.ceil(n / bucket))
    grid = np.full(rows * bucket, np.nan)
    grid[:n] = y
    return grid.reshape(rows, bucket), bucket, rows
