"""The shared 2x2 figure: renders 0, 1, 2 and 500 epochs with nulls; updates lines in place; its fixed margins
keep the panels and the suptitle apart and inside the picture; the PNG is replaced atomically."""

import errno
import itertools
import math
import random

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.transforms import Bbox

from shared.figure_axes import epoch_tick
from shared.figure_data import envelope
from shared.figure_png import figure_title, new_figure, save_png
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


def test_envelope_keeps_extremes_and_gaps_and_spans_the_data():
    x = np.arange(1, 100_001, dtype=float)
    y = np.sin(x / 1000)
    y[12_345] = 50.0
    y[54_000:56_000] = np.nan  # a stretch of null losses wider than a bucket: a gap in the band
    polygons = envelope(x, y, 500)
    assert len(polygons) == 2
    points = np.concatenate(polygons)
    assert points[:, 1].max() == 50.0 and points[:, 1].min() == y[~np.isnan(y)].min()
    assert points[:, 0].min() == 1 and points[:, 0].max() == 100_000
    assert sum(len(p) for p in polygons) <= 2 * 500
    assert not np.isnan(points).any()
    gap_left, gap_right = polygons[0][:, 0].max(), polygons[1][:, 0].min()
    assert gap_left < 54_000 < 56_000 < gap_right + 200  # the gap shows, to within a bucket (200 epochs)


def curve_history(epochs, train, val, run_id="0123456789ab", end=None, metrics=True):
    """A history of the given epoch numbers and losses (best = lowest val loss so far), with val AUROC and
    accuracy (the metric axis takes room at the loss panel's right)."""
    h = History()
    h.add({"type": "start", "run_id": run_id, "seq": 0, "time": 0.0, "schema": 1, "config": {},
           "epochs": int(epochs[-1]) if len(epochs) else 1})
    best, best_epoch = math.inf, None
    for seq, (e, t, v) in enumerate(zip(epochs, train, val), start=1):
        if v < best:
            best, best_epoch = float(v), int(e)
        h.add({"type": "epoch", "run_id": run_id, "seq": seq, "time": float(seq), "epoch": int(e),
               "epochs": int(epochs[-1]), "train_loss": float(t), "val_loss": float(v), "lr": 1e-3,
               "seconds": 1.0, "best": best_epoch == e, "best_epoch": best_epoch, "best_val_loss": best,
               "metrics": {"val_auroc": 0.9 - 0.3 / seq, "val_accuracy": 0.8 - 0.2 / seq} if metrics else {}})
    if end:
        h.add({"type": "end", "run_id": run_id, "seq": len(epochs) + 1, "time": 0.0, "reason": end,
               "epochs_run": len(epochs), "best_epoch": best_epoch, "best_val_loss": best, "message": ""})
    return h


def noisy_curve(n, scale, offset=0.0, noise=0.01, last_epoch=None):
    """Decaying train and val losses around `offset`, `n` points spread over epochs 1..`last_epoch`."""
    rnd = np.random.default_rng(n)
    epochs = np.unique(np.linspace(1, last_epoch or n, n).round().astype(int))
    k = np.arange(epochs.size)
    train = offset + scale * (0.7 * np.exp(-k / 40) + 0.1 + rnd.normal(0, noise, k.size))
    val = offset + scale * (0.7 * np.exp(-k / 50) + 0.15 + rnd.normal(0, 2 * noise, k.size))
    return epochs, train, val


# Each case widens a part of the layout that fixed margins must leave room for.
LAYOUT_CASES = {
    "no epochs": (lambda: curve_history([], [], []), None),
    "8 epochs": (lambda: curve_history(*noisy_curve(8, 1.0), end="completed"), None),
    # 6-digit x tick labels, the last one half beyond the panel's right edge
    "epoch 100000": (lambda: curve_history(*noisy_curve(400, 1.0, last_epoch=100_000), end="early_stopped"), None),
    # an offset text ("1e-5") above the axes raises the panel titles towards the suptitle
    "losses near 1e-5": (lambda: curve_history(*noisy_curve(300, 1e-4, noise=0.001)), None),
    # 6-character y tick labels ("-30000") beside the y labels
    "swings of 30000": (lambda: curve_history(*noisy_curve(300, 5e4, noise=0.1)), None),
    # 7-character y tick labels ("-0.0020") in the improvement panel
    "improvements near 1e-3": (lambda: curve_history(*noisy_curve(300, 1e-3, offset=0.3, noise=0.2)), None),
    "long run dir": (lambda: curve_history(*noisy_curve(50, 1.0), end="stopped"), "/data/" + "deep/" * 60),
}


