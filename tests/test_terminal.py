"""`stlar-dl watch --no-window` as a process: attach before, during and across runs; every epoch once; Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import sys
import threading

import pytest

from fake_run import write_run
from procs import FAKE_RUN, STLAR, Spawned, dead_pid, epochs_in, make_demo_data, train_args, wait_for_records
from shared.logreader import read_log
from shared.rundir import RunDir
from viewer.terminal import CRASHED_EXIT, ConsolePrinter

EPOCH_LINE = re.compile(r"^Epoch\s+(\d+)/(\d+) \| Train: ")


def epoch_numbers(lines):
    return [int(m.group(1)) for m in map(EPOCH_LINE.match, lines) if m]



@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(tmp_path_factory.mktemp("demo"))


def test_attach_mid_run_to_a_real_training_receives_every_epoch_once(tmp_path, demo):
    run_dir = tmp_path / "run"
    with Spawned(train_args(demo, run_dir, epochs=40)) as trainer:
        wait_for_records(run_dir, lambda records: epochs_in(records) >= 3)
        with Spawned(STLAR + ["watch", str(run_dir), "--no-window"]) as watch:
            assert watch.finish(timeout=120) == 0, watch.output
        assert trainer.finish(timeout=120) == 0, trainer.output
    records, _ = read_log(RunDir(run_dir).log)
    end = records[-1]
    assert end["type"] == "end" and end["reason"] == "completed"
    assert epoch_numbers(watch.lines) == list(range(1, end["epochs_run"] + 1))
    assert watch.lines[0].startswith("Run ") and " started " in watch.lines[0]
    text = watch.output
    assert "Training complete!" in text and "📊 Training Diagnostics:" in text
    assert text.count("Training complete!") == 1


def test_attach_before_the_run_dir_exists(tmp_path):
    run_dir = tmp_path / "later" / "run"
    png = tmp_path / "live.png"
    with Spawned(STLAR + ["watch", str(run_dir), "--no-window", "--png", str(png)]) as watch:
        watch.expect(f"Waiting for the run: {run_dir / 'training_log.jsonl'} does not exist yet")
        with Spawned(FAKE_RUN + [str(run_dir), "--epochs", "4", "--epoch-seconds", "0.2"]) as trainer:
            assert trainer.finish() == 0
        assert watch.finish() == 0, watch.output
    assert epoch_numbers(watch.lines) == [1, 2, 3, 4]
    assert "Training complete!" in watch.output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_a_new_run_in_the_same_dir_resets_the_view(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.path.mkdir()
    # Stalled?: no end record, silent for an hour, its trainer (this process) alive: the watch waits on.
    old = write_run(rd.log, 2, end=None, planned=9, pid=os.getpid(), quiet_for=3600)
    with Spawned(STLAR + ["watch", str(rd.path), "--no-window"]) as watch:
        line = watch.expect("Status: stalled?: no record for 1 h 0 min")
        assert line.endswith("still watching (it may resume; Ctrl-C detaches)")
        with Spawned(FAKE_RUN + [str(rd.path), "--epochs", "3", "--epoch-seconds", "0.1"]) as trainer:
            assert trainer.finish() == 0
        assert watch.finish() == 0, watch.output
    lines = watch.lines
    marker = next(i for i, line in enumerate(lines) if line.startswith("New run "))
    assert lines[marker].endswith("in this run dir (log replaced): view reset")
    assert old[0]["run_id"] not in lines[marker]
    assert epoch_numbers(lines[:marker]) == [1, 2]
    assert epoch_numbers(lines[marker:]) == [1, 2, 3]
    assert "Training complete!" in "\n".join(lines[marker:])


def test_a_crashed_run_prints_the_verdict_and_exits_3(tmp_path):
    rd = RunDir(tmp_path)
    write_run(rd.log, 2, end=None, planned=9, pid=dead_pid(), quiet_for=3600)  # dead for sure
    with Spawned(STLAR + ["watch", str(rd.path), "--no-window"]) as watch:
        assert watch.finish() == CRASHED_EXIT == 3
    assert "Status: crashed: no end record, trainer pid" in watch.output
    assert "Training ended without an end record (crashed or killed)" in watch.output


def test_ctrl_c_detaches_and_training_continues(tmp_path):
    rd = RunDir(tmp_path / "run")
    with Spawned(FAKE_RUN + [str(rd.path), "--epochs", "200", "--epoch-seconds", "0.2"]) as trainer:
        wait_for_records(rd.path, lambda records: epochs_in(records) >= 1)
        with Spawned(STLAR + ["watch", str(rd.path), "--no-window"]) as watch:
            watch.expect("  1/200 | Train:")
            watch.interrupt()
            assert watch.finish() == 0
            assert "Detached; training continues" in watch.output
        assert trainer.proc.poll() is None  # still training
        assert not rd.stop.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads CPU time from /proc")
def test_an_idle_watch_sleeps_instead_of_spinning(tmp_path):
    rd = RunDir(tmp_path)
    write_run(rd.log, 2, end=None, pid=os.getpid())  # a live run (this process) that writes nothing new

    def cpu_seconds(pid):
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    with Spawned(STLAR + ["watch", str(rd.path), "--no-window"]) as watch:
        watch.expect("Epoch 2/2 |")
        before = cpu_seconds(watch.proc.pid)
        threading.Event().wait(3.0)  # a measurement window, not a synchronisation
        used = cpu_seconds(watch.proc.pid) - before
        assert watch.proc.poll() is None
    assert used < 0.15, f"an idle watcher used {used:.2f} s of CPU in 3 s"


def test_the_printer_uses_ascii_where_the_terminal_cannot_encode_the_glyphs(tmp_path):
    records = write_run(RunDir(tmp_path).log, 2)
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    printer = ConsolePrinter(out, tmp_path)
    printer.feed(records)
    out.flush()
    text = out.buffer.getvalue().decode("ascii")
    assert "[OK] New best! Saved to" in text and "d val: -" in text and "[i] Training Diagnostics:" in text


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _progress_run(tmp_path):
    records = write_run(RunDir(tmp_path).log, 2, end=None, planned=40)
    start_and_epochs = [r for r in records if r["type"] in ("start", "epoch")]
    progress = [{"type": "progress", "run_id": records[0]["run_id"], "seq": 100 + b, "time": 0.0, "epoch": 3,
                 "batch": b, "batches": 50, "train_loss": 0.3, "elapsed": 0.5 * b} for b in range(1, 51)]
    return start_and_epochs, progress


def test_watch_on_a_terminal_shows_progress_within_an_epoch_on_one_updating_line(tmp_path):
    class Tty(io.StringIO):
        encoding = "utf-8"

        def isatty(self):
            return True

    out = Tty()
    printer = ConsolePrinter(out, tmp_path, live=True)
    head, progress = _progress_run(tmp_path)
    printer.feed(head)
    printer.feed(progress[:10])  # read at once: only the latest is shown
    printer.feed(progress[10:12])
    text = out.getvalue()
    assert text.count("\r\033[K  Epoch 3/40: batch") == 2
    assert text.endswith("\r\033[K  Epoch 3/40: batch 12/50 (24%), about 19 s left in this epoch")
    printer.line("Epoch  3/40 | Train: ...")  # the epoch line takes the progress line's place
    assert out.getvalue().endswith("\r\033[KEpoch  3/40 | Train: ...\n")


def test_watch_piped_prints_progress_at_most_every_30_s(tmp_path):
    out, clock = io.StringIO(), _Clock()
    printer = ConsolePrinter(out, tmp_path, live=True, clock=clock)
    head, progress = _progress_run(tmp_path)
    printer.feed(head)
    for i, record in enumerate(progress):
        clock.t = i * 2.0  # a batch every 2 s: 100 s of batches
        printer.feed([record])
    lines = [line for line in out.getvalue().splitlines() if line.startswith("  Epoch 3/40: batch")]
    assert [line.split(":")[1].split("(")[0].strip() for line in lines] == [
        "batch 1/50", "batch 16/50", "batch 31/50", "batch 46/50"]
    assert "\r" not in out.getvalue()
    replayed = io.StringIO()
    ConsolePrinter(replayed, tmp_path).feed(head + progress)  # replay shows no progress
    assert "Epoch 3/40: batch" not in replayed.getvalue()
