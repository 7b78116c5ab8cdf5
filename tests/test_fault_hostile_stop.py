"""Fault: a hostile STOP. A FIFO, or a link to /dev/zero, put under the stop file's name while a real trainer
runs: neither the trainer's poll nor `stlar-dl stop` may block or read without limit. Anything named STOP is a
stop request (without details when it is not a regular file); the trainer says once what it found.
"""

from __future__ import annotations

import os

import pytest

from faults import (  # noqa: F401 - fixtures
    TIMEOUT,
    Row,
    child_env,
    data600,
    epochs_logged_by,
    stlar_cli,
    train_argv,
    wait_until,
    zygote,
)
from procs import Spawned
from shared.logreader import read_log

HERE = "tests/test_fault_hostile_stop.py"
KINDS = {"fifo": (os.mkfifo, "a FIFO"), "zero": (lambda p: os.symlink("/dev/zero", p), "a device (through a link)")}


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="POSIX file kinds")
def test_a_hostile_stop_under_a_running_trainer(zygote, data600, tmp_path):
    row = Row("Hostile STOP under a running trainer", "a FIFO, then a link to /dev/zero, made the stop file of a "
              "real training; `stlar-dl stop` run against each",
              "{runs} runs: {stopped} stopped after the epoch they were in, each saying once what STOP was; "
              "`stlar-dl stop` answered at once every time; nothing blocked or read /dev/zero",
              times_key="runs", command=f"pytest {HERE}")
    run_dir = tmp_path / "run"
    for name, (make, kind) in KINDS.items():
        trainer = zygote.start(train_argv(data600, run_dir, "--epochs", "300", "--patience", "1000"), tmp_path,
                               tmp_path / f"{name}.out")
        try:
            wait_until(lambda: epochs_logged_by(run_dir, trainer.pid) >= 1, what="the first epoch")
            make(run_dir / "STOP")
            stop = Spawned(stlar_cli("stop", run_dir), **child_env())
            code = stop.finish(timeout=TIMEOUT)  # at once; the trainer may have stopped already
            still_going = code == 0 and "A stop was already requested" in stop.output
            assert still_going or (code == 2 and "has already ended (stopped after" in stop.output), stop.output
            assert zygote.wait(trainer) == 0, trainer.output
        finally:
            zygote.kill(trainer)
        records = read_log(run_dir / "training_log.jsonl")[0]
        assert records[-1]["type"] == "end" and records[-1]["reason"] == "stopped", records[-1]
        said = [line for line in trainer.output.splitlines() if "not a stop file" in line]
        assert said == [f"{run_dir / 'STOP'} is {kind}, not a stop file: taken as a stop request without details"]
        row.add("runs")
        row.add("stopped")
    row.save()
