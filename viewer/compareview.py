"""The compare figure: the overlay panel above, the table of runs below, for the PNG and the window alike.

Pure drawing on a given Figure. `CompareView.update(runs, now)` turns a RunSet's runs into the panel's
curves and the table's rows (the same cells `stlar-dl runs` prints, named by the options that differ), and
`key_at(artist)` says which run a clicked line or row belongs to.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.text import Text

from shared.atomic import atomic_path
from shared.figure_png import PNG_COMPRESS_LEVEL
from viewer.comparefig import CompareFigure, Shown, run_colour
from viewer.optdiff import differing, label
from viewer.runset import Run
from viewer.runsummary import VAL_LOSS, RunSummary
from viewer.runtable import compare_cells, compare_headers, render

FIGSIZE = (13.0, 9.4)  # inches at 100 dpi, as watch's window
PANEL_LEFT, PANEL_WIDTH, PANEL_TOP = 0.07, 0.9, 0.93  # figure fractions; the panel's bottom follows the table
ROW_HEIGHT, TABLE_X, TABLE_BOTTOM, XLABEL_ROOM = 0.021, 0.035, 0.02, 0.075  # figure fractions
MAX_ROWS = 15  # table rows shown; more runs are counted in a last line (`stlar-dl runs` lists them all)
SWATCH = "■"
HIGHLIGHT = "#fff3b0"  # the highlighted row's background


def short_paths(paths: Sequence[Path]) -> dict[Path, str]:
    """Each path from the folder that holds all of them (`sweep/lr1e-3`, not `/home/.../sweep/lr1e-3`): the
    title names the folders compared, and every character of the table costs drawing time."""
    try:
        common = Path(os.path.commonpath([os.path.abspath(p) for p in paths])) if paths else None
    except ValueError:  # different drives (Windows)
        common = None
    if common is None:
        return {p: str(p) for p in paths}
    base = common.parent
    return {p: os.path.relpath(os.path.abspath(p), base) for p in paths}


class CompareView:
    """The whole compare figure on `fig`; call `update` with the runs, then draw or save."""

    def __init__(self, fig: Figure, metric: str = VAL_LOSS, title: str = "stlar-dl compare") -> None:
        self.fig = fig
        self.metric = metric
        self.title = title
        self.panel = CompareFigure(fig.add_axes((PANEL_LEFT, 0.45, PANEL_WIDTH, PANEL_TOP - 0.45)), metric)
        self.suptitle = fig.text(0.5, 0.975, title, ha="center", va="top", fontsize=12)
        self.header = fig.text(TABLE_X, 0.4, "", family="monospace", fontsize=8.5, va="top",
                               fontweight="bold")
        self.rows: list[tuple[Text, Text]] = []  # (swatch, text) per shown row
        self.more = fig.text(TABLE_X, 0.0, "", family="monospace", fontsize=8.5, va="top", color="dimgray")
        self.row_keys: list[str] = []
        self.labels: dict[str, str] = {}
        self.summaries: dict[str, RunSummary] = {}
        self._verdicts: tuple = ()

    def update(self, runs: Sequence[Run], now: float, curves: bool = True) -> None:
        """Show `runs` (oldest first is the caller's order) as they are at Unix time `now`.

        `curves` False: only the words changed (statuses, durations), not the data; the curves are then redone
        only if a verdict changed (a crash adds its X). Twenty 1,000-epoch curves take ~90 ms to redo.
        """
        summaries = [run.summary(now) for run in runs]
        options = differing([s.config for s in summaries if s.run_id is not None])
        shown = []
        self.labels, self.summaries = {}, {}
        for run, s in zip(runs, summaries):
            text = label(s.config, options, s.run_id or str(s.path))
            self.labels[run.key], self.summaries[run.key] = text, s
            shown.append(Shown(run.key, run.history, run_colour(run.index), text, s.status))
        verdicts = tuple((run.key, s.status) for run, s in zip(runs, summaries))
        if curves or verdicts != self._verdicts:
            self.panel.update(shown)
        self._verdicts = verdicts
        self._table(runs, summaries)
        live = sum(1 for s in summaries if s.status in ("live", "stopping"))
        count = f"{len(runs)} run{'s' if len(runs) != 1 else ''}" + (f", {live} live" if live else "")
        self.suptitle.set_text(f"{self.title} — {count}")

    def _table(self, runs: Sequence[Run], summaries: Sequence[RunSummary]) -> None:
        head = compare_headers(self.metric)
        pairs = list(zip(runs, summaries))
        if len(pairs) > MAX_ROWS:
            picked = [p for p in pairs[MAX_ROWS:] if p[0].key == self.panel.highlighted]
            # The highlighted run's row stays in view, in place of the last row.
            pairs = pairs[:MAX_ROWS - 1] + picked if picked else pairs[:MAX_ROWS]
        where = short_paths([s.path for s in summaries])
        lines = render(head, [compare_cells(s, self.labels[r.key], self.metric, r.history, where[s.path])
                              for r, s in pairs])
        hidden = len(runs) - len(pairs)
        # The table takes the room its rows need; the panel gets the rest (a compare of two runs is mostly
        # curves, one of fifteen mostly table).
        top = TABLE_BOTTOM + ROW_HEIGHT * (len(pairs) + (hidden > 0) + 1.5)
        self.panel.ax.set_position((PANEL_LEFT, top + XLABEL_ROOM, PANEL_WIDTH, PANEL_TOP - top - XLABEL_ROOM))
        self.header.set_position((TABLE_X, top))
        self.header.set_text("  " + lines[0])
        while len(self.rows) < len(pairs):
            # Above the row's text: a highlighted row's background box would otherwise cover the swatch.
            swatch = self.fig.text(TABLE_X, 0, SWATCH, fontsize=10, va="top", picker=True, zorder=4)
            text = self.fig.text(TABLE_X, 0, "", family="monospace", fontsize=8.5, va="top", picker=True)
            self.rows.append((swatch, text))
        self.row_keys = [run.key for run, _ in pairs]
        for i, (swatch, text) in enumerate(self.rows):
            y = top - ROW_HEIGHT * (i + 1.2)
            swatch.set_position((TABLE_X, y + 0.002))
            text.set_position((TABLE_X, y))
            if i < len(pairs):
                run = pairs[i][0]
                swatch.set_text(SWATCH)
                swatch.set_color(run_colour(run.index))
                text.set_text("  " + lines[i + 2])
                on = self.panel.highlighted == run.key
                text.set_fontweight("bold" if on else "normal")
                # A background box only where it shows: an invisible one still costs a patch draw per row.
                text.set_bbox({"facecolor": HIGHLIGHT, "edgecolor": HIGHLIGHT, "pad": 1} if on else None)
                swatch.set_gid(run.key)
                text.set_gid(run.key)
            else:
                swatch.set_text("")
                text.set_text("")
                text.set_bbox(None)
                swatch.set_gid(None)
                text.set_gid(None)
        self.more.set_position((TABLE_X, top - ROW_HEIGHT * (len(pairs) + 1.2)))
        self.more.set_text(f"  … and {hidden} more (stlar-dl runs lists them all)" if hidden > 0 else "")

    def highlight(self, key: str | None, runs: Sequence[Run], now: float) -> None:
        """Highlight run `key` (None: none) in the panel and the table."""
        self.panel.highlight(key)
        self.update(runs, now, curves=False)

    @staticmethod
    def key_at(artist) -> str | None:
        """The run a picked artist (a curve, a table row or its swatch) belongs to."""
        gid = artist.get_gid() if hasattr(artist, "get_gid") else None
        return gid if isinstance(gid, str) and gid else None


def new_compare_figure(metric: str = VAL_LOSS, title: str = "stlar-dl compare") -> tuple[Figure, CompareView]:
    """A standalone figure for files (no pyplot, no GUI backend)."""
    fig = Figure(figsize=FIGSIZE, dpi=100)
    return fig, CompareView(fig, metric, title)


def save_compare_png(runs: Sequence[Run], path: Path, now: float, metric: str = VAL_LOSS,
                     title: str = "stlar-dl compare") -> None:
    """Render the compare figure of `runs` to a PNG atomically (the old file stays if the write fails)."""
    fig, view = new_compare_figure(metric, title)
    view.update(runs, now)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
