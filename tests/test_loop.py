"""The training loop against lists: records, console lines, stop, interrupt, divergence, early stopping."""

from __future__ import annotations

import math

import pytest
import torch

from shared.console import ASCII, stop_line
from shared.records import validate
from trainer.console import ListPrinter
from trainer.loop import PROGRESS_EVERY_S, LoopIO, LoopState, train_loop
from trainer.models import build_model


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small convolutions run fastest on one thread when the suite shares two cores (see train-dl --threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def batches(n: int, seed: int, size: int = 8, length: int = 96) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`n` batches of a learnable toy task: label 1 segments carry a fast sine."""
    g = torch.Generator().manual_seed(seed)
    out = []
    t = torch.arange(length) / 4800.0
    for _ in range(n):
        y = (torch.rand(size, generator=g) > 0.5).float()
        x = torch.randn(size, 1, length, generator=g) * 0.5
        x[:, 0, :] += y[:, None] * torch.sin(2 * math.pi * 200.0 * t)
        out.append((x, y))
    return out


class Harness:
    """A LoopIO over lists, with a fake clock that advances `tick` seconds per reading."""

    def __init__(self, tick: float = 0.0, stop_at: int | None = None, interrupt_at: int | None = None,
                 glyphs=None):
        self.records: list[dict] = []
        self.saved: list[tuple[int, float]] = []
        self.printer = ListPrinter(glyphs)
        self.now = 0.0
        self.tick = tick
        self.polls = 0
        self.stop_at, self.interrupt_at = stop_at, interrupt_at
        self.io = LoopIO(
            write_record=self.write, save_checkpoint=lambda e, v: self.saved.append((e, v)),
            stop_requested=self.stop, read_stop=lambda: {"by": "test", "run_id": "r1", "requested_at": 1.0},
            interrupt_requested=self.interrupt, printer=self.printer, clock=self.clock,
            wall_clock=lambda: 123.0, checkpoint_shown="models/best.pt",
        )

    def write(self, rtype, **fields):
        record = {"type": rtype, "run_id": "r1", "seq": len(self.records), "time": 0.0, **fields}
        self.records.append(record)
        return record

    def clock(self):
        self.now += self.tick
        return self.now

    def interrupt(self):
        # The loop asks this first at every poll, so it counts the polls; `stop` reads the count.
        self.polls += 1
        return "SIGINT" if self.interrupt_at is not None and self.polls >= self.interrupt_at else None

    def stop(self):
        return self.stop_at is not None and self.polls >= self.stop_at

    def of(self, rtype):
        return [r for r in self.records if r["type"] == rtype]


class NoBatchNorm(torch.nn.Module):
    """A model whose eval output depends on its weights alone: with lr 0 its val loss never changes.

    (The real models' BatchNorm running statistics still move in training mode when lr is 0.)
    """

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 4, 9, stride=4)
        self.head = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=2)).squeeze(1)


def run(h: Harness, epochs=3, lr=1e-2, patience=5, train=None, val=None, model_type=1):
    torch.manual_seed(0)
    model = build_model(model_type) if model_type else NoBatchNorm()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    return train_loop(model, opt, train if train is not None else batches(4, 1),
                      val if val is not None else batches(2, 2), epochs=epochs, patience=patience, min_delta=0.0,
                      io=h.io)


def test_three_epochs_record_and_print_in_stlars_shape():
    h = Harness()
    st = run(h)
    assert (st.reason, st.epochs_run, st.message) == ("completed", 3, "Trained all 3 epochs")
    epochs = h.of("epoch")
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    for r in h.records:
        validate(r)  # every record the loop writes is a valid record of its type
    first = epochs[0]
    assert first["best"] and first["best_epoch"] == 1 and first["lr"] == 1e-2
    assert set(first["metrics"]) == {"val_accuracy", "val_auroc", "val_precision", "val_recall", "val_f1",
                                     "val_threshold", "val_threshold_precision", "val_threshold_recall",
                                     "val_threshold_f1", "val_tp", "val_fp", "val_fn", "val_tn"}
    m = first["metrics"]
    assert m["val_tp"] + m["val_fp"] + m["val_fn"] + m["val_tn"] == 16  # two validation batches of 8
    assert 0 <= first["metrics"]["val_accuracy"] <= 1 and 0 <= first["metrics"]["val_auroc"] <= 1
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"]  # it learns the toy task
    assert h.printer.out[0].startswith("Epoch 1/3 | Train: ") and h.printer.out[0].endswith("| Δ val: — | Val acc: "
                                                                          f"{first['metrics']['val_accuracy']:.4f}"
                                                                          f" | Val AUROC: {first['metrics']['val_auroc']:.4f}")
    assert h.printer.out[1] == "  ✓ New best! Saved to models/best.pt"
    assert [e for e, _ in h.saved] == [r["epoch"] for r in epochs if r["best"]]


def test_epoch_loss_is_the_sample_weighted_mean():
    # Batches of 8 and 2 segments with lr 0: the epoch loss is the mean over the 10 segments.
    train = batches(1, 1, size=8) + batches(1, 3, size=2)
    h = Harness()
    torch.manual_seed(0)
    model = build_model(1)
    opt = torch.optim.Adam(model.parameters(), lr=0.0)
    train_loop(model, opt, train, batches(1, 2), epochs=1, patience=5, min_delta=0.0, io=h.io)
    model.train()
    loss = torch.nn.BCEWithLogitsLoss(reduction="sum")
    with torch.no_grad():
        total = sum(float(loss(model(x), y)) for x, y in train)
    assert h.of("epoch")[0]["train_loss"] == pytest.approx(total / 10, rel=1e-4)


def test_progress_records_at_most_every_two_seconds():
    h = Harness(tick=0.75)  # every clock reading advances 0.75 s
    run(h, epochs=2, train=batches(12, 1))
    progress = h.of("progress")
    assert progress, "a long epoch must write progress records"
    times = [r["elapsed"] for r in progress if r["epoch"] == 1]
    assert all(b - a >= PROGRESS_EVERY_S for a, b in zip(times, times[1:]))
    assert all(1 <= r["batch"] <= r["batches"] == 12 for r in progress)


def test_progress_is_written_during_validation_too():
    h = Harness(tick=1.5)
    run(h, epochs=1, train=batches(1, 1), val=batches(6, 2))
    val_progress = [r for r in h.of("progress") if r["phase"] == "val"]
    assert val_progress and all(r["val_batches"] == 6 for r in val_progress)


def test_a_stop_request_finishes_the_epoch_and_stops():
    h = Harness(stop_at=2)  # seen before the second training batch of epoch 1
    st = run(h, epochs=5)
    assert (st.reason, st.epochs_run) == ("stopped", 1)
    assert st.message == "Stop requested by test; finished epoch 1"
    stop = h.of("stop_requested")
    assert len(stop) == 1 and stop[0]["epoch"] == 1 and stop[0]["stop"]["by"] == "test"
    # The record is written at once, before the rest of the epoch and its epoch record.
    kinds = [r["type"] for r in h.records]
    assert kinds.index("stop_requested") < kinds.index("epoch")
    said = stop_line(stop[0]["stop"], 1)  # the words every viewer shows for the record
    assert said.startswith("Stop requested by test at ") and said.endswith(": the trainer stops after epoch 1")
    assert said in h.printer.out
    assert h.printer.out.index(said) < next(
        i for i, line in enumerate(h.printer.out) if line.startswith("Epoch 1/5"))


def test_a_stop_during_validation_is_seen():
    h = Harness(stop_at=4 + 2)  # 4 training batches, then the second validation batch
    st = run(h, epochs=5, val=batches(3, 2))
    assert (st.reason, st.epochs_run) == ("stopped", 1)


def test_a_first_interrupt_finishes_the_epoch():
    h = Harness(interrupt_at=3)
    st = run(h, epochs=5)
    assert (st.reason, st.epochs_run, st.message) == ("interrupted", 1, "Interrupted by SIGINT; finished epoch 1")
    stop = h.of("stop_requested")[0]
    assert stop["stop"] == {"requested_at": 123.0, "by": "SIGINT to the trainer", "run_id": None,
                            "signal": "SIGINT"}
    assert "Interrupted (Ctrl-C) - finishing epoch 1; press Ctrl-C again to abort at once" in h.printer.out


def test_a_signal_after_a_stop_file_keeps_the_reason_and_says_how_to_abort():
    h = Harness(stop_at=1, interrupt_at=2)
    st = run(h, epochs=5)
    assert st.reason == "stopped" and len(h.of("stop_requested")) == 1
    assert "Already finishing epoch 1; press Ctrl-C again to abort at once" in h.printer.out


class PoisonAt:
    """A training 'loader' whose batch `at` of epoch `epoch` holds an infinite sample."""

    def __init__(self, epoch: int, at: int):
        self.data, self.epoch, self.at, self.pass_no = batches(4, 1), epoch, at, 0

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        self.pass_no += 1
        for i, (x, y) in enumerate(self.data, start=1):
            if self.pass_no == self.epoch and i == self.at:
                x = x.clone()
                x[0, 0, 0] = math.inf
            yield x, y


def test_a_non_finite_train_loss_diverges_at_once():
    h = Harness()
    st = run(h, epochs=5, train=PoisonAt(epoch=2, at=3))
    assert (st.reason, st.epochs_run) == ("diverged", 2)
    assert st.message == "The train loss became non-finite at batch 3 of epoch 2; lower --lr 10x (0.01 -> 1e-3)"
    last = h.of("epoch")[-1]
    assert last["epoch"] == 2 and math.isnan(last["train_loss"]) and math.isnan(last["val_loss"])
    assert {"val_accuracy", "val_auroc", "val_threshold", "val_f1"} <= set(last["metrics"]) and not last["best"]
    assert set(last["metrics"].values()) == {None}  # no validation on a diverged model: no metric at all
    assert h.printer.out[-1] == "⚠️  Training diverged: the train loss became non-finite at batch 3 of epoch 2"
    assert len(h.of("progress")) == 0


def test_a_non_finite_val_loss_diverges():
    val = batches(2, 2)
    val[1][0][0, 0, 0] = math.inf
    h = Harness()
    st = run(h, epochs=5, val=val)
    assert st.reason == "diverged" and st.epochs_run == 1 and "val loss became non-finite in epoch 1" in st.message
    assert h.saved == []  # a non-finite val loss is never a new best


@pytest.mark.parametrize("patience, expected_epochs", [(1, 2), (2, 3), (4, 5)])
def test_early_stopping_with_lr_zero(patience, expected_epochs):
    # lr 0: the val loss never changes, so epoch 1 is the only best and the run stops `patience` later.
    h = Harness()
    st = run(h, epochs=10, lr=0.0, patience=patience, model_type=None)
    assert (st.reason, st.epochs_run) == ("early_stopped", expected_epochs)
    assert st.early.best_epoch == 1 and len(h.saved) == 1
    wait = expected_epochs - 1
    epochs_text = "1 epoch" if wait == 1 else f"{wait} epochs"
    assert h.printer.out[-1] == f"⚠️  Early stopping: No improvement for {epochs_text}"
    assert st.message == f"No new best val loss for {epochs_text} (patience {patience})"


def test_ascii_glyphs():
    h = Harness(glyphs=ASCII)
    run(h, epochs=1)
    assert "| d val: - |" in h.printer.out[0] and h.printer.out[1] == "  [OK] New best! Saved to models/best.pt"


def test_state_tells_how_far_an_aborted_run_got():
    h = Harness()

    def abort_in_epoch_2(rtype, **fields):
        if rtype == "epoch" and fields["epoch"] == 1:
            h.io.write_record = boom
        return h.write(rtype, **fields)

    def boom(rtype, **fields):
        raise KeyboardInterrupt

    h.io.write_record = abort_in_epoch_2
    state = LoopState()
    h.tick = 1.5  # so that epoch 2 writes a progress record, which raises
    with pytest.raises(KeyboardInterrupt):
        torch.manual_seed(0)
        model = build_model(1)
        train_loop(model, torch.optim.Adam(model.parameters()), batches(4, 1), batches(2, 2), epochs=3,
                   patience=5, min_delta=0.0, io=h.io, state=state)
    assert (state.epoch, state.epochs_run, state.early.best_epoch) == (2, 1, 1)


def test_patience_zero_turns_early_stopping_off():
    # lr 0 never improves after epoch 1, yet with --patience 0 the run trains every planned epoch.
    h = Harness()
    st = run(h, epochs=6, lr=0.0, patience=0, model_type=None)
    assert (st.reason, st.epochs_run) == ("completed", 6)
