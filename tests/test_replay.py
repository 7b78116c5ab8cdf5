"""`stlar-dl replay`: a finished or crashed run from its log alone, as a PNG, in the terminal, or in a window."""

from __future__ import annotations

import io
import json
import os
import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread

from fake_run import write_run
from procs import STLAR, dead_pid, run, train_args
from shared.rundir import RunDir
from viewer.replay import ReplaySource, load_run, print_run, replay
from viewer.layout import FIGSIZE
from viewer.window import RunWindow



def assert_figure_png(path):
    image = imread(path)
    assert image.shape[:2] == (900, 1200)
    # Not blank: curves, text and the red overfitting zone make many distinct colours.
    assert len(np.unique(image.reshape(-1, image.shape[2])[:, :3], axis=0)) > 50


def test_png_of_a_finished_run(tmp_path):
    write_run(RunDir(tmp_path).log, 12)
    png = tmp_path / "out" / "curves.png"
    png.parent.mkdir()
    done = run(STLAR + ["replay", str(tmp_path), "--png", str(png)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"Wrote {png} (12 epochs; finished: completed, best epoch 12 "
                                   f"(val loss 0.1883))")
    assert_figure_png(png)


def test_png_of_a_crashed_run(tmp_path):
    write_run(RunDir(tmp_path).log, 4, end=None, planned=10, pid=dead_pid(), quiet_for=3600)
    png = tmp_path / "crashed.png"
    done = run(STLAR + ["replay", str(tmp_path), "--png", str(png)])
    assert done.returncode == 0, done.stderr
    assert "(4 epochs; crashed: no end record, trainer pid" in done.stdout
    assert "is gone and the log has been quiet for 1 h 0 min)" in done.stdout
    assert_figure_png(png)


def test_no_window_prints_the_trainers_epoch_lines_and_its_final_report(tmp_path):
    # 60 segments: the real trainer finishes 6 epochs in a blink after its start-up.
    done = run(STLAR + ["demo-data", str(tmp_path / "small"), "--n", "60"])
    assert done.returncode == 0
    trained = run(train_args(tmp_path / "small", tmp_path / "run", epochs=6), timeout=120)
    assert trained.returncode == 0, trained.stderr
    replayed = run(STLAR + ["replay", str(tmp_path / "run"), "--no-window"])
    assert replayed.returncode == 0, replayed.stderr

    def block(text, first):
        lines = text.splitlines()
        i = lines.index(first)
        return lines[i: lines.index("-" * 40, i + 2) + 1]

    report = "📊 Training Diagnostics:"
    assert block(replayed.stdout, report) == block(trained.stdout, report)
    # The end block, with the best epoch's decision threshold and confusion matrix, reads the same too.
    ended = trained.stdout.splitlines()
    i = ended.index("Training complete!")
    end_block = ended[i:ended.index("=" * 60, i)]
    assert any(line.startswith("  Confusion matrix at ") for line in end_block)
    replayed_lines = replayed.stdout.splitlines()
    j = replayed_lines.index("Training complete!")
    assert replayed_lines[j:j + len(end_block)] == end_block
    # The trainer's console adds the time left (" | ETA 3 s"), a live estimate that a replay has no use for.
    trainer_epochs = [re.sub(r" \| ETA [^|]+$", "", line) for line in trained.stdout.splitlines()
                      if line.startswith("Epoch ")]
    assert any(" | ETA " in line for line in trained.stdout.splitlines() if line.startswith("Epoch 1/6 "))
    replay_epochs = [line for line in replayed.stdout.splitlines() if line.startswith("Epoch ")]
    assert replay_epochs == trainer_epochs and len(replay_epochs) == 6


def test_no_window_on_a_crashed_run_says_so(tmp_path):
    write_run(RunDir(tmp_path).log, 3, end=None, planned=10, pid=dead_pid(), quiet_for=3600)
    out = io.StringIO()
    assert replay(tmp_path, no_window=True, out=out) == 0
    text = out.getvalue()
    assert "Status: crashed: no end record, trainer pid" in text
    assert "Training ended without an end record (crashed or killed)" in text
    assert "Best epoch: 3 | Best val loss: 0.4378" in text


def test_a_run_after_its_last_epoch_is_finishing_not_in_an_extra_epoch(tmp_path):
    # All 10 epochs logged, no end record yet, and the trainer (this process) alive: it is finishing.
    write_run(RunDir(tmp_path).log, 10, end=None, pid=os.getpid())
    finishing = "live — finishing: epoch 10/10 done, writing the end record and outputs"
    out = io.StringIO()
    records, warnings = load_run(tmp_path)
    assert print_run(tmp_path, records, warnings, out, quiet=1.0) == 0  # a second after the last epoch
    text = out.getvalue()
    assert f"Status: {finishing}\n".replace("—", "-") in text  # a StringIO has no encoding: ASCII stand-ins
    assert "11/10" not in text and "epoch 11" not in text
    assert "ended without an end record" not in text, "a live run gets no crash report"
    png, out = tmp_path / "curves.png", io.StringIO()
    assert replay(tmp_path, png=png, no_window=True, out=out) == 0
    assert out.getvalue().splitlines()[0] == f"Wrote {png} (10 epochs; {finishing})"
    assert_figure_png(png)


def test_garbage_torn_and_overlong_lines_are_skipped_with_warnings_and_the_rest_shown(tmp_path):
    rd = RunDir(tmp_path)
    write_run(rd.log, 3)
    lines = rd.log.read_bytes().splitlines(keepends=True)
    overlong = b'{"pad": "' + b"x" * (1 << 20) + b'"}\n'
    rd.log.write_bytes(lines[0] + b"garbage\n" + lines[1] + overlong + b"".join(lines[2:]) + b'{"type": "epo')
    done = run(STLAR + ["replay", str(tmp_path), "--no-window"])
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert "⚠️ training_log.jsonl line 2: skipped (not valid JSON" in out[0]
    assert out[1].startswith("⚠️ training_log.jsonl line 4: skipped (longer than 1048576 bytes)")
    assert sum(line.startswith("Epoch ") for line in out) == 3
    assert "Training complete!" in out


def test_a_finished_log_whose_last_record_lacks_its_newline_is_finished(tmp_path):
    rd = RunDir(tmp_path)
    write_run(rd.log, 3)
    rd.log.write_bytes(rd.log.read_bytes().rstrip(b"\n"))  # an editor or a foreign writer dropped it
    out = io.StringIO()
    assert replay(tmp_path, no_window=True, out=out) == 0
    assert "Training complete!" in out.getvalue() and "crashed" not in out.getvalue()


def test_a_newer_schema_is_shown_with_a_notice(tmp_path):
    write_run(RunDir(tmp_path).log, 2, schema=7)
    done = run(STLAR + ["replay", str(tmp_path), "--no-window"])
    assert done.returncode == 0
    assert "⚠️ Log schema 7 is newer than this viewer's (1): showing what it understands" in done.stdout
    assert sum(line.startswith("Epoch ") for line in done.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    "setup, args, message",
    [
        ("empty", [], "no training_log.jsonl here; pass a folder a training run wrote"),
        ("garbage", [], "no valid records to replay (the log is empty or every line is malformed; "
                        "training_log.jsonl line 1: skipped (not valid JSON"),
        ("file", [], "is a file, not a run directory"),
        ("missing", [], "no such folder"),
        ("log", ["--speed", "0"], "--speed 0.0: must be a positive number of epochs per second"),
        ("log", ["--png", "nowhere/x.png"], "--png nowhere/x.png: folder nowhere does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, setup, args, message):
    target = tmp_path / "run"
    if setup == "file":
        target.write_text("x")
    elif setup != "missing":
        target.mkdir()
    if setup == "garbage":
        RunDir(target).log.write_text("not json\n")
    if setup == "log":
        write_run(RunDir(target).log, 1)
    done = run(STLAR + ["replay", str(target), *args], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: ")
    assert message in done.stderr, done.stderr


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_speed_releases_one_epoch_at_a_time():
    records = [{"type": "start"}, {"type": "epoch", "epoch": 1}, {"type": "progress"},
                    {"type": "epoch", "epoch": 2}, {"type": "end"}]
    clock = Clock()
    source = ReplaySource(records, speed=2.0, clock=clock)
    assert source.due()
    assert [r["type"] for r in source.drain()] == ["start"]
    assert not source.due()
    clock.t = 0.5
    assert [r["type"] for r in source.drain()] == ["epoch", "progress"]
    clock.t = 0.99
    assert not source.due() and source.drain() == []
    clock.t = 1.0
    assert [r["type"] for r in source.drain()] == ["epoch", "end"]
    assert source.done and not source.due()


def test_the_replay_window_plays_the_run_and_has_a_close_button(tmp_path):
    records = write_run(RunDir(tmp_path).log, 5)
    clock = Clock()
    source = ReplaySource(records, ["a warning"], speed=10.0, clock=clock)
    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    window = RunWindow(fig, tmp_path, source, live=False, out=None)
    window.tick()
    assert window.history.n_epochs == 0 and window.button_label == "Close"
    assert window.log_lines[0] == "⚠ a warning"
    for n in range(1, 6):
        clock.t = n / 10
        window.tick()
        assert window.history.n_epochs == n
    assert window.status.text.startswith("finished: completed")
    assert json.dumps(window.header.get_text()).startswith('"Epoch 5/5')


def test_replay_speed_never_says_crashed_before_the_end_of_the_log(tmp_path):
    records = write_run(RunDir(tmp_path).log, 4, end=None, planned=10, pid=dead_pid())
    clock = Clock()
    # The log was last written an hour ago and its trainer is gone: crashed, but only once played to the end.
    source = ReplaySource(records, speed=1.0, clock=clock, quiet=3600.0)
    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    window = RunWindow(fig, tmp_path, source, live=False, out=None, clock=clock)
    seen = []
    for n in range(0, 5):
        clock.t = n
        window.tick()
        seen.append((window.history.n_epochs, window.status.kind))
    assert seen[:4] == [(0, "replaying"), (1, "replaying"), (2, "replaying"), (3, "replaying")]
    assert seen[4] == (4, "crashed") and window.status.text.startswith("crashed: no end record, trainer pid")


def test_speed_slower_than_a_timer_can_wait_is_one_line(tmp_path):
    write_run(RunDir(tmp_path).log, 3)
    done = run(STLAR + ["replay", str(tmp_path), "--no-window", "--speed", "1e-12"])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--speed 1e-12: slower than 0.001 epochs per second" in done.stderr
