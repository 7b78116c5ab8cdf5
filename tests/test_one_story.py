"""Every surface tells the same story: the trainer's epoch line, the window's header, log and panel 2, the
terminal viewer and replay agree on the per-epoch change (its sign, its label, epoch 1) and the metrics."""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fake_run import write_run
from shared.console import epoch_line
from shared.figure_png import figure_title, new_figure
from shared.history import history_of
from shared.logreader import read_log
from shared.rundir import RunDir
from viewer.header import header_line
from viewer.layout import FIGSIZE
from viewer.replay import ReplaySource, print_run
from viewer.window import RunWindow

# Val rises at epoch 3 (+0.0151) and falls at epoch 4 (-0.0201): the sign must read the same everywhere.
CURVE = [(0.60, 0.6421), (0.50, 0.5312), (0.45, 0.5463), (0.40, 0.5262)]


def utf8() -> io.TextIOWrapper:
    """A UTF-8 terminal's stream."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8")


def text_of(out: io.TextIOWrapper) -> str:
    out.flush()
    return out.buffer.getvalue().decode("utf-8")


def _delta_field(line: str) -> str:
    return next(part.strip() for part in line.split("|") if part.strip().startswith("Δ val:"))


def test_header_console_log_and_panel_agree_on_the_per_epoch_change(tmp_path):
    records = write_run(RunDir(tmp_path).log, CURVE)
    epochs = [r for r in records if r["type"] == "epoch"]
    expected = ["Δ val: —", "Δ val: -0.1109", "Δ val: +0.0151", "Δ val: -0.0201"]
    # The console (trainer and terminal viewer build it with the same function).
    console = [epoch_line(r, epochs[i - 1]["val_loss"] if i else None) for i, r in enumerate(epochs)]
    assert [_delta_field(line) for line in console] == expected
    # The window: its header after each epoch, its log panel, and panel 2's curve.
    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    window = RunWindow(fig, tmp_path, ReplaySource([]), live=False, out=None)
    headers = []
    for i, record in enumerate(records):
        window.apply([record])
        if record["type"] == "epoch":
            headers.append(_delta_field(window.header.get_text()))
            # The header is the console's line (without its column padding) and the best so far.
            assert header_line(window.history)[0].startswith(console[len(headers) - 1].replace("Epoch  ", "Epoch "))
    assert headers == expected
    logged = [line for line in window.log_lines if line.startswith("Epoch ")]
    assert logged == console
    panel = window.panels.impr_line.get_ydata()
    assert math.isnan(panel[0])  # epoch 1 has no previous epoch: no point, as "—" says
    assert np.allclose(panel[1:], [-0.1109, 0.0151, -0.0201])
    assert window.panels.ax_impr.get_title(loc="left").startswith("Δ val loss per epoch (current − previous")
    # The terminal viewer and replay print the console's lines.
    out = utf8()
    loaded, warnings = read_log(RunDir(tmp_path).log)
    print_run(tmp_path, loaded, warnings, out)
    assert [line for line in text_of(out).splitlines() if line.startswith("Epoch ")] == console
    # And the PNG's panel 2 is the window's.
    _fig, png_panels = new_figure()
    png_panels.update(history_of(records))
    assert np.allclose(png_panels.impr_line.get_ydata()[1:], panel[1:])


def test_every_surface_shows_the_metrics(tmp_path):
    records = write_run(RunDir(tmp_path).log, CURVE)
    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    window = RunWindow(fig, tmp_path, ReplaySource([]), live=False, out=None)
    assert records[-2]["epoch"] == 4
    records[-2]["metrics"]["brier"] = 0.125  # a metric this viewer does not know
    window.apply(records)
    assert "| Val acc: 0.7000 | Val AUROC: 0.6000 |" in window.header.get_text()
    # The PNG's title names the best epoch's (its panels plot losses only).
    assert figure_title(window.history).endswith("| best epoch 4: val loss 0.5262, Val acc 0.7000, Val AUROC 0.6000")
    # The final report names the best epoch's metrics, every key the log holds.
    assert "Best epoch's metrics: Val acc: 0.7000 | Val AUROC: 0.6000 | brier: 0.1250" in window.log_lines


def test_replay_says_saved_to_only_for_the_best_that_best_pt_holds(tmp_path):
    records = write_run(RunDir(tmp_path).log, CURVE)
    out = utf8()
    loaded, warnings = read_log(RunDir(tmp_path).log)
    print_run(tmp_path, loaded, warnings, out)
    best = [line for line in text_of(out).splitlines() if "New best" in line]
    # Epochs 1, 2 and 4 were new bests; best.pt holds epoch 4's model only.
    assert best == ["  ✓ New best", "  ✓ New best", "  ✓ New best! Saved to " + str(RunDir(tmp_path).checkpoint)]
    assert records[-1]["best_epoch"] == 4
