"""A train-dl run in this process: determinism, failures mid-run, the log failing, --gui, the demo."""

from __future__ import annotations

import json
import os

import pytest
import torch

from shared.errors import LogWriteError
from shared.logwriter import LogWriter
from trainer import demo as demo_module
from trainer import loop as loop_module
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.console import ListPrinter
from trainer.train_dl import train_dl
from trainer_helpers import records, tiny_data  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def config(data, out_dir, **kw) -> TrainConfig:
    # On the CPU: exact-equality checks below would fail on a GPU, whose default kernels differ in the last bits.
    base = dict(train=str(data.train_manifest), val=str(data.val_manifest), out_dir=str(out_dir), epochs=3,
                model_type=1, num_workers=0, no_plot=True, batch_size=16, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def epoch_losses(log):
    return [(r["train_loss"], r["val_loss"]) for r in records(log) if r["type"] == "epoch"]


def test_same_seed_same_losses_epoch_by_epoch(tiny_data, tmp_path):
    for name in ("a", "b"):
        train_dl(config(tiny_data, tmp_path / name), ListPrinter())
    a, b = epoch_losses(tmp_path / "a" / "training_log.jsonl"), epoch_losses(tmp_path / "b" / "training_log.jsonl")
    assert len(a) == 3 and a == b
    train_dl(config(tiny_data, tmp_path / "c", seed=7), ListPrinter())
    assert epoch_losses(tmp_path / "c" / "training_log.jsonl") != a


def test_same_seed_same_losses_for_any_num_workers(tiny_data, tmp_path):
    # make_loader promises the same batches whatever --num-workers; losses then match to the last bit.
    # Three epochs of three shuffled batches: a different order from epoch 2 on would show. On the CPU:
    # CUDA's default kernels differ in the last bits from run to run even with 0 workers.
    for workers in (0, 2):
        train_dl(config(tiny_data, tmp_path / f"w{workers}", num_workers=workers, device="cpu"), ListPrinter())
    w0, w2 = (epoch_losses(tmp_path / name / "training_log.jsonl") for name in ("w0", "w2"))
    assert len(w0) == 3 and w0 == w2


def test_an_exception_mid_run_is_recorded_as_failed_then_raised(tiny_data, tmp_path, monkeypatch):
    calls = []

    def broken_accuracy(logits, labels):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom in epoch 2")
        return 0.5

    monkeypatch.setattr(loop_module, "accuracy", broken_accuracy)
    printer = ListPrinter()
    with pytest.raises(RuntimeError, match="boom in epoch 2"):
        train_dl(config(tiny_data, tmp_path / "m"), printer)
    end = records(tmp_path / "m" / "training_log.jsonl")[-1]
    assert (end["type"], end["reason"], end["epochs_run"], end["best_epoch"]) == ("end", "failed", 1, 1)
    assert end["message"] == "RuntimeError: boom in epoch 2"
    metrics = json.loads((tmp_path / "m" / "training_metrics.json").read_text())
    assert metrics["stop_reason"] == "failed" and metrics["epochs_run"] == 1
    assert json.loads((tmp_path / "m" / "training_params.json").read_text())["stop_reason"] == "failed"
    assert "Training failed" in printer.out


def test_a_run_that_finished_no_epoch_has_nothing_to_judge_and_no_curves(tiny_data, tmp_path, monkeypatch):
    def broken_accuracy(logits, labels):
        raise RuntimeError("boom in epoch 1")

    monkeypatch.setattr(loop_module, "accuracy", broken_accuracy)
    printer = ListPrinter()
    with pytest.raises(RuntimeError, match="boom in epoch 1"):
        train_dl(config(tiny_data, tmp_path / "m", no_plot=False), printer)
    assert not (tmp_path / "m" / "training_curves.png").exists()
    assert "• No training curves: no epoch finished" in printer.out
    report = printer.out[printer.out.index("📊 Training Diagnostics:"):]
    assert report[2] == "• Nothing to judge: no epoch finished" and not any("✓" in line for line in report)


class DiskFullAfter(LogWriter):
    """A real log writer whose file turns into /dev/full after `n` records: the kernel says ENOSPC."""

    n = 3
    full = False

    def write(self, rtype, **fields):
        if self.seq == self.n:
            full = os.open("/dev/full", os.O_WRONLY)
            os.dup2(full, self._fd)
            os.close(full)
            self.full = True
        return super().write(rtype, **fields)

    def _lost(self):
        # The swapped fd is no longer the file under the log's name, which the writer would take for a log
        # replaced under it (and start again); here the log is where it was, only its disk is full.
        return None if self.full else super()._lost()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_under_the_log_fails_cleanly_and_keeps_best_pt(tiny_data, tmp_path):
    out = tmp_path / "m"
    printer = ListPrinter()
    with pytest.raises(LogWriteError, match=r"cannot append to the training log \(No space left on device\)"):
        train_dl(config(tiny_data, out, epochs=5), printer, open_log=DiskFullAfter)
    ckpt = load_checkpoint(out / "best.pt")
    assert ckpt["epoch"] >= 1 and ckpt["model_type"] == 1
    # The log holds only whole records, and the run's other outputs were still written.
    assert [r["seq"] for r in records(out / "training_log.jsonl")] == [0, 1, 2]
    assert json.loads((out / "training_metrics.json").read_text())["stop_reason"] == "failed"
    assert "Training failed" in printer.out


def test_gui_starts_the_viewer_after_the_start_record(tiny_data, tmp_path):
    out = tmp_path / "m"
    seen = []

    def fake_launch(run_dir, shown):
        seen.append([r["type"] for r in records(run_dir / "training_log.jsonl")])
        return object(), f"Started the viewer (stlar-dl watch {shown}, pid 1)"

    printer = ListPrinter()
    outcome = train_dl(config(tiny_data, out, gui=True, epochs=1), printer, launch=fake_launch)
    assert outcome.reason == "completed" and seen == [["start"]]
    assert f"Started the viewer (stlar-dl watch {out}, pid 1)" in printer.out


def test_torch_keeps_its_default_threads_unless_threads_is_given(tiny_data, tmp_path):
    # torch's default (one per core, or OMP_NUM_THREADS) trains fastest unless busy neighbours take the cores.
    default = torch.get_num_threads()
    train_dl(config(tiny_data, tmp_path / "default", epochs=1), ListPrinter())
    assert torch.get_num_threads() == default
    assert records(tmp_path / "default" / "training_log.jsonl")[0]["threads"] == default
    train_dl(config(tiny_data, tmp_path / "one", epochs=1, threads=1), ListPrinter())
    assert records(tmp_path / "one" / "training_log.jsonl")[0]["threads"] == 1


def test_demo_writes_data_and_trains(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_module, "DEMO_N", 40)
    monkeypatch.setattr(demo_module, "DEMO_EPOCHS", 2)
    printer = ListPrinter()
    demo_dir = str(tmp_path / "demo")
    outcome = demo_module.run_demo(demo_dir, printer=printer)
    assert outcome.reason == "completed" and outcome.epochs_run == 2
    assert (tmp_path / "demo" / "data" / "manifest_train.csv").exists()
    assert {"training_log.jsonl", "best.pt", "training_metrics.json", "training_params.json",
            "training_curves.png"} <= {p.name for p in (tmp_path / "demo" / "models").iterdir()}
    assert printer.out[0] == f"Wrote 40 synthetic segments (20 HFO) to {demo_dir}/data"
    assert printer.out[-1] == "-" * 40  # ends with the diagnostic report
    assert "📊 Training Diagnostics:" in printer.out
