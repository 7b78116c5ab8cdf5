"""Val AUROC and accuracy on the loss panel's twin axis: the logged values in the PNG and the figure, nothing
for a log without them, and cheap lines for long runs."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from shared.figure_data import min_max_line
from shared.figure_metrics import TWIN_METRICS
from shared.figure_png import new_figure, save_png
from shared.history import History


def history(n, metrics=lambda e: {"val_auroc": 0.6 + 0.3 * e / 40, "val_accuracy": 0.5 + 0.4 * e / 40}):
    h = History()
    h.add({"type": "start", "run_id": "m", "seq": 0, "time": 0.0, "schema": 1, "config": {}, "epochs": n})
    for e in range(1, n + 1):
        h.add({"type": "epoch", "run_id": "m", "seq": e, "time": float(e), "epoch": e, "epochs": n,
               "train_loss": 0.7 / e, "val_loss": 0.75 / e, "lr": 1e-3, "seconds": 1.0, "best": True,
               "best_epoch": e, "best_val_loss": 0.75 / e, "metrics": metrics(e)})
    return h


def legend_entries(panels):
    return [t.get_text() for t in panels.metrics.legend.get_texts() if t.get_visible()]


def test_the_figure_plots_the_logged_metrics_on_a_0_to_1_twin_axis():
    fig, panels = new_figure()
    h = history(40)
    panels.update(h)
    assert panels.ax_metrics.get_visible()
    lo, hi = panels.ax_metrics.get_ylim()
    assert lo <= 0 and 1 <= hi < 1.1
    for key in ("val_auroc", "val_accuracy"):
        x, y = panels.metrics.lines[key].get_data()
        assert list(x) == h.epochs and np.allclose(y, h.metrics[key])
    assert legend_entries(panels) == ["Val AUROC", "Val acc"]
    assert "AUROC" in panels.ax_metrics.get_ylabel() and "accuracy" in panels.ax_metrics.get_ylabel()
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    assert not panels.metrics.legend.get_window_extent(renderer).overlaps(panels.ax_loss.bbox)  # above the data


def _pixels_of(image, color):
    rgb = image[..., :3]
    return int(np.count_nonzero(np.abs(rgb - np.asarray(to_rgb(color))).max(axis=-1) < 0.06))


def test_the_png_shows_the_metric_curves_and_a_log_without_them_shows_no_twin_axis(tmp_path):
    save_png(history(40), tmp_path / "with.png")
    save_png(history(40, metrics=lambda e: {}), tmp_path / "without.png")
    with_metrics, without = imread(tmp_path / "with.png"), imread(tmp_path / "without.png")
    for color, _style in TWIN_METRICS.values():
        assert _pixels_of(with_metrics, color) > 50 and _pixels_of(without, color) == 0

    fig, panels = new_figure()
    panels.update(history(40, metrics=lambda e: {"val_f1": 0.5}))  # other metrics: not on this axis
    assert not panels.ax_metrics.get_visible()
    assert panels.ax_loss.spines["right"].get_visible()  # the panel keeps its own frame
    assert all(len(line.get_xdata()) == 0 for line in panels.metrics.lines.values())
    FigureCanvasAgg(fig).draw()
    assert panels.ax_metrics.get_tightbbox(fig.canvas.get_renderer()) is None  # nothing of it is drawn


def test_one_metric_logged_or_first_logged_later_shows_what_there_is():
    _fig, panels = new_figure()
    panels.update(history(10, metrics=lambda e: {"val_auroc": 0.7} if e > 4 else {}))
    assert legend_entries(panels) == ["Val AUROC"]
    y = panels.metrics.lines["val_auroc"].get_ydata()
    assert np.isnan(y[:4]).all() and np.allclose(y[4:], 0.7)
    assert len(panels.metrics.lines["val_accuracy"].get_xdata()) == 0


def test_a_live_update_appends_the_new_epochs_metrics():
    _fig, panels = new_figure()
    h = history(3)
    panels.update(h)
    h.add({"type": "epoch", "run_id": "m", "seq": 4, "time": 4.0, "epoch": 4, "epochs": 4, "train_loss": 0.2,
           "val_loss": 0.3, "lr": 1e-3, "seconds": 1.0, "best": True, "best_epoch": 4, "best_val_loss": 0.3,
           "metrics": {"val_auroc": 0.91, "val_accuracy": None}})
    panels.update(h)
    auroc, accuracy = (panels.metrics.lines[k].get_ydata() for k in ("val_auroc", "val_accuracy"))
    assert len(auroc) == 4 and auroc[-1] == 0.91 and math.isnan(accuracy[-1])


def test_long_runs_draw_each_pixels_extremes_not_every_point():
    _fig, panels = new_figure()
    n = 20_000
    spike = 12_345
    h = history(n, metrics=lambda e: {"val_auroc": 0.99 if e == spike else 0.8, "val_accuracy": 0.7})
    panels.update(h)
    x, y = panels.metrics.lines["val_auroc"].get_data()
    assert len(x) <= 2 * panels.ax_loss.bbox.width + 2  # about two points per pixel, not 20,000
    assert y.max() == 0.99 and spike in x and panels.metrics.lines["val_auroc"].get_marker() == "None"


def test_min_max_line_keeps_extremes_order_and_gaps():
    x = np.arange(1, 100_001, dtype=float)
    y = np.sin(x / 5000)
    y[777] = 5.0
    y[40_000:42_000] = np.nan
    xs, ys = min_max_line(x, y, 500)
    assert len(xs) <= 1000 and np.all(np.diff(xs) >= 0)  # in epoch order
    assert np.nanmax(ys) == 5.0 and np.nanmin(ys) == np.nanmin(y)
    assert np.isnan(ys[(xs > 40_000) & (xs < 42_000)]).all() and ((xs > 40_000) & (xs < 42_000)).any()


def test_replay_png_draws_the_metric_curves(tmp_path):
    """`stlar-dl replay RUN --png` converts the columns apart from the figure (read-ahead): the metrics too."""
    import io

    from fake_run import write_run
    from viewer.replay import replay

    write_run(tmp_path / "training_log.jsonl", 12)  # val AUROC 0.6 at every epoch: a flat dashed olive line
    replay(tmp_path, png=tmp_path / "curves.png", out=io.StringIO())
    rgb = imread(tmp_path / "curves.png")[..., :3]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Olive (r = g, little blue) at any antialiasing coverage; no other artist of the figure has that hue.
    olive = (np.abs(r - g) < 0.04) & (b < r - 0.25) & (r < 0.95)
    assert np.count_nonzero(olive) > 100