def rendered_boxes(fig: Figure) -> dict[str, object]:
    """Pixel bboxes of each panel (title, tick and axis labels, legend, texts) and of the suptitle, as drawn."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = {}
    for i, ax in enumerate(fig.axes[:4]):  # each panel with its twin (the loss panel's metric axis), if shown
        parts = [a for a in fig.axes if a is ax or (a in ax.get_shared_x_axes().get_siblings(ax) and a.get_visible())]
        name = f"panel {i + 1} ({ax.get_title(loc='left')[:20]})"
        boxes[name] = Bbox.union([a.get_tightbbox(renderer) for a in parts])
    for text in fig.texts:
        if text.get_text() and text.get_text() == fig.get_suptitle():
            boxes["suptitle"] = text.get_window_extent(renderer)
    return boxes


@pytest.mark.parametrize("case", list(LAYOUT_CASES))
def test_panels_and_title_do_not_overlap_and_stay_inside(case):
    make, run_dir = LAYOUT_CASES[case]
    history = make()
    fig, panels = new_figure(figure_title(history, run_dir))
    panels.update(history)
    boxes = rendered_boxes(fig)
    assert len(boxes) == 5, f"four panels and a suptitle, got {list(boxes)}"
    width, height = fig.bbox.width, fig.bbox.height

    def px(box):  # x0, y0, x1, y1 in whole pixels, for the message
        return tuple(round(float(v)) for v in box.extents)

    for name, box in boxes.items():
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, (
            f"{name} is cut at the figure's edge: {px(box)} in {width:.0f}x{height:.0f}")
    for (name_a, a), (name_b, b) in itertools.combinations(boxes.items(), 2):
        apart = a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0
        assert apart, f"{name_a} {px(a)} overlaps {name_b} {px(b)}"


def test_a_title_too_wide_keeps_its_ends():
    history = curve_history(*noisy_curve(20, 1.0), run_id="feedc0ffee42", end="early_stopped", metrics=False)
    title = figure_title(history, "/data/" + "x" * 400)
    fig, _ = new_figure(title)
    shown = fig.get_suptitle()
    assert shown.startswith("stlar-dl run feedc0ffee42") and shown.endswith(title[title.index(" | 20/20 epochs"):])
    assert "| 20/20 epochs | early stopped | best epoch " in shown
    assert "…" in shown and len(shown) < len(title)


def test_a_failed_write_leaves_the_previous_png(tmp_path, monkeypatch):
    path = tmp_path / "training_curves.png"
    save_png(make_history(5), path)
    before = path.read_bytes()

    def disk_full(self, fname, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(before[:100])  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    with pytest.raises(OSError):
        save_png(make_history(50), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary file left"


def test_epoch_ticks_stay_short_on_long_runs():
    assert [epoch_tick(v) for v in (0, 8, 40, 2500, 10_000, 95_500, 100_000, 1_200_000)] == \
        ["0", "8", "40", "2500", "10k", "95.5k", "100k", "1.2M"]


def test_a_run_without_epochs_shows_the_epochs_to_come():
    _fig, panels = new_figure()
    h = History()
    h.add({"type": "start", "run_id": "r", "seq": 0, "time": 0.0, "schema": 1, "config": {}, "epochs": 30})
    panels.update(h)
    assert panels.ax_loss.get_xlim() == (0.5, 30.5) and panels.ax_spread.get_xlim() == (0.5, 30.5)


def test_lr_changes_are_marked_on_the_loss_panel():
    fig, panels = new_figure()
    h = make_history(0)
    lrs = [1e-3] * 6 + [5e-4] * 5 + [2.5e-4] * 2
    for e, lr in enumerate(lrs, start=1):
        h.add({"type": "epoch", "run_id": "fig", "seq": e, "time": 0.0, "epoch": e, "epochs": 13,
               "train_loss": 0.3, "val_loss": 0.5, "lr": lr, "seconds": 1.0, "best": e == 1, "best_epoch": 1,
               "best_val_loss": 0.5, "metrics": {}})
        panels.update(h)  # live: one epoch at a time
    fig.canvas = FigureCanvasAgg(fig)
    fig.canvas.draw()
    xs = [segment[0][0] for segment in panels.lr_lines.get_segments()]
    assert xs == [6.5, 11.5]  # before the first epoch at each new lr
    labels = [(t.get_position()[0], t.get_text()) for t in panels.lr_marks.texts if t.get_text()]
    assert labels == [(6.5, "lr 5e-4"), (11.5, "lr 2.5e-4")]
