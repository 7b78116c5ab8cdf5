"""Where each part of the window sits: caption, header, the 2x2 panels, the log panel, the status line, the button.

Positions are figure fractions, so the window scales with its size.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

from shared.figure import DiagnosticFigure
from shared.safetext import FIGURE_TEXT, printable

FIGSIZE = (13.0, 9.4)  # inches at 100 dpi; shrunk to fit smaller screens (viewer.gui.SCREEN_FILL)
DESIGN = (1300, 940)  # pixels: the size the text sizes are chosen for
MIN_SCALE = 0.75  # text never shrinks below this fraction of its design size
BUTTON_FONT = 15  # pt, the button's label at scale 1
BUTTON_LONGEST = "Stop Training"  # the longest of the button's labels (viewer.stop_button)
LOG_ROWS_PX = 8 * 14 + 6  # the log panel's height at scale 1: 8 rows of 9 pt text


@dataclass
class Layout:
    caption: Text  # what is shown: the command and the run dir
    header: Text  # the latest epoch in one line
    panels: DiagnosticFigure
    outside: list[Artist]  # panel artists drawn outside the plot box: never part of a panel's frame
    ax_log: Axes
    status: Text  # the run's state
    ax_button: Axes
    grid: object = None  # the panels' GridSpec
    header_size: float = 12.0  # pt: the header's font size before it shrinks to fit the width


def lay_out(fig: Figure, caption: str) -> Layout:
    """Create the window's artists on `fig`, empty."""
    fig.set_facecolor("white")
    caption_text = fig.text(0.01, 0.992, printable(caption), ha="left", va="top", fontsize=9, color="dimgray",
                            **FIGURE_TEXT)
    header = fig.text(0.5, 0.962, "", ha="center", va="top", fontsize=12, fontweight="bold", **FIGURE_TEXT,
                      bbox=dict(boxstyle="round,pad=0.35", facecolor="white", edgecolor="lightgray"))
    grid = fig.add_gridspec(2, 2, left=0.07, right=0.985, top=0.895, bottom=0.34, hspace=0.42, wspace=0.22)
    axes = [fig.add_subplot(grid[i, j]) for i in range(2) for j in range(2)]
    panels = DiagnosticFigure(axes)  # titles left and legends right, above each plot (never over the data)
    outside: list[Artist] = list(panels.legends)
    ax_log = fig.add_axes((0.07, 0.075, 0.69, 0.195))
    status = fig.text(0.07, 0.028, "", ha="left", va="center", fontsize=11, fontweight="bold", **FIGURE_TEXT)
    ax_button = fig.add_axes((0.795, 0.105, 0.19, 0.13))
    layout = Layout(caption_text, header, panels, outside, ax_log, status, ax_button)
    layout.grid = grid
    fit(fig, layout)
    return layout


def scale_of(fig: Figure) -> float:
    """Text and margins shrink with a window smaller than the design size (1300 x 940 px), to 0.75 at most:
    below that text stops reading well, so a smaller window gets less room for the curves instead."""
    width, height = fig.bbox.width, fig.bbox.height
    return max(MIN_SCALE, min(1.0, width / DESIGN[0], height / DESIGN[1]))


def button_font(fig: Figure, width_px: float) -> float:
    """The button label's size in points: BUTTON_FONT times the scale, smaller where the longest label would
    not fit `width_px` with a margin (a screen whose dpi makes text wider than the design's pixels)."""
    size = BUTTON_FONT * scale_of(fig)
    try:
        renderer = fig.canvas.get_renderer()
        w, _, _ = renderer.get_text_width_height_descent(
            BUTTON_LONGEST, FontProperties(size=size, weight="bold"), ismath=False)
    except Exception:  # a canvas without a renderer: the scaled size
        return size
    return size * min(1.0, (width_px - 16) / max(w, 1.0))


def fit(fig: Figure, layout: Layout) -> None:
    """Place every part for the figure's current size in pixels: margins, text and the log panel's and the
    button's heights are sized in pixels (times `scale_of`), the panels take the rest. At 1280x720 and
    1366x768 screens nothing is cut off or overlaps (tests/test_window_fits.py renders both)."""
    W, H = fig.bbox.width, fig.bbox.height
    s = scale_of(fig)
    fy, fx = (lambda px: px / H), (lambda px: px / W)
    layout.caption.set_fontsize(9 * s)
    layout.caption.set_position((fx(8), 1 - fy(3)))
    layout.header_size = 12 * s
    layout.header.set_fontsize(layout.header_size)
    layout.header.set_position((0.5, 1 - fy(18 * s + 6)))
    layout.status.set_fontsize(11 * s)
    layout.status.set_position((fx(70 * s), fy(16 * s)))
    left, right = fx(78 * s), 1 - fx(18)
    status_h, log_h, button_w = 30 * s, LOG_ROWS_PX * max(s, 0.85) + 8, 230 * s  # log text stays legible
    log_bottom = status_h + 4
    panels_bottom = log_bottom + log_h + 18 * s + 52 * s  # the log's title, then the panels' x labels and ticks
    panels_top = 22 * s + 34 * s + 46 * s  # the caption, the header, the panels' titles and legends (two rows
    # on the loss panel: the metric legend above the loss legend)
    layout.ax_log.set_position((left, fy(log_bottom), 1 - fx(18) - left - fx(button_w + 24 * s), fy(log_h)))
    layout.ax_button.set_position((1 - fx(18 + button_w), fy(log_bottom + 10 * s), fx(button_w),
                                   fy(min(log_h - 10 * s, 110 * s))))
    for text in layout.ax_button.texts:  # the button's label (viewer.stop_button) shrinks with the button
        text.set_fontsize(button_font(fig, button_w))
    gap_w = 140 * s  # between the columns: the loss panel's metric axis (ticks, label), the next one's y labels
    axes_w = (W * (right - left) - gap_w) / 2
    axes_h = (H - panels_top - panels_bottom - 92 * s) / 2
    layout.grid.update(left=left, right=right, top=1 - fy(panels_top), bottom=fy(panels_bottom),
                       wspace=gap_w / max(axes_w, 1), hspace=92 * s / max(axes_h, 1))
    for ax in (layout.panels.ax_loss, layout.panels.ax_impr, layout.panels.ax_gap, layout.panels.ax_spread):
        ax.set_position(ax.get_subplotspec().get_position(fig))  # (GridSpec.update does not move them all)
        ax.tick_params(labelsize=9 * s)
        ax.title.set_fontsize(10 * s)  # (unused: the titles are left-aligned)
        ax._left_title.set_fontsize(10 * s)
        ax.xaxis.label.set_fontsize(10 * s)
        ax.yaxis.label.set_fontsize(10 * s)
    twin = layout.panels.ax_metrics  # the loss panel's metric axis (shares the panel's position)
    twin.tick_params(labelsize=9 * s)
    twin.yaxis.label.set_fontsize(10 * s)
    for legend in layout.outside:
        for text in legend.get_texts():
            text.set_fontsize(8 * s)
    layout.panels.metrics.fit_legend(8 * s)
    for note in (layout.panels.overfit_text, layout.panels.plateau_text, layout.panels.spread_text):
        note.set_fontsize(9 * s)
    layout.ax_log.title.set_fontsize(9 * s)
    layout.ax_log._left_title.set_fontsize(9 * s)
