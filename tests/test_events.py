"""viewer.events: the log-panel lines, and warnings printed when a check starts firing (not at every epoch)."""

from __future__ import annotations

import time

import pytest

from fake_run import Epochs, start_fields
from shared.console import ASCII
from shared.history import History
from shared.logreader import NewRun
from viewer.events import CATCH_UP_EPOCHS, Events, config_summary


def rec(rtype, seq=0, **fields):
    return {"type": rtype, "run_id": "r1", "seq": seq, "time": 1000.0 + seq, **fields}


def feed(events, history, record):
    history.add(record)
    return events.lines(record, history)


def epochs_lines(curve, **config):
    """Lines per epoch for a curve of (train, val) pairs."""
    events, history, book = Events(), History(), Epochs(len(curve))
    feed(events, history, rec("start", **start_fields(len(curve), **config)))
    return [feed(events, history, rec("epoch", e, **book.fields(e, t, v))) for e, (t, v) in enumerate(curve, 1)]


def test_epoch_lines_are_the_consoles():
    events, history, book = Events(checkpoint="runs/a/best.pt"), History(), Epochs(20)
    first = rec("epoch", 1, **book.fields(1, 0.5, 0.52))
    second = rec("epoch", 2, **book.fields(2, 0.4521, 0.4712))
    events.saved_best([first, second])
    assert feed(events, history, first) == [
        "Epoch  1/20 | Train: 0.5000 | Val: 0.5200 | Gap: +0.0200 | Δ val: — | Val acc: 0.5500 | Val AUROC: 0.6000",
        "  ✓ New best"]  # best.pt no longer holds it: the second epoch replaced it
    assert feed(events, history, second) == [
        "Epoch  2/20 | Train: 0.4521 | Val: 0.4712 | Gap: +0.0191 | Δ val: -0.0488 | Val acc: 0.6000 | "
        "Val AUROC: 0.6000",
        "  ✓ New best! Saved to runs/a/best.pt"]
    ascii_lines = feed(Events(ASCII), History(), rec("epoch", **Epochs(20).fields(1, 0.5, 0.6)))
    assert ascii_lines[0].startswith("Epoch  1/20 | Train: 0.5000 | Val: 0.6000 | Gap: +0.1000 | d val: - |")
    assert ascii_lines[1] == "  [OK] New best"


# A plateau: val stops improving after epoch 3 (5 epochs without a new best by 0.001 fire it at epoch 8),
# then improves again at epoch 10 (the check stops firing), then stalls again (it fires anew at epoch 15).
PLATEAU_AGAIN = [(0.5, 0.52), (0.45, 0.47), (0.4, 0.42)] + [(0.4, 0.42)] * 6 + [(0.3, 0.32)] * 6


def test_a_warning_is_printed_when_its_check_starts_firing_and_not_while_it_stays_on():
    lines = epochs_lines(PLATEAU_AGAIN, patience=100)
    plateau = [epoch for epoch, out in enumerate(lines, 1) if "⚠️ PLATEAU detected - No new best for 5 epochs" in out]
    assert plateau == [8, 15]
    # Said with its numbers and advice, as the report says it.
    assert lines[7][2:] == ["   No new best val loss by more than 1e-3 in the last 5 epochs (best 0.4200 at epoch 3, "
                            "5 epochs ago)", "   → Try: Reduce --lr by 2-5x (1e-3 → 2e-4), or add --lr-schedule plateau"]
    assert all(not any(line.startswith("⚠️") for line in out) for epoch, out in enumerate(lines, 1)
               if epoch not in (8, 15))


def test_a_check_flapping_at_its_threshold_is_not_announced_again_and_again():
    # The gap crosses 0.05 up and down: said at epoch 2; off for one epoch at 3, on at 4 (not said again);
    # off for three epochs (5-7), on at 8: said again.
    gaps = [0.02, 0.07, 0.03, 0.07, 0.03, 0.03, 0.03, 0.07]
    lines = epochs_lines([(0.5 - 0.01 * i, 0.5 - 0.01 * i + g) for i, g in enumerate(gaps)], patience=100)
    said = [epoch for epoch, out in enumerate(lines, 1) if any("OVERFITTING" in line for line in out)]
    assert said == [2, 8]


@pytest.mark.parametrize(
    "curve, config, expected",
    [
        # A steady decline fires nothing.
        ([(1.0 - 0.1 * i, 1.02 - 0.1 * i) for i in range(8)], {}, []),
        # Overfitting: val drifts above train by more than 0.05 at epoch 3.
        ([(0.5, 0.52), (0.4, 0.44), (0.3, 0.36), (0.2, 0.3)], {}, [(3, "⚠️ OVERFITTING detected - Val loss above train loss")]),
        # Divergence: a null (non-finite) loss.
        ([(0.5, 0.52), (None, None)], {}, [(2, "⚠️ DIVERGENCE detected - Non-finite loss")]),
        # Early stop after `patience` epochs without a new best.
        ([(0.5, 0.5), (0.5, 0.52), (0.5, 0.53)], {"patience": 2},
         [(3, "⚠️ EARLY STOP - No improvement for 2 epochs")]),
    ],
)
def test_warnings_table(curve, config, expected):
    lines = epochs_lines(curve, **config)
    fired = [(epoch, line) for epoch, out in enumerate(lines, 1) for line in out if line.startswith("⚠️")]
    assert fired == expected


