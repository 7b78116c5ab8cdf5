"""train-dl under torchrun: 2 CPU processes with gloo, as a user starts them (`torchrun ... -m stlar_dl train-dl`).

One run gives one gapless log and a loadable best.pt whose single-process evaluation gives exactly the
logged val loss and metrics; `stlar-dl stop` ends both processes after the same epoch; a killed process ends
the job with `failed` within a bounded time. `--standalone` picks a free port: parallel test runs never collide.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainer.checkpoint import load_model
from trainer.data import load_manifest, make_loader
from trainer.metrics import accuracy, auroc
from trainer_helpers import (TIMEOUT_S, env, finish, records, run_stlar, stop_process, tiny_data,  # noqa: F401
                             train_args, wait_for)

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def start_torchrun(cwd: Path, *args: str | Path) -> subprocess.Popen:
    """`torchrun --standalone --nproc-per-node 2 -m stlar_dl ARGS`, its output in files in `cwd`."""
    out = open(cwd / "stlar-dl.stdout", "w", encoding="utf-8")
    err = open(cwd / "stlar-dl.stderr", "w", encoding="utf-8")
    with out, err:
        proc = subprocess.Popen([*TORCHRUN, "-m", "stlar_dl", *map(str, args)], cwd=cwd, stdout=out, stderr=err,
                                env=env(STLAR_DL_DIST_TIMEOUT="30"), start_new_session=True)
    proc.output_dir = cwd  # type: ignore[attr-defined]
    return proc


def epochs_in(log: Path) -> int:
    return sum(1 for r in records(log) if r["type"] == "epoch") if log.exists() else 0


def rank_pid(torchrun: subprocess.Popen, rank: int) -> int | None:
    """The pid of the worker of `rank` among torchrun's children (read from their environment)."""
    try:
        children = Path(f"/proc/{torchrun.pid}/task/{torchrun.pid}/children").read_text().split()
    except OSError:
        return None
    for pid in children:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return int(pid)
    return None


def evaluate(checkpoint: Path, val_manifest: Path, batch_size: int) -> tuple[float, float | None, float | None]:
    """Val loss, accuracy and AUROC of a checkpoint, as one process computes them (trainer.loop's arithmetic)."""
    model = load_model(checkpoint)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    v_sum, v_seen, logits, labels = 0.0, 0, [], []
    with torch.no_grad():
        for x, y in make_loader(load_manifest(val_manifest), batch_size, shuffle=False, seed=0, num_workers=0):
            out = model(x)
            v_sum += float(loss_fn(out, y).item()) * len(y)
            v_seen += len(y)
            logits.append(out.numpy())
            labels.append(y.numpy())
    import numpy as np

    logits_np, labels_np = np.concatenate(logits), np.concatenate(labels)
    return v_sum / v_seen, accuracy(logits_np, labels_np), auroc(logits_np, labels_np)


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; torchrun on Linux")


def test_two_processes_write_one_gapless_log_and_a_best_pt_that_evaluates_to_the_logged_metrics(tiny_data, tmp_path):
    out = tmp_path / "run"
    # 12 val segments in batches of 5: rank 0 evaluates batches 1 and 3, rank 1 batch 2 (a short last batch).
    proc = start_torchrun(tmp_path, *train_args(tiny_data, out, "--epochs", "2", "--batch-size", "5",
                                                 "--no-plot", "--device", "cpu"))
    try:
        code, stdout, stderr = finish(proc)
    finally:
        stop_process(proc)
    assert code == 0, stdout + stderr
    log = records(out / "training_log.jsonl")
    assert [r["seq"] for r in log] == list(range(len(log)))
    assert len({r["run_id"] for r in log}) == 1
    types = [r["type"] for r in log]
    assert types.count("start") == 1 and types.count("end") == 1 and types.count("epoch") == 2
    start, end = log[0], log[-1]
    assert start["world_size"] == 2 and start["batch_size_per_process"] == 3 and start["device"] == "cpu"
    assert end["reason"] == "completed"
    assert stdout.count("Epoch 1/2") == 1, stdout  # rank 0 alone prints
    assert not list(out.glob(".*.tmp*"))

    best = next(r for r in log if r["type"] == "epoch" and r["epoch"] == end["best_epoch"])
    torch.set_num_threads(1)  # as each torchrun process (OMP_NUM_THREADS=1)
    val_loss, acc, area = evaluate(out / "best.pt", tiny_data.val_manifest, 5)
    assert val_loss == best["val_loss"]
    assert (acc, area) == (best["metrics"]["val_accuracy"], best["metrics"]["val_auroc"])


def test_stlar_stop_ends_both_processes_after_the_same_epoch_and_resume_continues_the_job(tiny_data, tmp_path):
    out = tmp_path / "run"
    proc = start_torchrun(tmp_path, *train_args(tiny_data, out, "--epochs", "200", "--patience", "1000",
                                                 "--batch-size", "4", "--no-plot", "--device", "cpu"))
    try:
        wait_for(lambda: epochs_in(out / "training_log.jsonl") >= 1, what="epoch 1", proc=proc)
        assert run_stlar("stop", out, cwd=tmp_path).returncode == 0
        code, stdout, stderr = finish(proc)
    finally:
        stop_process(proc)
    assert code == 0, stdout + stderr  # torchrun exits 0 only when both processes did
    log = records(out / "training_log.jsonl")
    asked = next(r for r in log if r["type"] == "stop_requested")
    end = log[-1]
    assert end["type"] == "end" and end["reason"] == "stopped"
    assert end["epochs_run"] == asked["epoch"] == max(r["epoch"] for r in log if r["type"] == "epoch")

    # The stopped job goes on under torchrun: rank 0 finds last.pt, every process restores it.
    more = str(end["epochs_run"] + 1)
    proc = start_torchrun(tmp_path, "train-dl", "--resume", out, "--epochs", more)
    try:
        code, stdout, stderr = finish(proc)
    finally:
        stop_process(proc)
    assert code == 0, stdout + stderr
    log = records(out / "training_log.jsonl")
    assert [r["seq"] for r in log] == list(range(len(log))) and len({r["run_id"] for r in log}) == 1
    resume = next(r for r in log if r["type"] == "resume")
    assert (resume["epoch"], resume["world_size"], resume["previous"]) == (end["epochs_run"], 2, "stopped")
    assert [r["epoch"] for r in log if r["type"] == "epoch"] == list(range(1, int(more) + 1))
    assert log[-1]["reason"] == "completed"


def test_a_killed_process_ends_the_job_failed_within_bounded_time(tiny_data, tmp_path):
    out = tmp_path / "run"
    proc = start_torchrun(tmp_path, *train_args(tiny_data, out, "--epochs", "200", "--patience", "1000",
                                                 "--batch-size", "4", "--no-plot", "--device", "cpu"))
    try:
        wait_for(lambda: epochs_in(out / "training_log.jsonl") >= 1, what="epoch 1", proc=proc)
        victim = wait_for(lambda: rank_pid(proc, 1), what="rank 1's pid", proc=proc)
        os.kill(victim, signal.SIGKILL)
        code, stdout, stderr = finish(proc, timeout=TIMEOUT_S)
    finally:
        stop_process(proc)
    assert code != 0
    end = records(out / "training_log.jsonl")[-1]
    assert end["type"] == "end" and end["reason"] == "failed", end
    assert math.isfinite(end["epochs_run"]) and end["epochs_run"] >= 1
