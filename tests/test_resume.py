"""Resuming a run from last.pt: the same curves as an uninterrupted run, one continuous log, refused changes.

In-process runs for the rules, and one real preemption: SIGTERM to a `stlar-dl train-dl` process, then the
requeued command with `--resume auto`.
"""

from __future__ import annotations

import json
import os
import signal
import socket

import pytest
import torch

from shared.errors import InputError
from shared.history import history_of
from shared.logends import read_ends
from shared.logwriter import LogWriter
from trainer.config import TrainConfig
from trainer.console import ListPrinter
from trainer.resume import load_last
from trainer.train_dl import train_dl
from viewer.status import trainer_gone
from viewer.stop import stop_run
from trainer_helpers import (finish, records, start_stlar, stop_process, tiny_data,  # noqa: F401
                             train_args, wait_for)


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def config(data, out_dir, **kw) -> TrainConfig:
    base = dict(train=str(data.train_manifest), val=str(data.val_manifest), out_dir=str(out_dir), epochs=3,
                model_type=1, num_workers=0, no_plot=True, batch_size=16, device="cpu", patience=100)
    base.update(kw)
    return TrainConfig(**base)


def curves(log) -> list[tuple]:
    return [(r["epoch"], r["train_loss"], r["val_loss"], r["lr"], r["best"], r["metrics"])
            for r in records(log) if r["type"] == "epoch"]


def test_a_resumed_run_has_the_curves_of_an_uninterrupted_one_and_one_gapless_log(tiny_data, tmp_path):
    train_dl(config(tiny_data, tmp_path / "whole", epochs=5), ListPrinter())
    train_dl(config(tiny_data, tmp_path / "cut", epochs=2), ListPrinter())
    last = load_last(tmp_path / "cut" / "last.pt")
    assert last["epoch"] == 2 and last["config"]["epochs"] == 2
    printer = ListPrinter()
    outcome = train_dl(config(tiny_data, tmp_path / "cut", epochs=5), printer, resume=str(tmp_path / "cut"),
                       given=frozenset({"epochs"}))
    assert outcome.reason == "completed" and outcome.epochs_run == 5
    log = tmp_path / "cut" / "training_log.jsonl"
    assert curves(log) == curves(tmp_path / "whole" / "training_log.jsonl")
    recs = records(log)
    assert [r["seq"] for r in recs] == list(range(len(recs))) and {r["run_id"] for r in recs} == {last["run_id"]}
    resume = next(r for r in recs if r["type"] == "resume")
    assert (resume["epoch"], resume["epochs"], resume["previous"]) == (2, 5, "completed")
    assert resume["changed"] == {"epochs": [2, 5]} and resume["world_size"] == 1
    assert "Resuming run " + last["run_id"] + " after epoch 2 of 5 (it ended completed)" in printer.out
    metrics = json.loads((tmp_path / "cut" / "training_metrics.json").read_text())
    assert metrics["epochs_run"] == 5 and len(metrics["val_loss"]) == 5
    assert not (tmp_path / "cut" / "archive").exists()  # a resume archives nothing


@pytest.mark.parametrize("option, value", [("model_type", 2), ("batch_size", 8), ("seed", 7)])
def test_a_resume_that_changes_the_model_or_data_is_refused_naming_the_option(tiny_data, tmp_path, option, value):
    out = tmp_path / "m"
    train_dl(config(tiny_data, out, epochs=1), ListPrinter())
    before = (out / "training_log.jsonl").read_bytes()
    flag = "--" + option.replace("_", "-")
    with pytest.raises(InputError, match=f"^{flag} {value}: the run in .* was trained with {flag} "):
        train_dl(config(tiny_data, out, epochs=3, **{option: value}), ListPrinter(), resume=str(out),
                 given=frozenset({"epochs", option}))
    assert (out / "training_log.jsonl").read_bytes() == before


def test_a_resume_may_change_lr_and_needs_more_epochs_than_done(tiny_data, tmp_path):
    out = tmp_path / "m"
    train_dl(config(tiny_data, out, epochs=2), ListPrinter())
    with pytest.raises(InputError, match="give --epochs above 2"):
        train_dl(config(tiny_data, out, epochs=2), ListPrinter(), resume=str(out), given=frozenset())
    train_dl(config(tiny_data, out, epochs=3, lr=5e-4), ListPrinter(), resume=str(out),
             given=frozenset({"epochs", "lr"}))
    recs = records(out / "training_log.jsonl")
    assert next(r for r in recs if r["type"] == "resume")["changed"] == {"epochs": [2, 3], "lr": [1e-3, 5e-4]}
    assert [r["lr"] for r in recs if r["type"] == "epoch"] == [1e-3, 1e-3, 5e-4]


