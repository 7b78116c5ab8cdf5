"""--lr-schedule plateau: cuts when the shared plateau rule fires, by the factor, not below the minimum, then
waits; its state survives a round trip; and a real short run that reaches a plateau lowers its lr."""

from __future__ import annotations

import json

import pytest

from shared.lr_schedule import Cut, PlateauSchedule, cut_advice, schedule_of
from trainer.config import TrainConfig
from trainer.console import ListPrinter
from trainer.train_dl import train_dl
from trainer_helpers import records, tiny_data  # noqa: F401 - a fixture

FLAT = [0.5] * 20  # the plateau rule fires from epoch 6 on (best at epoch 1)


def cuts_of(val, lr=1e-3, **kw):
    schedule, rate, changes = PlateauSchedule(**kw), lr, []
    for epoch, v in enumerate(val, start=1):
        new = schedule.step(epoch, v, rate)
        if new is not None:
            changes.append((epoch, new))
            rate = new
    return changes


@pytest.mark.parametrize("val, kw, expected", [
    # Flat: a cut when the rule fires (epoch 6), then one every 5 epochs while it keeps firing.
    (FLAT, {}, [(6, 5e-4), (11, 2.5e-4), (16, 1.25e-4)]),
    # The floor: never below min_lr, and nothing more once there.
    (FLAT, {"min_lr": 4e-4}, [(6, 5e-4), (11, 4e-4)]),
    (FLAT, {"factor": 0.1}, [(6, 1e-4), (11, 1e-5), (16, 1e-6)]),
    # A new best after the cut resets the rule: the next cut waits for 5 epochs without one again.
    ([0.5] * 6 + [0.4] + [0.4] * 9, {}, [(6, 5e-4), (12, 2.5e-4)]),
    # Steady improvement: no cut.
    ([1.0 - 0.01 * i for i in range(20)], {}, []),
])
def test_cuts_table(val, kw, expected):
    got = cuts_of(val, **kw)
    assert [e for e, _ in got] == [e for e, _ in expected]
    assert [lr for _, lr in got] == pytest.approx([lr for _, lr in expected])


def test_state_dict_round_trip_continues_identically():
    a = PlateauSchedule()
    for epoch in range(1, 9):
        a.step(epoch, 0.5, 1e-3 if epoch <= 6 else 5e-4)
    b = PlateauSchedule()
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))  # plain values only
    assert b.state_dict() == a.state_dict()
    assert [b.step(e, 0.5, 5e-4) for e in range(9, 12)] == [a.step(e, 0.5, 5e-4) for e in range(9, 12)]


def test_schedule_of_a_config_and_the_advice():
    assert schedule_of({"lr_schedule": "none"}) is None and schedule_of({}) is None
    s = schedule_of({"lr_schedule": "plateau", "lr_factor": 0.2, "min_lr": 1e-5})
    assert (s.factor, s.min_lr) == (0.2, 1e-5)
    assert cut_advice([]) == ""
    assert cut_advice([Cut(6, 1e-3, 5e-4), Cut(11, 5e-4, 2.5e-4)]) == (
        "--lr-schedule plateau already lowered the lr 5e-4 → 2.5e-4 after epoch 11 (2 cuts so far, from 1e-3)")


def test_a_real_short_run_that_reaches_a_plateau_lowers_its_lr(tiny_data, tmp_path):
    # A learning rate so small that the val loss moves by far less than 0.001: a plateau from epoch 6.
    cfg = TrainConfig(train=str(tiny_data.train_manifest), val=str(tiny_data.val_manifest),
                      out_dir=str(tmp_path / "m"), epochs=12, model_type=1, num_workers=0, no_plot=True,
                      batch_size=16, device="cpu", lr=1e-7, patience=100, lr_schedule="plateau", min_lr=1e-9)
    printer = ListPrinter()
    outcome = train_dl(cfg, printer)
    assert outcome.reason == "completed"  # early stopping kept its own patience (100)
    epochs = [r for r in records(tmp_path / "m" / "training_log.jsonl") if r["type"] == "epoch"]
    # Each record carries the lr it trained with: cut after epoch 6, and again 5 epochs later.
    assert [r["lr"] for r in epochs] == pytest.approx([1e-7] * 6 + [5e-8] * 5 + [2.5e-8])
    lowered = [line for line in printer.out if line.startswith("  lr lowered ")]
    assert lowered[0].startswith("  lr lowered 1e-7 → 5e-8 for epoch 7 (--lr-schedule plateau: best ")
    assert len(lowered) == 2
    advice = next(line for line in printer.out if line.startswith("   → Try: --lr-schedule plateau"))
    assert advice.startswith("   → Try: --lr-schedule plateau already lowered the lr 5e-8 → 2.5e-8 after epoch 11 "
                             "(2 cuts so far, from 1e-7)")


def test_a_resumed_run_continues_the_schedule(tiny_data, tmp_path):
    # Stopped after 8 epochs (one cut, after epoch 6), then resumed to 12: the same lrs as one 12-epoch run.
    base = dict(train=str(tiny_data.train_manifest), val=str(tiny_data.val_manifest), out_dir=str(tmp_path / "m"),
                model_type=1, num_workers=0, no_plot=True, batch_size=16, device="cpu", lr=1e-7, patience=100,
                lr_schedule="plateau", min_lr=1e-9)
    train_dl(TrainConfig(epochs=8, **base), ListPrinter())
    train_dl(TrainConfig(epochs=12, **base), ListPrinter(), resume=str(tmp_path / "m"), given=frozenset({"epochs"}))
    epochs = [r for r in records(tmp_path / "m" / "training_log.jsonl") if r["type"] == "epoch"]
    assert [r["epoch"] for r in epochs] == list(range(1, 13))
    assert [r["lr"] for r in epochs] == pytest.approx([1e-7] * 6 + [5e-8] * 5 + [2.5e-8])
