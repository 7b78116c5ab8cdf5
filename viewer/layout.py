"""Where each part of the window sits: caption, header, the 2x2 panels, the log panel, the status line, the button.

Positions are figure fractions, so the window scales with its size.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from shared.figure import DiagnosticFigure

FIGSIZE = (13.0, 9.4)  # inches at 100 dpi; shrunk to fit smaller screens (viewer.gui.SCREEN_FILL)


@dataclass
class Layout:
    caption: Text  # what is shown: the command and the run dir
    header: Text  # the latest epoch in one line
    panels: DiagnosticFigure
    outside: list[Artist]  # panel artists drawn outside the plot box: never part of a panel's frame
    ax_log: Axes
    status: Text  # the run's state
    ax_button: Axes


def lay_out(fig: Figure, caption: str) -> Layout:
    """Create the window's artists on `fig`, empty."""
    fig.set_facecolor("white")
    caption_text = fig.text(0.01, 0.992, caption, ha="left", va="top", fontsize=9, color="dimgray")
    header = fig.text(0.5, 0.962, "", ha="center", va="top", fontsize=12, fontweight="bold",
                      bbox=dict(boxstyle="round,pad=0.35", facecolor="white", edgecolor="lightgray"))
    grid = fig.add_gridspec(2, 2, left=0.07, right=0.985, top=0.895, bottom=0.34, hspace=0.42, wspace=0.22)
    axes = [fig.add_subplot(grid[i, j]) for i in range(2) for j in range(2)]
    panels = DiagnosticFigure(axes)
    outside: list[Artist] = []
    for ax in axes:
        # Titles to the left and legends beside them, above the plot: a legend inside the plot would sit
        # over the curves and have to be redrawn with them at every epoch (a third of a frame's cost).
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(title, loc="left", fontsize=10)
        if ax.get_legend() is not None:
            outside.append(ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3, fontsize=8,
                                     frameon=False, borderaxespad=0.1, handlelength=1.6, columnspacing=1.0))
    ax_log = fig.add_axes((0.07, 0.075, 0.69, 0.195))
    status = fig.text(0.07, 0.028, "", ha="left", va="center", fontsize=11, fontweight="bold")
    ax_button = fig.add_axes((0.795, 0.105, 0.19, 0.13))
    return Layout(caption_text, header, panels, outside, ax_log, status, ax_button)