def test_resume_auto_starts_a_new_run_when_the_last_one_finished(tiny_data, tmp_path):
    out = tmp_path / "m"
    first = train_dl(config(tiny_data, out, epochs=1), ListPrinter())
    second = train_dl(config(tiny_data, out, epochs=1), ListPrinter(), resume="auto", given=frozenset())
    assert second.run_id != first.run_id and second.reason == "completed"
    assert len(list((out / "archive").iterdir())) == 1


def test_the_history_of_a_resumed_log_is_one_continuous_run_without_superseded_epochs(tiny_data, tmp_path):
    out = tmp_path / "m"
    train_dl(config(tiny_data, out, epochs=3), ListPrinter())
    recs = records(out / "training_log.jsonl")
    # As if the trainer had died after logging epoch 3 but before saving last.pt: a resume after epoch 2.
    resume = {"type": "resume", "run_id": recs[0]["run_id"], "seq": len(recs), "time": recs[-1]["time"] + 1,
              "epoch": 2, "epochs": 4, "config": {**recs[0]["config"], "epochs": 4}, "best_epoch": 2,
              "best_val_loss": 0.5, "pid": 4242, "host": "elsewhere"}
    h = history_of([*recs, resume])
    assert h.epochs == [1, 2] and len(h.train_loss) == len(h.val_loss) == 2
    assert h.end is None and h.resumes == [2] and h.planned_epochs == 4
    assert (h.best_epoch, h.best_val_loss) == (2, 0.5)
    assert (h.start["pid"], h.start["host"], h.config["epochs"]) == (4242, "elsewhere", 4)


def test_a_preempted_job_ends_interrupted_and_resume_auto_continues_it(tiny_data, tmp_path):
    # The uninterrupted run, in this process, for comparison.
    # One thread on both sides: a sum over threads may round differently in the last bit.
    train_dl(config(tiny_data, tmp_path / "whole", epochs=6, batch_size=4, threads=1), ListPrinter())
    out = tmp_path / "run"
    args = train_args(tiny_data, out, "--epochs", "6", "--batch-size", "4", "--no-plot", "--device", "cpu",
                      "--patience", "100", "--threads", "1", "--resume", "auto")
    proc = start_stlar(*args, cwd=tmp_path)
    try:
        wait_for(lambda: sum(r["type"] == "epoch" for r in records(out / "training_log.jsonl"))
                 if (out / "training_log.jsonl").exists() else 0, what="epoch 1", proc=proc)
        proc.send_signal(signal.SIGTERM)  # a scheduler's preemption: SIGTERM, then (later) SIGKILL
        code, stdout, stderr = finish(proc)
    finally:
        stop_process(proc)
    assert code == 143, stdout + stderr
    end = records(out / "training_log.jsonl")[-1]
    assert end["reason"] == "interrupted" and 1 <= end["epochs_run"] < 6
    assert load_last(out / "last.pt")["epoch"] == end["epochs_run"]

    requeued = start_stlar(*args, cwd=tmp_path)  # the same command, as a requeued job runs it
    try:
        code, stdout, stderr = finish(requeued)
    finally:
        stop_process(requeued)
    assert code == 0, stdout + stderr
    assert f"after epoch {end['epochs_run']} of 6 (it ended interrupted)" in stdout
    assert curves(out / "training_log.jsonl") == curves(tmp_path / "whole" / "training_log.jsonl")
    assert records(out / "training_log.jsonl")[-1]["reason"] == "completed"


def test_a_resumed_runs_trainer_is_known_alive_from_the_log_ends_alone(tmp_path):
    # `stlar-dl stop` and the status read only the log's start and last records: the start record names the
    # first trainer (long gone); the resume record, then the resumed trainer's epoch records, name the live one.
    host = socket.gethostname()
    log = tmp_path / "training_log.jsonl"
    with LogWriter(log, run_id="r") as w:
        w.write("start", schema=1, config={"epochs": 9}, epochs=9, pid=2**22 + 12345, host=host)
        epoch = dict(epochs=9, train_loss=0.5, val_loss=0.5, lr=1e-3, seconds=1.0, best=False, best_epoch=1,
                     best_val_loss=0.5, metrics={})
        for e in (1, 2):
            w.write("epoch", epoch=e, **epoch)
        w.write("end", reason="interrupted", epochs_run=2, best_epoch=1, best_val_loss=0.5, message="")
        w.write("resume", epoch=2, epochs=9, config={"epochs": 9}, best_epoch=1, best_val_loss=0.5,
                pid=os.getpid(), host=host)
        assert trainer_gone(read_ends(log).history()) is False
        assert trainer_gone(history_of(records(log))) is False
        for e in range(3, 9):  # more epochs than the log's ends hold: the resume record is out of reach
            w.write("epoch", epoch=e, pid=os.getpid(), host=host, **epoch)
    ends = read_ends(log)
    assert not any(r["type"] == "resume" for r in ends.tail)
    assert trainer_gone(ends.history()) is False and trainer_gone(history_of(records(log))) is False
    assert stop_run(tmp_path).startswith("Stop requested for run r")
