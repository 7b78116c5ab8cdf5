"""The 2x2 diagnostic figure's panels, drawn the same way for the PNG, the live window and replay.

Lines are created once and updated in place with `set_data`, so a live update costs one redraw, not a new
figure. What each panel plots is worked out in shared/figure_data.py (a curve with more points than its panel
has pixels is drawn as a min/max band there), the axes' limits and ticks in shared/figure_axes.py, where
notes, legends and lr labels go in shared/figure_notes.py; the PNG file in shared/figure_png.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection

from shared.curve_metrics import INSTABILITY_STD, INSTABILITY_WINDOW, OVERFIT_GAP, gaps, improvements
from shared.diagnostics import Settings, check_overfitting
from shared.figure_axes import fit_limits, fit_loss_limits, style_ticks
from shared.figure_data import POINTS_PER_PIXEL, Columns, envelope, max_points
from shared.figure_metrics import TWIN_METRICS, MetricAxis
from shared.figure_notes import MARK_ZORDER, LrMarks, title_and_legend, to_emptiest_corner
from shared.history import History
from shared.plateau import PLATEAU_EPOCHS

MARKER_EPOCHS = 60  # up to this many epochs each point gets a dot, so 1 or 2 epochs are visible

TRAIN_COLOR, VAL_COLOR = "tab:blue", "tab:red"


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
                                     lw=1.0, zorder=MARK_ZORDER)
        self.resume_text = a.text(np.nan, 0.03, "resumed", transform=a.get_xaxis_transform(), rotation=90,
                                  ha="right", va="bottom", color="gray", fontsize=8)
        self.lr_marks = LrMarks(a)  # where the learning rate changed, labelled with the new lr
        self.lr_lines = self.lr_marks.lines
        self.overfit_text = a.text(0.98, 0.95, "", transform=a.transAxes, ha="right", va="top",
                                   color="darkred", fontsize=9, fontweight="bold")
        a.set_title("Training and validation loss")
        a.set_xlabel("Epoch")
        a.set_ylabel("Loss")
        self.metrics = MetricAxis(a)  # val AUROC and accuracy on a twin axis at the right, where logged
        self.ax_metrics = self.metrics.ax

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
            style_ticks(a)
        # Titles to the left and legends beside them, above the plot (see title_and_legend).
        self.legends = [legend for legend in map(title_and_legend, axes) if legend is not None]
        self.legends.append(self.metrics.legend)  # (stacked above the loss panel's)
        self._loss_panel_lines = (self.train_line, self.val_line, *self.metrics.lines.values())
        self._notes = ((self.overfit_text, self._loss_panel_lines), (self.plateau_text, (self.impr_line,)),
                       (self.spread_text, (self.train_spread_line, self.val_spread_line)))
        self._curves = (self.train_line, self.val_line, self.impr_line, self.gap_line, self.train_spread_line,
                        self.val_spread_line)
        # Each curve's stand-in when it has more points than its panel has pixels (see `envelope`).
        self.bands = tuple(self._band(line) for line in self._curves)
        self._columns: Columns | None = None

    @staticmethod
    def _band(line) -> PolyCollection:
        band = PolyCollection([], facecolors=line.get_color(), edgecolors=line.get_color(),
                              linewidths=line.get_linewidth(), zorder=line.get_zorder())
        line.axes.add_collection(band, autolim=False)
        return band

    def adopt(self, columns: Columns) -> None:
        """Plot from `columns`, converted elsewhere (replay --png converts them in the process that read the
        log); `update` replaces them if they are not its history's."""
        self._columns = columns

    def update(self, history: History, settings: Settings | None = None) -> None:
        """Show `history` (any number of epochs, NaN for null losses). Does not draw the canvas."""
        s = settings or Settings.from_config(history.config)
        # A live view calls this once per epoch: only the new epochs are converted and their spreads computed,
        # so an update on 100,000 epochs costs about what one on 100 does (benchmarks: update cost).
        if self._columns is None or not self._columns.valid_for(history):
            self._columns = Columns(history, TWIN_METRICS)
        cols = self._columns
        cols.extend()
        x, train, val = cols.x, cols.train, cols.val
        # Δ val as every surface shows it (shared.console.delta_val): current − previous, negative is better.
        impr, gap = -improvements(val), gaps(train, val)
        train_spread, val_spread = cols.train_spread, cols.val_spread

        for line, band, y in zip(self._curves, self.bands, (train, val, impr, gap, train_spread, val_spread)):
            most = max_points(line.axes.bbox.width)
            if y.size <= most:
                line.set_data(x, y)
                band.set_verts([])
            else:
                line.set_data([], [])
                band.set_verts(envelope(x, y, most // POINTS_PER_PIXEL))
        marker = "o" if x.size <= MARKER_EPOCHS else "None"
        for line in self._curves:
            line.set_marker(marker)
            line.set_markersize(3)
        self.metrics.update(x, cols.metrics, max_points(self.ax_loss.bbox.width))

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

        fit_loss_limits(self.ax_loss, x, [train, val])
        fit_limits(self.ax_impr, x, [impr], floor=[0.0])
        fit_limits(self.ax_gap, x, [gap], floor=[0.0, OVERFIT_GAP * 1.5])
        fit_limits(self.ax_spread, x, [train_spread, val_spread], floor=[0.0, INSTABILITY_STD * 1.2])
        if not np.isfinite(x).any():  # no epoch yet: show the epochs to come, not matplotlib's -0.06..0.06
            for ax in (self.ax_loss, self.ax_impr, self.ax_gap, self.ax_spread):
                ax.set_xlim(0.5, (history.planned_epochs or 10) + 0.5)
        # After the limits: the labels go where the curves are not.
        self.lr_marks.mark(cols.lr_changes, self._loss_panel_lines)
        self.place_notes()

    def place_notes(self) -> None:
        """Put each panel's note (overfitting, plateau, instability) in the corner of its panel with the
        fewest data points, so it never sits on a curve; call again after changing the limits."""
        for note, lines in self._notes:
            if note.get_text():
                to_emptiest_corner(note, lines)
