"""Text on the figure that never covers data: titles and legends above the plot, each panel's note in its
emptiest corner, and the learning rate's change marks with their labels at the emptiest height."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from shared.number_format import fmt_num

CORNER_W, CORNER_H = 0.45, 0.16  # a note's corner: this fraction of the panel's width and height
LR_COLOR = "tab:purple"  # the lr change marks on the loss panel
LR_LABELS = 12  # label at most this many (the latest) lr changes
MARK_ZORDER = 1.6  # vertical marks (lr changes, resumes): over the grid (1.5), under the curves (2). Under the
# grid, a window's partial redraw (which draws the marks over the kept grid) would differ from a full draw.


def title_and_legend(ax: Axes) -> Any:
    """Move `ax`'s title to the left and put its legend (if it has labelled artists) beside it, above the
    plot: a legend never covers data (and in the window it is not redrawn with the curves at every epoch).
    Returns the legend, or None."""
    title = ax.get_title()
    ax.set_title("")
    ax.set_title(title, loc="left", fontsize=10)
    if not ax.get_legend_handles_labels()[0]:
        return None
    return ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3, fontsize=8, frameon=False,
                     borderaxespad=0.1, handlelength=1.6, columnspacing=1.0)


def _points_in_axes(ax: Axes, lines: Sequence[Any]) -> np.ndarray:
    """The finite points of `lines` (each in its own coordinates: a twin axis' lines too) in `ax`'s axes
    fractions, with the midpoints of their segments: a steep line crosses a corner without a point in it."""
    to_axes = ax.transAxes.inverted()
    found = [np.empty((0, 2))]
    for line in lines:
        if not len(line.get_xdata()):
            continue
        pts = (line.get_transform() + to_axes).transform(np.column_stack(line.get_data()).astype(float))
        found += [pts, (pts[1:] + pts[:-1]) / 2]
    pts = np.concatenate(found)
    return pts[np.all(np.isfinite(pts), axis=1)]


def to_emptiest_corner(note: Any, lines: Sequence[Any]) -> None:
    """Move `note` (axes coordinates) to the corner of its axes where `lines` have the fewest points."""
    pts = _points_in_axes(note.axes, lines)
    corners = (("right", "top"), ("left", "top"), ("right", "bottom"), ("left", "bottom"))  # ties: first

    def count(corner: tuple[str, str]) -> int:
        x_in = pts[:, 0] >= 1 - CORNER_W if corner[0] == "right" else pts[:, 0] <= CORNER_W
        y_in = pts[:, 1] >= 1 - CORNER_H if corner[1] == "top" else pts[:, 1] <= CORNER_H
        return int(np.count_nonzero(x_in & y_in)) if pts.size else 0

    ha, va = min(corners, key=count)
    note.set_position((0.98 if ha == "right" else 0.02, 0.95 if va == "top" else 0.05))
    note.set_ha(ha)
    note.set_va(va)


def emptiest_height(ax: Axes, points: np.ndarray, x: float) -> float:
    """Of the bottom, middle and top of `ax` (axes fractions), the one farthest from `points` (axes fractions,
    see `_points_in_axes`) within 1.5 epochs of `x`: where a label beside a vertical line at `x` hides no data."""
    heights = (0.2, 0.5, 0.8)
    lo, hi = ax.get_xlim()
    if not points.size or not (np.isfinite(lo) and np.isfinite(hi)) or hi == lo:
        return 0.5
    at = (x - lo) / (hi - lo)
    near = points[np.abs(points[:, 0] - at) <= 1.5 / abs(hi - lo), 1]
    if not near.size:
        return 0.5
    return max(heights, key=lambda h: float(np.min(np.abs(near - h))))


class LrMarks:
    """Where the learning rate changed (--lr-schedule plateau): a dash-dot line before the first epoch at the
    new lr, labelled `lr 5e-4` (the latest LR_LABELS changes only, so a long schedule does not bury the
    panel in text)."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.lines = ax.vlines([], 0, 1, transform=ax.get_xaxis_transform(), colors=LR_COLOR, linestyles="-.",
                               lw=1.0, zorder=MARK_ZORDER)
        # Every label, made now (empty, at no point, not drawn) rather than on the first change: a window
        # redraws a fixed list of changing artists between full frames (viewer/frames.py).
        self.texts = [self._label() for _ in range(LR_LABELS)]

    def _label(self) -> Any:
        # Beside its line, at the height where the data are farthest away, small. An annotation with
        # annotation_clip is not drawn while its point is outside the panel: the window's limits can move
        # after this (held or fitted x), and a label at an absurd epoch would otherwise be rasterised far off
        # the canvas, where FreeType overflows.
        return self.ax.annotate("", (np.nan, 0.5), xycoords=self.ax.get_xaxis_transform(), annotation_clip=True,
                                rotation=90, ha="right", va="center", color=LR_COLOR, fontsize=8)

    def mark(self, changes: list[tuple[int, float, float]], avoid: Sequence[Any]) -> None:
        """Show `changes` ((first epoch at the new lr, old lr, new lr)); labels keep clear of `avoid`'s lines.
        Call after the limits are set: only changes inside the x range are marked."""
        # Only changes inside the panel's x range: a label outside it is invisible anyway, and one at an
        # absurd epoch (a hostile log's -2e18) lands at a pixel position FreeType cannot rasterise.
        lo, hi = sorted(self.ax.get_xlim())
        changes = [c for c in changes if lo <= c[0] - 0.5 <= hi]
        xs = [epoch - 0.5 for epoch, _, _ in changes]
        self.lines.set_segments([[(x, 0.0), (x, 1.0)] for x in xs])
        shown = changes[-LR_LABELS:]
        points = _points_in_axes(self.ax, avoid) if shown else np.empty((0, 2))
        for text, change in zip(self.texts, shown + [None] * (len(self.texts) - len(shown))):
            if change is None:
                text.xy = (np.nan, 0.5)
                text.set_position(text.xy)
                text.set_text("")
            else:
                text.xy = (change[0] - 0.5, emptiest_height(self.ax, points, change[0] - 0.5))
                text.set_position(text.xy)
                text.set_text(f"lr {fmt_num(change[2])}")
