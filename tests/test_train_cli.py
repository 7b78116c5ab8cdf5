"""`stlar-dl train-dl` as users run it: real processes, real files, real signals.

Runs use tiny demo data and the simple CNN so that each takes a few seconds, mostly importing torch.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import signal

import numpy as np
import pytest
import torch

from shared.console import RULE, THIN_RULE, stop_line
from shared.records import validate
from shared.stopfile import request_stop
from trainer.checkpoint import load_checkpoint, load_model
from trainer.data import load_manifest, pad_batch
from trainer_helpers import (  # noqa: F401 - fixtures
    finish,
    record_of,
    records,
    run_dir_files,
    run_stlar,
    slow_data,
    start_stlar,
    stop_process,
    tiny_data,
    train_args,
    wait_for,
)

OUTPUTS = {"training_log.jsonl", "best.pt", "last.pt", "training_metrics.json", "training_params.json",
           "training_curves.png"}
EPOCH_LINE = re.compile(
    r"^Epoch +(\d+)/(\d+) \| Train: (\d+\.\d{4}|nan) \| Val: (\d+\.\d{4}|nan) \| Gap: ([+-]\d+\.\d{4}|nan) \| "
    r"Δ val: ([+-]\d+\.\d{4}|nan|—) \| Val acc: (\d\.\d{4}|n/a) \| Val AUROC: (\d\.\d{4}|n/a)( \| ETA (\d+ (s|min|days)|\d+ h \d+ min))?$")


def assert_console_shape(stdout: str, out: str, reason_title: str, plot: bool = True) -> list[str]:
    """The issue's console block, line by line; returns the epoch lines."""
    lines = stdout.splitlines()
    i = lines.index("Starting training...")
    assert lines[i - 1] == RULE and lines[i + 1] == RULE and lines[i + 2] == ""
    j = i + 3
    epoch_lines = []
    while EPOCH_LINE.match(lines[j]) or lines[j] == f"  ✓ New best! Saved to {out}/best.pt" \
            or lines[j].startswith(("Stop requested by ", "Interrupted (Ctrl-C) - finishing", "  lr lowered ",
                                    "Terminated (SIGTERM) - finishing")):
        if EPOCH_LINE.match(lines[j]):
            epoch_lines.append(lines[j])
        j += 1
    if lines[j].startswith("⚠️  Early stopping: No improvement for "):
        j += 1
    assert lines[j:j + 3] == ["", RULE, reason_title], lines[j:]
    assert re.fullmatch(r"Best epoch: \d+ \| Best val loss: \d+\.\d{4}", lines[j + 3])
    assert re.match(r"Best epoch's metrics: Val acc: (\d\.\d{4}|n/a) \| Val AUROC: (\d\.\d{4}|n/a)", lines[j + 4])
    k = j + 5
    if lines[k].startswith("Decision threshold: "):  # the threshold, its calls at 0.5, the confusion matrix
        assert lines[k + 1].startswith("  at 0.5 instead: ") and lines[k + 2].startswith("  Confusion matrix at ")
        k += 3
    assert lines[k] == RULE
    k += 1
    if lines[k] != "":  # the stop/interrupt message under the banner
        k += 1
    assert lines[k] == ""
    tail = lines[k + 1:]
    expected = (["Generating training visualizations...", f"✓ Saved training curves to {out}/training_curves.png"]
                if plot else [])
    expected += [f"✓ Saved training metrics to {out}/training_metrics.json", "", "📊 Training Diagnostics:",
                 THIN_RULE]
    assert tail[:len(expected)] == expected
    assert tail[-1] == THIN_RULE
    for line in tail[len(expected):-1]:
        assert line.startswith(("✓ ", "⚠️  ", "   ", "• ")), line
    return epoch_lines


@pytest.fixture(scope="module")
def real_run(tiny_data, tmp_path_factory):
    """One complete run with the defaults that matter (2 loader workers), in a cwd with `--out-dir models`."""
    cwd = tmp_path_factory.mktemp("real")
    args = train_args(tiny_data, "models", "--epochs", "3", "--num-workers", "2", "--batch-size", "16")
    proc = run_stlar(*args, cwd=cwd)
    return cwd, proc