def test_warnings_look_at_recent_epochs_only_and_a_long_catch_up_diagnoses_its_last_epochs():
    n = 20_000
    book, history, events = Epochs(n), History(), Events()
    # Flat from the start: the plateau check fires at epoch 6 and stays on.
    items = [rec("start", **start_fields(n, patience=10**6))] + [
        rec("epoch", e, **book.fields(e, 0.3, 0.32)) for e in range(1, n + 1)]
    skip = events.catch_up(items)
    assert skip == n - CATCH_UP_EPOCHS
    out = []
    for item in items:
        history.add(item)
        diagnose_it = not (item["type"] == "epoch" and item["epoch"] <= skip)
        out += events.lines(item, history, diagnose=diagnose_it)
    warnings = [line for line in out if line.startswith("⚠️")]
    # Said once, at the first diagnosed epoch; the window stays small although patience is huge, and the
    # plateau still knows the run's best, far before the window.
    assert warnings == [f"⚠️ PLATEAU detected - No new best for {skip} epochs"]
    assert f"(best 0.3200 at epoch 1, {skip} epochs ago)" in out[out.index(warnings[0]) + 1]
    assert sum(line.startswith("Epoch ") for line in out) == n


def test_run_events():
    events, history = Events(), History()
    start = rec("start", **start_fields(30, pid=77, host="lab-3"))
    assert feed(events, history, start) == [
        "Run r1 started (host lab-3, pid 77, device cpu): 30 epochs, Simple 1-D CNN, lr 0.001, batch 64, wd 0.0001, "
        "patience 5, 48 train / 12 val"]
    stop = rec("stop_requested", 1, epoch=4, stop={"by": "stlar-dl watch (ana@lab-3)", "requested_at": 1.0})
    at = time.strftime("%H:%M:%S", time.localtime(1.0))  # who and when the request was made, local time
    assert feed(events, history, stop) == [
        f"Stop requested by stlar-dl watch (ana@lab-3) at {at}: the trainer stops after epoch 4"]
    assert feed(events, history, rec("stop_requested", 2, epoch=4, stop=None)) == [
        "Stop requested: the trainer stops after epoch 4"]
    end = rec("end", 3, reason="stopped", epochs_run=4, best_epoch=3, best_val_loss=0.25, message="stop\nrequested")
    assert feed(events, history, end) == ["Run ended: stopped on request after 4 epochs, best epoch 3 (val loss 0.2500): stop requested"]
    assert events.new_run(NewRun("r2", "log replaced")) == ["New run r2 in this run dir (log replaced): view reset"]
    assert feed(events, history, rec("progress", 4, epoch=5, batch=1, batches=2, train_loss=0.3, elapsed=1.0)) == []
    assert feed(events, history, rec("something_new", 5)) == []


def test_a_newer_schema_is_shown_with_a_notice():
    lines = feed(Events(), History(), rec("start", **start_fields(3, schema=99)))
    assert lines[1] == ("⚠️ Log schema 99 is newer than this viewer's (1): showing what it understands; "
                        "upgrade stlar-dl to see everything")
    assert feed(Events(ASCII), History(), rec("start", **start_fields(3, schema=99)))[1].startswith("[WARN] Log schema")


def test_config_summary_skips_what_is_missing():
    assert config_summary({"epochs": 3, "config": {}}) == "3 epochs"
    assert config_summary({"epochs": 3, "config": {"lr": 0.0005, "model_type": 2}, "n_train": 10}) == \
        "3 epochs, ResNet-1D, lr 0.0005, 10 train"
    assert config_summary({"epochs": 3, "config": {"model_type": 9}}) == "3 epochs, model 9"


def test_a_catch_up_keeps_warnings_for_the_epochs_asked_and_only_past_the_threshold():
    book = Epochs(600)
    items = [rec("epoch", e, **book.fields(e, 0.3, 0.32)) for e in range(1, 601)]
    assert Events().catch_up(items, keep=8) == 592
    assert Events().catch_up(items[:CATCH_UP_EPOCHS], keep=8) == 0  # short runs: every epoch is diagnosed
    assert Events.catch_up_note(592, 8, lines=False) == (
        "(catching up on 600 epochs: showing the last 8 epochs; diagnostics warnings are worked out for the "
        "last 8 only)")


def test_with_the_plateau_schedule_the_warning_says_it_already_lowered_the_lr():
    events, history, book = Events(), History(), Epochs(8)
    feed(events, history, rec("start", **start_fields(8, patience=100, lr_schedule="plateau", lr_factor=0.5,
                                                         min_lr=1e-6)))
    out = []
    for e in range(1, 9):
        fields = book.fields(e, 0.4, 0.42)
        fields["lr"] = 1e-3 if e <= 6 else 5e-4  # what the trainer's schedule did after epoch 6
        out += feed(events, history, rec("epoch", e, **fields))
    assert "⚠️ PLATEAU detected - No new best for 5 epochs" in out
    assert "   → Try: --lr-schedule plateau already lowered the lr 1e-3 → 5e-4 after epoch 6; if it stays flat, " \
           "stop here (the best checkpoint is kept) or retrain with a lower --lr (1e-3 → 2e-4)" in out


def test_a_restarted_log_says_its_earlier_records_are_not_in_it():
    from shared.history import History
    from viewer.events import Events

    start = {"type": "start", "restarted": {"reason": "the log was deleted", "seq": 57, "time": 5.0},
             "run_id": "r", "seq": 0, "time": 1.0, "schema": 1, "config": {}, "epochs": 9}
    lines = Events().lines(start, History())
    assert lines[-1] == ("⚠️ The trainer started this log again (the log was deleted): its earlier records are "
                         "not in this file")
