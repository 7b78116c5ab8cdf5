"""`stlar-dl stop RUN_DIR`: stops a live run after its epoch; refuses, in one line, when there is nothing to stop."""

from __future__ import annotations

import json
import os

import pytest

from fake_run import write_run
from procs import FAKE_RUN, STLAR, Spawned, dead_pid, epochs_in, run, unwritable, wait_for_records
from shared.errors import RunDirError
from shared.logreader import read_log
from shared.rundir import RunDir
from viewer.stop import stop_run


def test_stop_a_live_run(tmp_path):
    rd = RunDir(tmp_path / "run")
    with Spawned(FAKE_RUN + [str(rd.path), "--epochs", "100", "--epoch-seconds", "0.4"]) as trainer:
        wait_for_records(rd.path, lambda records: epochs_in(records) >= 2)
        done = run(STLAR + ["stop", str(rd.path)])
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Stop requested for run ")
        assert f"in {rd.path}: it is in epoch " in done.stdout and done.stdout.strip().endswith(
            "/100; the trainer stops after this epoch")
        assert trainer.finish() == 0
        assert trainer.lines[-1] == "stopped"
    records, _ = read_log(rd.log)
    stop = next(r for r in records if r["type"] == "stop_requested")
    assert stop["stop"]["by"].startswith("stlar-dl stop (")
    assert records[-1]["type"] == "end" and records[-1]["reason"] == "stopped"
    said = int(done.stdout.split("it is in epoch ")[1].split("/")[0])
    assert records[-1]["epochs_run"] in (said, said + 1)  # the epoch it was in, or the next if it just ended


def test_a_second_stop_says_who_asked_first(tmp_path):
    rd = RunDir(tmp_path)
    write_run(rd.log, 3, end=None, planned=10, pid=os.getpid())
    first = stop_run(tmp_path, by="stlar-dl watch (ana@lab)", clock=lambda: 1000.0)
    assert first == f"Stop requested for run {read_log(rd.log)[0][0]['run_id']} in {tmp_path}: it is in epoch 4/10; " \
                    "the trainer stops after this epoch"
    second = stop_run(tmp_path, by="stlar-dl stop (bob@lab)", clock=lambda: 1042.0)
    assert second.startswith("A stop was already requested for run ")
    assert "by stlar-dl watch (ana@lab) 42 s ago; it is in epoch 4/10 and stops after this epoch" in second
    assert json.loads(rd.stop.read_text())["by"] == "stlar-dl watch (ana@lab)"



@pytest.mark.parametrize(
    "setup, message",
    [
        ("ended", "has already ended (completed after 3 epochs); nothing to stop"),
        ("dead", "is not running (its trainer, pid "),  # ... "the log has been quiet for 1 h 0 min)"
        ("finishing", "has finished its last epoch (3/3) and is writing its end record and outputs; nothing to stop"),
        ("empty", "no training run here (no training_log.jsonl); nothing to stop"),
        ("no_start", "no run has started yet (no start record); nothing to stop"),
        ("missing", "no such folder; pass the folder given to train-dl --out-dir"),
        ("file", "is a file, not a run directory"),
    ],
)
def test_refusals_are_one_line_and_exit_2(tmp_path, setup, message):
    target = tmp_path / "run"
    rd = RunDir(target)
    if setup == "file":
        target.write_text("")
    elif setup != "missing":
        target.mkdir()
    if setup == "ended":
        write_run(rd.log, 3)
    elif setup == "dead":  # dead for sure: its pid gone on this host, the log quiet for an hour
        write_run(rd.log, 3, end=None, planned=10, pid=dead_pid(), quiet_for=3600)
    elif setup == "finishing":  # all epochs logged, no end record, the trainer (this process) alive
        write_run(rd.log, 3, end=None, pid=os.getpid())
    elif setup == "no_start":
        rd.log.write_text("")
    done = run(STLAR + ["stop", str(target)])
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.count("\n") == 1 and done.stderr.startswith("Error: ")
    assert message in done.stderr, done.stderr
    assert not rd.stop.exists()


def test_a_growing_log_is_never_refused_whatever_the_pid_check_says(tmp_path):
    # In a container (or after `unshare`) the start record's pid is the namespace's: not visible here.
    rd = RunDir(tmp_path)
    write_run(rd.log, 3, end=None, planned=10, pid=dead_pid())  # written just now: the log is growing
    assert stop_run(tmp_path).startswith("Stop requested for run ")
    assert rd.stop.is_file()


def test_a_run_dir_the_user_cannot_write_is_explained(tmp_path, monkeypatch):
    rd = RunDir(tmp_path)
    write_run(rd.log, 1, end=None, planned=10, pid=os.getpid())  # in epoch 2 of 10: a stop can still act
    with unwritable(tmp_path, monkeypatch):
        with pytest.raises(RunDirError, match=r"cannot write the stop file \(Permission denied\); ask the run's owner"):
            stop_run(tmp_path)
