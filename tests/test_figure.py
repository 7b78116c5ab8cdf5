"""The shared 2x2 figure: renders 0, 1, 2 and 500 epochs with nulls; updates lines in place."""

import math
import random

import numpy as np
import pytest
from matplotlib.image import imread

from shared.figure import MAX_POINTS, decimate, new_figure, save_png
from shared.history import History


def make_history(n, nulls=()):
    rnd = random.Random(n)
    h = History()
    h.add({"type": "start", "run_id": "fig", "seq": 0, "time": 0.0, "schema": 1,
           "config": {"lr": 1e-3}, "epochs": max(n, 1)})
    best, best_epoch = math.inf, None
    for e in range(1, n + 1):
        train = 0.7 * math.exp(-e / 40) + 0.1 + rnd.gauss(0, 0.01)
        val = 0.7 * math.exp(-e / 50) + 0.15 + rnd.gauss(0, 0.02)
        if val < best:
            best, best_epoch = val, e
        h.add({"type": "epoch", "run_id": "fig", "seq": e, "time": float(e), "epoch": e, "epochs": n,
               "train_loss": None if e in nulls else train, "val_loss": None if e + 1 in nulls else val,
               "lr": 1e-3, "seconds": 1.0, "best": best_epoch == e, "best_epoch": best_epoch,
               "best_val_loss": best, "metrics": {}})
    return h


@pytest.mark.parametrize("n, nulls", [(0, ()), (1, ()), (2, (2,)), (500, (7, 250, 499))])
def test_renders_png(tmp_path, n, nulls):
    path = tmp_path / f"curves_{n}.png"
    save_png(make_history(n, nulls), path)
    image = imread(path)
    assert image.shape[0] >= 800 and image.shape[1] >= 1100
    assert image[..., :3].std() > 0.05, "the picture is not blank"
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary file left"


def test_update_reuses_lines():
    fig, panels = new_figure()
    lines_before = [list(ax.lines) for ax in fig.axes]
    h = make_history(30)
    panels.update(h)
    fig.canvas.draw()
    assert [list(ax.lines) for ax in fig.axes] == lines_before
    x, y = panels.val_line.get_data()
    assert list(x) == list(range(1, 31)) and np.allclose(y, h.val_loss)
    bx, by = panels.best_marker.get_data()
    assert list(bx) == [h.best_epoch]


def test_annotations_follow_the_diagnostics():
    fig, panels = new_figure()
    h = make_history(0)
    for e, (t, v) in enumerate([(0.5, 0.5)] + [(0.3, 0.5)] * 6, start=1):
        h.add({"type": "epoch", "run_id": "fig", "seq": e, "time": 0.0, "epoch": e, "epochs": 7, "train_loss": t,
               "val_loss": v, "lr": 1e-3, "seconds": 1.0, "best": e == 1, "best_epoch": 1, "best_val_loss": 0.5,
               "metrics": {}})
    panels.update(h)
    assert panels.overfit_text.get_text().startswith("Overfitting")
    assert panels.plateau_text.get_text().startswith("Plateau")


def test_decimate_keeps_extremes_and_gaps():
    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 1000)
    y[12_345] = 50.0
    y[54_321] = np.nan
    dx, dy = decimate(x, y)
    assert dx.size <= MAX_POINTS + 2 and 50.0 in dy and np.isnan(dy).any() and dx[-1] == x[-1]
    assert np.all(np.diff(dx) > 0)
