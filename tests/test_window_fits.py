"""The window fits and reads well: on 1280x720 and 1366x768 screens nothing is cut off or overlaps; loss axes
are never negative for losses that are not; a log scale for losses spanning decades; x fits the epochs run
once the run ended; notes and legends never cover data (window and PNG); the log panel keeps, wraps and
scrolls the whole history."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from fake_run import write_run
from shared.figure_png import new_figure
from shared.history import history_of
from shared.rundir import RunDir
from viewer.gui import fitted_size
from viewer.layout import FIGSIZE
from viewer.replay import ReplaySource
from viewer.window import RunWindow

# Overfits from epoch 9: the overfitting and plateau notes both show.
OVERFIT = [(0.7 / (1 + 0.3 * i), 0.72 / (1 + 0.25 * i) + 0.01 * max(0, i - 8)) for i in range(25)]


def log_in(path):
    path.mkdir(exist_ok=True)
    return RunDir(path).log


def window_of(tmp_path, size, records, live=True, dpi=100):
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    window = RunWindow(fig, tmp_path, ReplaySource([]), live=live, out=None, alive=lambda pid, since: True)
    window.apply(records)
    fig.canvas.draw()
    return window


def boxes(window):
    renderer = window.fig.canvas.get_renderer()
    named = {"caption": window.caption.get_window_extent(renderer),
             "header": window.header.get_bbox_patch().get_window_extent(renderer),
             "status": window.status_text.get_window_extent(renderer),
             "log": window.log.ax.get_tightbbox(renderer),
             "button": window.ax_button.get_tightbbox(renderer)}
    p = window.panels
    for i, ax in enumerate((p.ax_loss, p.ax_impr, p.ax_gap, p.ax_spread)):
        named[f"panel{i + 1}"] = ax.get_tightbbox(renderer)
    if p.ax_metrics.get_visible():  # the loss panel's metric axis: its ticks, label and legend at the panel
        named["panel1"] = Bbox.union([named["panel1"], p.ax_metrics.get_tightbbox(renderer)])
    return named


@pytest.mark.parametrize("screen", [(1280, 720), (1366, 768), (1920, 1080)])
def test_every_part_is_visible_and_nothing_overlaps(tmp_path, screen):
    size = fitted_size((FIGSIZE[0] * 100, FIGSIZE[1] * 100), screen)
    records = write_run(RunDir(tmp_path).log, OVERFIT, end=None, planned=40)
    window = window_of(tmp_path, size, records)
    named = boxes(window)
    width, height = window.fig.bbox.width, window.fig.bbox.height
    for name, box in named.items():
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width + 0.5 and box.y1 <= height + 0.5, (name, box, size)
    for (a, box_a), (b, box_b) in itertools.combinations(named.items(), 2):
        assert not box_a.overlaps(box_b), (a, b, box_a, box_b, size)
    assert window.header.get_fontsize() >= 7 and window.log_texts[0].get_fontsize() >= 6.5
    assert_labels_inside_the_button(window, size)


@pytest.mark.parametrize("dpi", [100, 120, 150])  # Tk's scaling on 1x, 1.25x and 1.5x screens
def test_the_button_label_fits_the_button_whatever_the_dpi(tmp_path, dpi):
    size = fitted_size((FIGSIZE[0] * 100, FIGSIZE[1] * 100), (1280, 720))
    window = window_of(tmp_path, size, write_run(RunDir(tmp_path).log, 3, end=None, planned=40), dpi=dpi)
    assert_labels_inside_the_button(window, size)


def assert_labels_inside_the_button(window, size):
    """Each of the button's labels sits inside the button with a margin (the label shrinks with the button)."""
    renderer = window.fig.canvas.get_renderer()
    button = window.ax_button.get_window_extent(renderer)
    for label in ("Stop Training", "Stopping...", "Close"):
        window.stop_button.show(label)
        text = window.stop_button.button.label.get_window_extent(renderer)
        assert button.x0 + 6 <= text.x0 and text.x1 <= button.x1 - 6 and button.y0 < text.y0 < text.y1 < button.y1, \
            (label, text, button, size)


def _note_clear_of_data(note, lines):
    renderer = note.figure.canvas.get_renderer()
    box = note.get_window_extent(renderer)
    for line in lines:
        xy = line.get_transform().transform(np.column_stack(line.get_data()))
        inside = (xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)
        assert not inside.any(), note.get_text()