def test_a_short_real_run(real_run, tiny_data):
    cwd, proc = real_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    run = cwd / "models"
    assert run_dir_files(run) == OUTPUTS

    epoch_lines = assert_console_shape(proc.stdout, "models", "Training complete!")
    assert [EPOCH_LINE.match(l).group(1) for l in epoch_lines] == ["1", "2", "3"]
    assert proc.stdout.startswith(f"Train: 48 segments (24 HFO) from {tiny_data.train_manifest}\n")

    recs = records(run / "training_log.jsonl")
    for r in recs:
        validate(r)
    assert [r["seq"] for r in recs] == list(range(len(recs)))
    assert recs[0]["type"] == "start" and recs[-1]["type"] == "end"
    start, end = recs[0], recs[-1]
    assert start["config"]["num_workers"] == 2 and start["config"]["out_dir"] == "models"
    assert set(start["config"]) == {"train", "val", "epochs", "batch_size", "lr", "weight_decay", "out_dir",
                                    "num_workers", "model_type", "fs", "patience", "min_delta", "no_plot",
                                    "gui", "device", "seed", "threads", "lr_schedule", "lr_factor", "min_lr",
                                    "max_samples"}
    assert (start["n_train"], start["n_val"], start["n_train_positive"], start["n_val_positive"]) == (48, 12, 24, 6)
    assert start["device"] == "cpu" and start["pid"] > 0 and start["host"]
    assert set(start["versions"]) == {"python", "torch", "stlar-dl"}
    epochs = [r for r in recs if r["type"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert (end["reason"], end["epochs_run"]) == ("completed", 3)

    metrics = json.loads((run / "training_metrics.json").read_text())
    assert metrics["train_loss"] == [r["train_loss"] for r in epochs]
    assert metrics["val_loss"] == [r["val_loss"] for r in epochs]
    assert (metrics["best_epoch"], metrics["best_val_loss"]) == (end["best_epoch"], end["best_val_loss"])
    assert metrics["stop_reason"] == "completed" and metrics["epochs_run"] == 3
    assert set(metrics["metrics"]) == {"val_accuracy", "val_auroc", "val_precision", "val_recall", "val_f1",
                                       "val_threshold", "val_threshold_precision", "val_threshold_recall",
                                       "val_threshold_f1", "val_tp", "val_fp", "val_fn", "val_tn"}
    # The best epoch's decision threshold, the same in the log, training_metrics.json, best.pt and the report.
    best = next(r for r in epochs if r["epoch"] == end["best_epoch"])["metrics"]
    matrix = metrics["confusion_matrix"]
    assert metrics["threshold"] == best["val_threshold"] and metrics["threshold_epoch"] == end["best_epoch"]
    assert matrix == {"tp": best["val_tp"], "fp": best["val_fp"], "fn": best["val_fn"], "tn": best["val_tn"]}
    assert sum(matrix.values()) == 12 and matrix["tp"] + matrix["fn"] == 6
    assert (metrics["precision"], metrics["recall"], metrics["f1"]) == (
        best["val_threshold_precision"], best["val_threshold_recall"], best["val_threshold_f1"])
    assert load_checkpoint(run / "best.pt")["config"]["threshold"] == best["val_threshold"]
    assert (f"  Confusion matrix at {best['val_threshold']:.4f}: TP {matrix['tp']} | FP {matrix['fp']} | "
            f"FN {matrix['fn']} | TN {matrix['tn']}") in proc.stdout.splitlines()
    params = json.loads((run / "training_params.json").read_text())
    assert params["lr"] == 1e-3 and params["n_train"] == 48 and params["device"] == "cpu"
    assert (run / "training_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_the_checkpoint_loads_safely_and_predicts(real_run, tiny_data):
    cwd, _ = real_run
    data = torch.load(cwd / "models" / "best.pt", weights_only=True)
    assert {"model_state", "model_type", "epoch", "val_loss", "config"} <= set(data)
    assert data["model_type"] == 1 and data["config"]["out_dir"] == "models"
    best = json.loads((cwd / "models" / "training_metrics.json").read_text())
    assert (data["epoch"], data["val_loss"]) == (best["best_epoch"], pytest.approx(best["best_val_loss"]))

    model = load_model(cwd / "models" / "best.pt")
    val = load_manifest(tiny_data.val_manifest)
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(pad_batch(val.segments)).unsqueeze(1))).numpy()
    assert p.shape == (12,) and np.all((p >= 0) & (p <= 1))
    # The checkpoint's own val loss comes back from its weights (the validation set is one batch of 12).
    bce = -np.mean(val.labels * np.log(p) + (1 - val.labels) * np.log(1 - p))
    assert bce == pytest.approx(data["val_loss"], rel=1e-3)


def test_reusing_a_run_dir_archives_the_earlier_run(real_run, tiny_data, tmp_path):
    cwd, _ = real_run
    shutil.copytree(cwd / "models", tmp_path / "models")
    first = records(tmp_path / "models" / "training_log.jsonl")[0]
    proc = run_stlar(*train_args(tiny_data, "models", "--epochs", "1", "--no-plot"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    archived = list((tmp_path / "models" / "archive").iterdir())
    assert len(archived) == 1 and archived[0].name.endswith("_" + first["run_id"])
    assert run_dir_files(archived[0]) == OUTPUTS
    assert (archived[0] / "best.pt").read_bytes() == (cwd / "models" / "best.pt").read_bytes()
    assert f"Archived the previous run's outputs to models/archive/{archived[0].name}" in proc.stdout
    new = records(tmp_path / "models" / "training_log.jsonl")
    assert new[0]["run_id"] != first["run_id"] and new[-1]["epochs_run"] == 1
    # --no-plot: no new curves, and the metrics are written anyway.
    assert run_dir_files(tmp_path / "models") == OUTPUTS - {"training_curves.png"} | {"archive"}
    assert_console_shape(proc.stdout, "models", "Training complete!", plot=False)


def test_a_stop_file_ends_the_run_after_that_epoch_and_a_second_trainer_is_refused(tiny_data, tmp_path):
    out = tmp_path / "models"
    log = out / "training_log.jsonl"
    proc = start_stlar(*train_args(tiny_data, out, "--epochs", "100000", "--patience", "100000", "--no-plot"),
                       cwd=tmp_path)
    try:
        wait_for(lambda: record_of(log, "epoch"), what="the first epoch record", proc=proc)

        # A second trainer in the same run dir: one line, exit 2, the running one untouched.
        second = run_stlar(*train_args(tiny_data, out, "--epochs", "1"), cwd=tmp_path)
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert second.stderr.startswith(f"Error: --out-dir {out}: another trainer is running in this run dir")
        assert proc.poll() is None and not (out / "archive").exists()

        run_id = records(log)[0]["run_id"]
        request_stop(out / "STOP", by="the test", run_id=run_id)
        code, stdout, stderr = finish(proc)
    finally:
        stop_process(proc)
    assert code == 0, stderr
    recs = records(log)
    stop = next(r for r in recs if r["type"] == "stop_requested")
    end = recs[-1]
    assert (end["type"], end["reason"]) == ("end", "stopped")
    assert end["epochs_run"] == stop["epoch"] < 100000
    assert stop["stop"]["by"] == "the test" and stop["stop"]["run_id"] == run_id
    # That epoch was finished and no later one begun. The stop may land before or just after its epoch
    # record (the trainer also polls right after writing it), so the record order may be either.
    assert [r["epoch"] for r in recs if r["type"] == "epoch"][-1] == stop["epoch"]
    said = stop_line(stop["stop"], stop["epoch"])  # the words every viewer shows for the record
    assert said.startswith("Stop requested by the test at ") and said in stdout
    assert {"training_metrics.json", "training_params.json", "best.pt"} <= run_dir_files(out)
    assert json.loads((out / "training_metrics.json").read_text())["stop_reason"] == "stopped"
    assert (out / "STOP").exists()  # left for the viewer to see; the next run removes it
    assert_console_shape(stdout, str(out), "Training stopped (stop requested)", plot=False)


def test_a_stale_stop_file_does_not_stop_the_run_and_gui_without_display_warns(tiny_data, tmp_path):
    out = tmp_path / "models"
    out.mkdir()
    request_stop(out / "STOP", by="stlar-dl watch (old@host)", run_id="oldrun")
    proc = run_stlar(*train_args(tiny_data, out, "--epochs", "2", "--gui", "--no-plot"), cwd=tmp_path,
                     PYTHONIOENCODING="ascii")
    assert proc.returncode == 0, proc.stderr
    end = records(out / "training_log.jsonl")[-1]
    assert (end["reason"], end["epochs_run"]) == ("completed", 2)
    assert not (out / "STOP").exists()
    lines = proc.stdout.splitlines()
    assert (f"Removed a stale stop file {out}/STOP left by an earlier run (requested by stlar-dl watch (old@host))"
            in lines)
    gui = [line for line in lines if "--gui" in line]
    assert len(gui) == 1 and gui[0].startswith("[WARN] --gui: no display")
    # ASCII stand-ins where stdout cannot encode the symbols.
    assert f"  [OK] New best! Saved to {out}/best.pt" in lines and "[i] Training Diagnostics:" in lines
    assert all(line.isascii() for line in lines)


def test_early_stopping_with_lr_zero(tiny_data, tmp_path):
    # lr 0 leaves the weights alone; BatchNorm's running statistics still move a hair each epoch (~1e-5
    # in val loss), so --min-delta 0.001 keeps those from counting as improvements.
    out = tmp_path / "models"
    proc = run_stlar(*train_args(tiny_data, out, "--epochs", "20", "--lr", "0", "--patience", "2",
                                 "--min-delta", "0.001", "--no-plot"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    end = records(out / "training_log.jsonl")[-1]
    assert (end["reason"], end["epochs_run"], end["best_epoch"]) == ("early_stopped", 3, 1)
    assert "⚠️  Early stopping: No improvement for 2 epochs" in proc.stdout.splitlines()
    assert_console_shape(proc.stdout, str(out), "Training complete!", plot=False)


def test_a_huge_learning_rate_diverges(tiny_data, tmp_path):
    out = tmp_path / "models"
    proc = run_stlar(*train_args(tiny_data, out, "--epochs", "10", "--lr", "1e6"), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    recs = records(out / "training_log.jsonl")
    end = recs[-1]
    assert end["reason"] == "diverged" and end["epochs_run"] < 10
    assert "lower --lr 10x" in end["message"]
    last = [r for r in recs if r["type"] == "epoch"][-1]
    assert last["train_loss"] is None or last["val_loss"] is None
    assert "Training diverged" in proc.stdout and "⚠️  DIVERGENCE detected" in proc.stdout
    assert json.loads((out / "training_metrics.json").read_text())["stop_reason"] == "diverged"
    assert (out / "training_curves.png").exists()


@pytest.mark.parametrize("sig, code, said", [
    (signal.SIGINT, 130, "Interrupted (Ctrl-C) - finishing epoch"),
    (signal.SIGTERM, 143, "Terminated (SIGTERM) - finishing epoch"),
])
def test_a_signal_finishes_the_epoch_and_ends_interrupted(tiny_data, tmp_path, sig, code, said):
    # Sent to the whole process group, like Ctrl-C in a terminal: the two data-loader workers get it too
    # and must leave the decision to the trainer.
    out = tmp_path / "models"
    log = out / "training_log.jsonl"
    proc = start_stlar(*train_args(tiny_data, out, "--epochs", "100000", "--patience", "100000",
                                   "--num-workers", "2"), cwd=tmp_path)
    try:
        wait_for(lambda: record_of(log, "epoch"), what="the first epoch record", proc=proc)
        os.killpg(proc.pid, sig)
        rc, stdout, stderr = finish(proc)
    finally:
        stop_process(proc)
    assert rc == code, stderr
    assert "Traceback" not in stderr
    recs = records(log)
    stop = next(r for r in recs if r["type"] == "stop_requested")
    end = recs[-1]
    assert (end["reason"], end["epochs_run"]) == ("interrupted", stop["epoch"])
    assert stop["stop"]["signal"] == signal.Signals(sig).name
    assert f"{said} {stop['epoch']}" in stdout
    assert {"training_metrics.json", "training_params.json", "training_curves.png"} <= run_dir_files(out)
    assert_console_shape(stdout, str(out), "Training interrupted")


# Runs in the trainer before the CLI. The first data-loader worker to start signals its whole process group
# right after torch installed the worker's signal handlers and before stlar-dl's worker init ran: a Ctrl-C
# or `kill -- -PGID` that catches a worker being born, which under load happens whenever a worker is
# slow to start. Forked workers inherit the patched module; the marker file makes it fire once (a second
# signal would rightly abort the run).
SIGNAL_AT_WORKER_BIRTH = """
import os
from torch.utils.data._utils import signal_handling
_install = signal_handling._set_worker_signal_handlers
def _install_then_signal_the_group(*args):
    _install(*args)
    try:
        os.close(os.open({marker!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.killpg(0, {sig})
signal_handling._set_worker_signal_handlers = _install_then_signal_the_group
"""


@pytest.mark.skipif(multiprocessing.get_all_start_methods()[0] != "fork",
                    reason="the injected signal reaches loader workers only when they are forked")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_group_signal_while_a_loader_worker_starts_still_ends_interrupted(tiny_data, tmp_path, sig, code):
    out = tmp_path / "models"
    log = out / "training_log.jsonl"
    marker = tmp_path / "signalled"
    proc = start_stlar(*train_args(tiny_data, out, "--epochs", "100000", "--patience", "100000",
                                   "--num-workers", "2"),
                       cwd=tmp_path, prelude=SIGNAL_AT_WORKER_BIRTH.format(marker=str(marker), sig=int(sig)))
    try:
        rc, stdout, stderr = finish(proc)  # ends only if the trainer saw the signal and its workers lived
    finally:
        stop_process(proc)
    assert marker.exists(), "the injected signal was never sent"
    assert rc == code, stderr
    assert "Traceback" not in stderr
    assert "DataLoader worker" not in stdout + stderr  # torch's "... is killed by signal" / "exited unexpectedly"
    recs = records(log)
    stop = next(r for r in recs if r["type"] == "stop_requested")
    end = recs[-1]
    assert (stop["epoch"], stop["stop"]["signal"]) == (1, signal.Signals(sig).name)
    assert (end["reason"], end["epochs_run"]) == ("interrupted", 1)
    assert {"training_metrics.json", "training_params.json", "training_curves.png"} <= run_dir_files(out)


# Runs in the trainer before the CLI: validation of epoch 2 fails with an error nobody anticipated.
ERROR_IN_EPOCH_2 = """
import trainer.loop
_accuracy, _calls = trainer.loop.accuracy, []
def _failing_accuracy(*args):
    _calls.append(1)
    if len(_calls) == 2:
        raise ValueError("injected fault in epoch 2")
    return _accuracy(*args)
trainer.loop.accuracy = _failing_accuracy
"""


def test_an_unexpected_error_with_loader_workers_ends_the_process(tiny_data, tmp_path):
    # The workers ignore SIGTERM, and the traceback keeps their loader alive to the interpreter's exit:
    # unless the trainer stops them first, multiprocessing's exit handler waits for them forever.
    out = tmp_path / "models"
    proc = start_stlar(*train_args(tiny_data, out, "--epochs", "5", "--num-workers", "2", "--no-plot"),
                       cwd=tmp_path, prelude=ERROR_IN_EPOCH_2)
    try:
        rc, stdout, stderr = finish(proc)
    finally:
        stop_process(proc)
    assert rc == 1, stderr
    assert stderr.rstrip().endswith("ValueError: injected fault in epoch 2")
    end = records(out / "training_log.jsonl")[-1]
    assert (end["reason"], end["epochs_run"]) == ("failed", 1)


def test_a_second_ctrl_c_aborts_mid_epoch_but_the_log_still_ends(slow_data, tmp_path):
    # Epochs of about a second (ResNet, batch 2) so the second signal lands inside the first epoch.
    out = tmp_path / "models"
    log = out / "training_log.jsonl"
    proc = start_stlar(*train_args(slow_data, out, "--epochs", "50", "--model-type", "2", "--batch-size", "2"),
                       cwd=tmp_path)
    try:
        wait_for(lambda: record_of(log, "start"), what="the start record", proc=proc)
        os.kill(proc.pid, signal.SIGINT)
        wait_for(lambda: record_of(log, "stop_requested"), what="the stop_requested record", proc=proc)
        os.kill(proc.pid, signal.SIGINT)
        rc, stdout, stderr = finish(proc)
    finally:
        stop_process(proc)
    assert rc == 130, stderr
    assert "Traceback" not in stderr
    recs = records(log)
    end = recs[-1]
    assert end["type"] == "end" and end["reason"] == "interrupted"
    assert end["epochs_run"] == 0 and end["message"] == "Aborted mid-epoch 1 by a second SIGINT; epochs finished: 0"
    assert not any(r["type"] == "epoch" for r in recs)
    assert json.loads((out / "training_metrics.json").read_text())["stop_reason"] == "interrupted"
    assert json.loads((out / "training_params.json").read_text())["stop_reason"] == "interrupted"
    assert "Aborted mid-epoch 1 by a second SIGINT" in stdout


def test_demo_data_command(tmp_path):
    proc = run_stlar("demo-data", "d", "--n", "20", "--seed", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Wrote 20 segments to d/segments",
        "  d/manifest_train.csv: 16 segments (8 HFO)",
        "  d/manifest_val.csv: 4 segments (2 HFO)",
        "Train on it with: stlar-dl train-dl --train d/manifest_train.csv --val d/manifest_val.csv",
    ]
    assert len(list((tmp_path / "d" / "segments").glob("*.npy"))) == 20


def test_help_explains_every_option_in_one_line(tmp_path):
    proc = run_stlar("train-dl", "--help", cwd=tmp_path, COLUMNS="200")
    assert proc.returncode == 0
    for option in ("--train", "--val", "--epochs", "--batch-size", "--lr", "--weight-decay", "--out-dir",
                   "--num-workers", "--model-type", "--patience", "--min-delta", "--no-plot", "--gui",
                   "--device", "--seed", "--threads", "--fs", "--use-cwt", "--debug-cwt"):
        assert re.search(rf"{option}\s+\S.*\w", proc.stdout), option
    assert "1 Simple 1-D CNN, 2 ResNet-1D, 3 InceptionTime, 4 HFO Transformer, 5 Spectrogram" in proc.stdout
