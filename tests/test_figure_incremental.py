"""The figure's incremental update (one epoch at a time, as a live view calls it) shows exactly what a fresh
figure shows for the same history; a new History starts afresh; curves hold at most two points per pixel."""

from __future__ import annotations

import math
import random

import numpy as np
from matplotlib.figure import Figure

from shared.figure import DiagnosticFigure
from shared.figure_data import MAX_POINTS, POINTS_PER_PIXEL
from shared.figure_png import new_figure
from shared.history import History


def _epoch(e, n, train, val):
    return {"type": "epoch", "run_id": "inc", "seq": e, "time": float(e), "epoch": e, "epochs": n,
            "train_loss": train, "val_loss": val, "lr": 1e-3, "seconds": 1.0, "best": False, "best_epoch": None,
            "best_val_loss": None, "metrics": {}}


def _records(n, seed=0, nulls=()):
    rnd = random.Random(seed)
    out = [{"type": "start", "run_id": "inc", "seq": 0, "time": 0.0, "schema": 1, "config": {}, "epochs": n}]
    for e in range(1, n + 1):
        train = 0.7 * math.exp(-e / 300) + 0.1 + rnd.gauss(0, 0.03)
        out.append(_epoch(e, n, None if e in nulls else train, train + 0.05 + rnd.gauss(0, 0.05)))
    return out


def _lines(panels):
    """What each curve shows: its line's points, or its band's polygons where it has more points than pixels."""
    return [np.asarray(line.get_xydata()) for line in panels._curves] + \
        [np.concatenate([path.vertices for path in band.get_paths()] or [np.empty((0, 2))]) for band in panels.bands]


def test_epoch_by_epoch_updates_match_a_fresh_figure():
    records = _records(3000, nulls=(3, 4, 1500))
    _, live = new_figure()
    history = History()
    shown_at = {1, 2, 3, 5, 6, 7, 100, 2500, 2999, 3000}
    for record in records:
        if history.add(record) and history.n_epochs in shown_at:
            live.update(history)
            _, fresh = new_figure()
            fresh.update(history)
            for a, b in zip(_lines(live), _lines(fresh)):
                np.testing.assert_array_equal(a, b)  # NaN where NaN: the gaps match too


def test_a_new_history_is_shown_from_scratch():
    _, panels = new_figure()
    first, second = History(), History()
    for record in _records(50, seed=1):
        first.add(record)
    for record in _records(10, seed=2):
        second.add(record)
    panels.update(first)
    panels.update(second)
    np.testing.assert_array_equal(panels.train_line.get_ydata(), np.asarray(second.train_loss))


def test_curves_hold_two_points_per_pixel_of_the_panel_at_most():
    history = History()
    for record in _records(20_000):
        history.add(record)
    for width_in, cap in ((4.0, None), (60.0, MAX_POINTS)):
        fig = Figure(figsize=(width_in, 3), dpi=100)
        panels = DiagnosticFigure(fig.subplots(2, 2).ravel())
        panels.update(history)
        limit = cap or POINTS_PER_PIXEL * panels.ax_loss.bbox.width
        assert len(panels.train_line.get_xdata()) == 0  # 20,000 points: shown as the band
        vertices = sum(len(path.vertices) for path in panels.bands[0].get_paths())
        assert 0 < vertices <= limit + 2  # a min and a max per pixel (+ the path's closing vertex)
