"""Folding records into a History: aligned columns, new metric keys, run state."""

import math

from shared.history import history_of


def epoch(n, train, val, best_epoch, metrics=None, epochs=5):
    return {"type": "epoch", "run_id": "r", "seq": n, "time": float(n), "epoch": n, "epochs": epochs,
            "train_loss": train, "val_loss": val, "lr": 1e-3, "seconds": 1.0, "best": best_epoch == n,
            "best_epoch": best_epoch, "best_val_loss": 0.4, "metrics": metrics or {}}


START = {"type": "start", "run_id": "r", "seq": 0, "time": 0.0, "schema": 1, "config": {"lr": 0.01}, "epochs": 5}


def test_columns_align_and_new_metric_keys_are_padded():
    h = history_of([
        START,
        epoch(1, 0.6, 0.7, 1, {"val_accuracy": 0.5}),
        epoch(2, None, 0.5, 2),
        epoch(3, 0.4, 0.45, 3, {"val_accuracy": 0.7, "val_auroc": 0.8}),
        {"type": "gpu_stats", "run_id": "r", "seq": 4, "time": 4.0},
    ])
    assert h.epochs == [1, 2, 3] and h.n_epochs == 3
    assert math.isnan(h.train_loss[1]) and h.val_loss == [0.7, 0.5, 0.45]
    assert h.metrics["val_accuracy"][0] == 0.5 and math.isnan(h.metrics["val_accuracy"][1])
    assert [math.isnan(v) for v in h.metrics["val_auroc"]] == [True, True, False]
    assert h.planned_epochs == 5 and h.config == {"lr": 0.01} and h.best_epoch == 3 and h.records == 5


def test_run_state_moves_from_live_to_stopping_to_finished():
    h = history_of([START, epoch(1, 0.6, 0.7, 1)])
    assert not h.finished and not h.stopping
    h.add({"type": "progress", "run_id": "r", "seq": 2, "time": 2.0, "epoch": 2, "batch": 3, "batches": 10,
           "train_loss": 0.5, "elapsed": 1.0})
    assert h.progress["batch"] == 3
    h.add({"type": "stop_requested", "run_id": "r", "seq": 3, "time": 3.0, "epoch": 2, "stop": {"by": "x"}})
    assert h.stopping
    assert h.add(epoch(2, 0.5, 0.6, 2)) and h.progress is None
    h.add({"type": "end", "run_id": "r", "seq": 5, "time": 5.0, "reason": "stopped", "epochs_run": 2,
           "best_epoch": 2, "best_val_loss": 0.6, "message": ""})
    assert h.finished and not h.stopping and h.best_val_loss == 0.6 and h.last_time == 5.0


def test_empty_history():
    h = history_of([])
    assert h.n_epochs == 0 and h.planned_epochs is None and h.best_epoch is None and h.config == {}
