"""`stlar-dl compare`: the overlay figure, the PNG, the terminal table while runs train, highlighting a run."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread

from fake_run import write_run
from procs import FAKE_RUN, STLAR, Spawned, dead_pid, epochs_in, run, wait_for_records
from shared.rundir import RunDir
from shared.stopfile import request_stop
from viewer.compareterm import compare_terminal
from viewer.comparewindow import CompareWindow
from viewer.runset import RunSet

T0 = 1_800_000_000.0


def clock_from(t):
    ticks = iter(range(100_000))
    return lambda: t + next(ticks)


@pytest.fixture
def sweep(tmp_path):
    """Four runs as a tuning session leaves them: two learning rates with different plans, a crash, a run
    that died before its first epoch."""
    gone = dead_pid()
    for i, (name, curve, kw) in enumerate([
        ("lr1e-3", 5, dict(lr=1e-3)),
        ("lr1e-4", 8, dict(lr=1e-4)),
        # Crashed: their trainers gone and their logs quiet for an hour (dead for sure, see viewer.status).
        ("crash", [(0.7, 0.72), (0.5, 0.55), (0.45, 0.6)],
         dict(lr=3e-4, end=None, planned=10, pid=gone, quiet_for=3600)),
        ("empty", [], dict(lr=5e-4, end=None, planned=10, pid=gone, quiet_for=3600)),
    ]):
        (tmp_path / name).mkdir()
        write_run(tmp_path / name / "training_log.jsonl", curve, clock=clock_from(T0 + 1000 * i), **kw)
    return tmp_path


def agg_window(runset):
    fig = Figure(figsize=(13, 9.4), dpi=100)
    FigureCanvasAgg(fig)
    window = CompareWindow(fig, runset)
    fig.canvas.draw()
    return window


def click(fig, artist):
    """A left click in the middle of `artist` (a text row) or on a point of a line."""
    if hasattr(artist, "get_xydata"):
        x, y = artist.axes.transData.transform(artist.get_xydata()[1])
    else:
        box = artist.get_window_extent()
        x, y = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    event = MouseEvent("button_press_event", fig.canvas, x, y, button=1)
    fig.canvas.callbacks.process("button_press_event", event)


def test_the_figure_names_runs_by_their_options_and_draws_every_kind_sensibly(sweep):
    with RunSet([sweep], live=False) as runset:
        window = agg_window(runset)
        panel, view = window.view.panel, window.view
        labels = [t.get_text() for t in panel.ax.get_legend().get_texts()]
        # Differing options as names (planned epochs differ too), in order of start; no run ids.
        assert [t.split(",")[0] for t in labels] == ["lr=1e-3", "lr=1e-4", "lr=3e-4", "lr=5e-4"]
        assert labels[3] == "lr=5e-4, epochs=10 (no epoch yet)"
        # Ended runs span what they ran (8 epochs), not their plans (10): nothing squeezed to the left.
        assert panel.ax.get_xlim()[1] == pytest.approx(8.5)
        arts = {view.labels[k]: a for k, a in panel._artists.items()}
        crash = next(a for text, a in arts.items() if text.startswith("lr=3e-4"))
        assert list(crash.end.get_xdata()) == [3]  # an X where the crashed run stops
        assert list(crash.best.get_xdata()) == [2]  # its best epoch starred
        ok = next(a for text, a in arts.items() if text.startswith("lr=1e-3"))
        assert list(ok.end.get_xdata()) == [] and list(ok.dashed.get_xdata()) == [1, 2, 3, 4, 5]
        rows = [t.get_text() for _, t in view.rows]
        assert any("crashed" in r and "3/10" in r for r in rows)
        assert any("finished" in r and "8/8" in r for r in rows)


def test_clicking_a_row_or_a_curve_highlights_that_run(sweep):
    with RunSet([sweep], live=False) as runset:
        window = agg_window(runset)
        view = window.view
        second = view.row_keys[1]
        click(window.fig, view.rows[1][1])
        assert window.highlighted == second
        art = view.panel._artists[second]
        assert art.main.get_linewidth() > view.panel._artists[view.row_keys[0]].main.get_linewidth()
        assert view.panel._artists[view.row_keys[0]].main.get_alpha() < 0.5
        assert view.rows[1][1].get_fontweight() == "bold"
        click(window.fig, view.rows[1][1])  # again: all alike
        assert window.highlighted is None
        first = view.row_keys[0]
        click(window.fig, view.panel._artists[first].main)
        assert window.highlighted == first


def test_the_window_redraws_when_a_run_grows_and_not_otherwise(tmp_path):
    from test_runset import Trainer, wait_for

    trainer = Trainer(tmp_path / "live")
    trainer.epochs(1)
    with RunSet([tmp_path], rescan_seconds=60) as runset:
        window = agg_window(runset)
        assert window.view.panel.ax.get_xlim()[1] == pytest.approx(5.5)  # a live run: where it is heading
        draws = window.draws
        assert window.tick() is False and window.draws == draws  # nothing new: no redraw
        trainer.epochs(1)
        wait_for(runset, lambda: window.tick() and runset.runs[0].history.n_epochs == 2, "the redraw")
        assert window.draws == draws + 1
        x = window.view.panel._artists[runset.runs[0].key].main.get_xdata()
        assert list(x) == [1, 2]
        trainer.end()


def test_compare_png_writes_the_figure_and_exits(sweep, tmp_path):
    out = tmp_path / "sweep.png"
    done = run(STLAR + ["compare", str(sweep), "--png", str(out)], timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Wrote {out} (4 runs)"
    image = imread(out)
    assert image.shape[:2] == (940, 1300)
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 50


@pytest.mark.parametrize("args, message", [
    (["--metric", "val_f1"], "--metric val_f1: no run here logs it; choose one of val_loss, train_loss, "
                             "val_accuracy, val_auroc"),
    (["--png", "{tmp}/no/such/folder.png"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(sweep, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = run(STLAR + ["compare", str(sweep), "--no-window", *args], timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr


def test_compare_png_of_a_folder_without_runs_says_so(tmp_path):
    done = run(STLAR + ["compare", str(tmp_path), "--png", str(tmp_path / "x.png")], timeout=60)
    assert done.returncode == 2 and "no runs here" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_no_window_prints_the_table_updates_it_while_a_run_trains_and_ends_with_it(sweep):
    live = sweep / "live"
    with Spawned(FAKE_RUN + [str(live), "--epochs", "500", "--epoch-seconds", "0.2"]) as trainer:
        wait_for_records(live, lambda records: epochs_in(records) >= 1)
        with Spawned(STLAR + ["compare", str(sweep), "--no-window"]) as compare:
            compare.expect(" live ", timeout=60)  # the trainer's row, live
            request_stop(RunDir(live).stop, by="test", run_id=None)  # the run ends (stopped) after its current epoch
            assert trainer.finish(timeout=60) == 0
            assert compare.finish(timeout=60) == 0  # no run live any more: the compare ends with it
    tables = compare.output.split("\n\n")
    assert len(tables) >= 2  # the first table and at least one update (a pipe gets a new table)
    last = tables[-1].splitlines()
    assert last[0].split()[:2] == ["run", "status"]
    assert any(line.startswith("lr=1e-3") and "finished" in line and "5/5" in line for line in last)
    assert any(" stopped " in line and "/500" in line and str(live) in line for line in last)


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_table_is_rewritten_in_place_until_the_run_ends(tmp_path):
    from test_runset import Trainer

    trainer = Trainer(tmp_path / "live", planned=3)
    trainer.epochs(1)
    out = Tty()
    codes = []
    with RunSet([tmp_path], rescan_seconds=60) as runset:
        viewer = threading.Thread(target=lambda: codes.append(compare_terminal(runset, out, tick=0.05)))
        viewer.start()
        try:
            deadline = time.monotonic() + 20
            while " live " not in out.getvalue():  # the first table, with the run live
                assert time.monotonic() < deadline, out.getvalue()
                viewer.join(0.05)
            trainer.epochs(2)
            trainer.end()
        finally:
            viewer.join(20)
    assert codes == [0]
    text = out.getvalue()
    assert "\x1b[3F\x1b[J" in text  # back over the 3-line table (header, rule, one run), cleared, redrawn
    final = text.rsplit("\x1b[J", 1)[1].splitlines()
    assert final[2].split()[1:3] == ["finished", "3/3"]
