"""The diagnostic figure as a file: the 2x2 panels on a standalone figure, titled, saved as a PNG.

No pyplot and no GUI backend: safe in any thread or process (the trainer's final curves, replay --png, the
window's --png).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from shared.atomic import atomic_path
from shared.figure import DiagnosticFigure
from shared.figure_data import Columns
from shared.history import History
from shared.names import EPOCH_LINE_METRICS, end_words, metric_label
from shared.safetext import FIGURE_TEXT, printable

# Fixed margins (fractions of the 12x9 in figure at 100 dpi) instead of layout="constrained": the solver ran
# on every save, which took 355 ms instead of 220 ms (demo run, 2-core machine). They leave room for y tick
# labels of 7 characters ("-0.0004") beside the y labels, the loss panel's twin metric axis (ticks and label
# at its right) beside them, a 6-digit x tick label ("100000") half out at a panel's right edge, the x labels,
# panel titles raised by an offset text ("1e-5"), the metric legend stacked above the loss legend and a
# one-line suptitle; tests/test_figure.py renders such ranges and checks that nothing overlaps or is cut.
PANEL_MARGINS = {"left": 0.075, "right": 0.97, "bottom": 0.06, "top": 0.91, "wspace": 0.3, "hspace": 0.3}
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


def save_png(history: History, path: str | Path, title: str | None = None, columns: Columns | None = None) -> None:
    """Render the figure of `history` to a PNG file atomically (`columns`: its columns already converted)."""
    fig, panels = new_figure(title if title is not None else figure_title(history))
    if columns is not None:
        panels.adopt(columns)
    panels.update(history)
    with atomic_path(path) as tmp:
        # zlib level 3, not Pillow's 6: encoding takes 25 ms instead of 38 for a file about 10% larger.
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