def test_notes_and_legends_never_cover_data_in_the_window_and_the_png(tmp_path):
    records = write_run(RunDir(tmp_path).log, OVERFIT)
    window = window_of(tmp_path, (1300, 940), records)
    fig, png = new_figure("x")
    png.update(history_of(records))
    FigureCanvasAgg(fig).draw()
    for panels in (window.panels, png):
        assert panels.overfit_text.get_text() and panels.plateau_text.get_text()
        _note_clear_of_data(panels.overfit_text, (panels.train_line, panels.val_line, *panels.metrics.lines.values()))
        _note_clear_of_data(panels.plateau_text, (panels.impr_line,))
        renderer = panels.ax_loss.figure.canvas.get_renderer()
        for legend in panels.legends:
            assert not legend.get_window_extent(renderer).overlaps(legend.axes.bbox)  # above the plot


def test_loss_axes_are_never_negative_for_losses_that_are_not(tmp_path):
    # Losses falling fast to near 0: held limits grow by a margin, but not below 0.
    curve = [(2.0 * 0.5 ** i, 2.1 * 0.5 ** i) for i in range(6)]
    window = window_of(tmp_path, (1300, 940), write_run(RunDir(tmp_path).log, curve, end=None, planned=20))
    assert window.panels.ax_loss.get_ylim()[0] >= 0
    assert window.panels.ax_spread.get_ylim()[0] >= 0
    _fig, png = new_figure()
    png.update(history_of(write_run(log_in(tmp_path / "b"), curve)))
    assert png.ax_loss.get_ylim()[0] >= 0


def test_losses_spanning_more_than_two_decades_get_a_log_axis(tmp_path):
    curve = [(0.5, 0.6), (0.4, 0.5), (10.0, 30.0), (1e6, 1e9)]
    window = window_of(tmp_path, (1300, 940), write_run(RunDir(tmp_path).log, curve, end="diverged"))
    _fig, png = new_figure()
    png.update(history_of(write_run(log_in(tmp_path / "b"), curve, end="diverged")))
    for ax in (window.panels.ax_loss, png.ax_loss):
        assert ax.get_yscale() == "log"
        lo, hi = ax.get_ylim()
        assert 0 < lo < 0.4 and hi > 1e9
    _fig, calm = new_figure()
    calm.update(history_of(write_run(log_in(tmp_path / "c"), OVERFIT)))
    assert calm.ax_loss.get_yscale() == "linear"


def test_after_the_run_ends_x_fits_the_epochs_run(tmp_path):
    rd = RunDir(tmp_path)
    records = write_run(rd.log, OVERFIT[:11], end="early_stopped", planned=40)
    window = window_of(tmp_path, (1300, 940), records[:-1])
    assert window.panels.ax_loss.get_xlim() == (0.5, 40.5)  # live: the planned epochs
    window.apply(records[-1:])
    for ax in (window.panels.ax_loss, window.panels.ax_impr, window.panels.ax_gap, window.panels.ax_spread):
        assert ax.get_xlim() == (0.5, 11.5)


def test_the_log_panel_keeps_wraps_and_scrolls_the_whole_history(tmp_path):
    records = write_run(RunDir(tmp_path).log, 60, end=None, planned=100)
    window = window_of(tmp_path, (1152, 588), records)
    log = window.log
    epochs = [line for line in window.log_lines if line.startswith("Epoch ")]
    assert len(epochs) == 60  # every line kept
    shown = [t.get_text() for t in window.log_texts]
    assert shown[-1] == log.rows[-1][0]  # following the end
    # A line longer than the panel wraps onto indented rows, nothing cut.
    window._log("x" * 400)
    window._show_log()
    assert len(log.rows) > len(log.lines) and log.rows[-1][0].startswith("    ")
    assert "".join(row.strip() for row, _ in log.rows[-4:]).endswith("x" * 400)
    # Scrolled up, new lines do not move the view; End follows again.
    assert log.scroll(-20)
    window._show_log()
    before = [t.get_text() for t in window.log_texts]
    assert "newer rows below" in log.note.get_text()
    window.apply(write_run(log_in(tmp_path / "more"), 3)[1:2])
    assert [t.get_text() for t in window.log_texts] == before
    assert log.follow()
    window._show_log()
    assert window.log_texts[-1].get_text() == log.rows[-1][0] and log.note.get_text() == ""
