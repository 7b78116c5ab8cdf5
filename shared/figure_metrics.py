"""The validation metrics on the loss panel: val AUROC and val accuracy on a twin y axis (0-1) at its right.

Thin, dashed and dotted, in muted colours: they share the panel with the losses without fighting them. Their
legend sits above the loss panel's (outside the data). A run whose log holds neither metric (an older log)
shows no twin axis at all: no empty scale, no legend entries.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter
from matplotlib.transforms import ScaledTranslation

from shared.figure_data import min_max_line
from shared.names import metric_label

TWIN_METRICS = {"val_auroc": ("tab:olive", "--"), "val_accuracy": ("tab:brown", ":")}  # key: colour, line style
AXIS_LABEL = "val AUROC / accuracy"
SCALE = (-0.04, 1.04)  # 0-1 with a margin: a perfect score (1.0, common on a small val set) shows inside the frame,
# not on it, and no tick sits on a spine (a partial redraw draws spines after the ticks, a full draw before)
AXIS_COLOR = "dimgray"  # the twin's ticks and label: a secondary scale, quieter than the loss axis
LEGEND_SIZE = 8  # pt, as the other legends
LEGEND_ROW = 1.3  # the metric legend sits this many font sizes above the loss legend (one legend row)
MARKER_EPOCHS = 2  # up to this many epochs a point gets a dot (a lone point draws no line); then none: quiet


class MetricAxis:
    """A twin y axis on `ax` (sharing its x) with one line per metric of TWIN_METRICS and their legend, one
    row above `ax`'s own legend; all hidden until a metric has a finite value."""

    def __init__(self, ax: Axes) -> None:
        self.host = ax
        m = self.ax = ax.twinx()
        m.set_ylim(*SCALE)
        # Three ticks, `0`, `0.5`, `1`: enough for a 0-1 scale, and narrow (the next panel's labels are close).
        m.yaxis.set_major_locator(FixedLocator([0.0, 0.5, 1.0]))
        m.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        m.set_ylabel(AXIS_LABEL, color=AXIS_COLOR)
        m.tick_params(axis="y", colors=AXIS_COLOR)
        self.lines = {}
        for key, (color, style) in TWIN_METRICS.items():
            # No markers and thin: two more curves of up to 100,000 epochs must cost little (see `update`).
            (self.lines[key],) = m.plot([], [], color=color, ls=style, lw=1.1, label=metric_label(key))
        self.legend = m.legend(loc="lower right", ncols=len(self.lines), fontsize=LEGEND_SIZE, frameon=False,
                               borderaxespad=0.1, handlelength=2.2, columnspacing=1.0)
        self.fit_legend(LEGEND_SIZE)
        m.set_visible(False)

    def fit_legend(self, size: float) -> None:
        """Set the legend's font size to `size` (pt) and stack it one row above the loss panel's legend."""
        for text in self.legend.get_texts():
            text.set_fontsize(size)
        fig = self.ax.figure
        self.legend.set_bbox_to_anchor((1.0, 1.0), transform=self.ax.transAxes + ScaledTranslation(
            0, LEGEND_ROW * size / 72, fig.dpi_scale_trans))

    def update(self, x: np.ndarray, columns: Mapping[str, np.ndarray], most: int) -> None:
        """Plot each metric's column over epochs `x`; more than `most` points are drawn as the line through
        each pixel's minimum and maximum (`min_max_line`). Shows the axis when any metric has a value."""
        any_shown = False
        for (key, line), handle, text in zip(self.lines.items(), self.legend.legend_handles, self.legend.get_texts()):
            y = columns.get(key)
            has = y is not None and bool(np.isfinite(y).any())
            if not has:
                line.set_data([], [])
            elif y.size <= most:
                line.set_data(x, y)
            else:
                line.set_data(*min_max_line(x, y, most // 2))
            line.set_marker("o" if has and y.size <= MARKER_EPOCHS else "None")  # one epoch is no line
            line.set_markersize(2.5)
            handle.set_visible(has)  # a metric the log does not hold has no entry
            text.set_visible(has)
            any_shown |= has
        self.ax.set_visible(any_shown)
        # One right spine: the twin's, drawn over its own tick marks. The panel's own (drawn before them) would
        # show the twin's ticks over it in a full draw but under it in a window's partial redraw.
        self.host.spines["right"].set_visible(not any_shown)
