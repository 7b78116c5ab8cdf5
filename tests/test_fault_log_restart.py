"""Fault: the log is deleted or truncated while a real trainer writes it (`rm`, a copy-truncate rotation).

The trainer notices at its next write, starts the log again with a copy of its start record (`restarted`),
says so once on its console and goes on; no record written after that is lost; `stlar-dl watch` follows the
restarted log and shows every epoch once; `stlar-dl stop` still stops the run.
"""

from __future__ import annotations

import os

from faults import (  # noqa: F401 - fixtures
    TIMEOUT,
    Row,
    child_env,
    data600,
    stlar_cli,
    train_argv,
    wait_until,
    zygote,
)
from procs import Spawned
from shared.logreader import read_log
from shared.records import EPOCH, START

HERE = "tests/test_fault_log_restart.py"


def epochs_in(log) -> list[int]:
    return [r["epoch"] for r in read_log(log)[0] if r["type"] == EPOCH]


def test_a_real_run_whose_log_is_deleted_then_truncated(zygote, data600, tmp_path):
    row = Row("Log deleted, then truncated, under a running trainer",
              "a real training with `stlar-dl watch --no-window` attached: `rm` of the log mid-run, later a "
              "copy-truncate rotation, then `stlar-dl stop`",
              "{runs} runs: the trainer restarted the log {restarts} times with one console line each, lost "
              "{lost} records, and stopped on request; the viewer showed every epoch once ({epochs} epochs)",
              times_key="runs", command=f"pytest {HERE}")
    run_dir = tmp_path / "run"
    log = run_dir / "training_log.jsonl"
    with Spawned(stlar_cli("watch", run_dir, "--no-window"), **child_env()) as watch:
        trainer = zygote.start(train_argv(data600, run_dir, "--epochs", "300", "--patience", "1000"), tmp_path,
                               tmp_path / "train.out")
        try:
            for remove in ("delete", "truncate"):
                wait_until(lambda: len(epochs_in(log)) >= 2, what=f"two epochs before the {remove}")
                shown = epochs_in(log)[-1]
                watch.expect(f" {shown}/300 | Train", timeout=TIMEOUT)  # the viewer read them before they go
                if remove == "delete":
                    log.unlink()
                else:
                    log.with_name("training_log.jsonl.1").write_bytes(log.read_bytes())
                    os.truncate(log, 0)
                wait_until(lambda: log.exists() and len(epochs_in(log)) >= 2, what=f"the log restarted ({remove})")
            done = Spawned(stlar_cli("stop", run_dir), **child_env())
            assert done.finish(timeout=TIMEOUT) == 0, done.output
            assert zygote.wait(trainer) == 0, trainer.output
        finally:
            zygote.kill(trainer)
        assert watch.finish(timeout=TIMEOUT) == 0, watch.output
    records = read_log(log)[0]
    first = records[0]
    assert first["type"] == START and first["restarted"]["reason"] == "the log was truncated", first
    seqs = [r["seq"] for r in records[1:]]
    assert seqs[0] == first["restarted"]["seq"] and seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert records[-1]["type"] == "end" and records[-1]["reason"] == "stopped"
    said = [line for line in trainer.output.splitlines() if "while the run was writing it" in line]
    assert len(said) == 2 and "was deleted" in said[0] and "was truncated" in said[1], trainer.output
    shown = [int(line.split()[1].split("/")[0]) for line in watch.output.splitlines() if line.startswith("Epoch ")]
    assert shown == list(range(1, records[-1]["epochs_run"] + 1)), watch.output
    assert "Run ended: stopped" in watch.output
    row.add("runs")
    row.add("restarts", len(said))
    row.add("lost", 0)
    row.add("epochs", len(shown))
    row.save()
