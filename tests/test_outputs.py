"""The end-of-run files, built from the run's records."""

from __future__ import annotations

import json
import math

from shared.history import history_of
from trainer.outputs import metrics_dict, params_dict, write_curves, write_metrics, write_params


def run_records(reason="early_stopped"):
    start = {"type": "start", "run_id": "r1", "seq": 0, "time": 100.0, "schema": 1, "epochs": 5,
             "config": {"train": "t.csv", "val": "v.csv", "epochs": 5, "lr": 1e-3},
             "n_train": 48, "n_val": 12, "n_train_positive": 24, "n_val_positive": 6, "device": "cpu",
             "host": "lab", "pid": 7, "versions": {"python": "3.11"}}
    epochs = [{"type": "epoch", "run_id": "r1", "seq": i, "time": 100.0 + i, "epoch": i, "epochs": 5,
               "train_loss": t, "val_loss": v, "lr": 1e-3, "seconds": 0.5, "best": b, "best_epoch": 1,
               "best_val_loss": 0.6, "metrics": {"val_accuracy": 0.5, "val_auroc": a}}
              for i, (t, v, b, a) in enumerate([(0.7, 0.6, True, None), (0.65, None, False, 0.7)], start=1)]
    end = {"type": "end", "run_id": "r1", "seq": 3, "time": 103.0, "reason": reason, "epochs_run": 2,
           "best_epoch": 1, "best_val_loss": 0.6, "message": "m"}
    return [start, *epochs, end]


def test_metrics_have_stlars_keys_and_what_ended_the_run():
    m = metrics_dict(history_of(run_records()), "early_stopped")
    assert m["train_loss"] == [0.7, 0.65]
    assert m["val_loss"][0] == 0.6 and math.isnan(m["val_loss"][1])
    assert (m["best_epoch"], m["best_val_loss"], m["epochs_run"], m["stop_reason"]) == (1, 0.6, 2, "early_stopped")
    assert m["metrics"]["val_auroc"][1] == 0.7 and math.isnan(m["metrics"]["val_auroc"][0])


def test_metrics_file_is_strict_json(tmp_path):
    write_metrics(tmp_path / "m.json", history_of(run_records()), "early_stopped")
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text
    data = json.loads(text)
    assert data["val_loss"] == [0.6, None] and data["metrics"]["val_auroc"] == [None, 0.7]


def test_params_are_config_then_sizes_then_results(tmp_path):
    p = params_dict(history_of(run_records()), "early_stopped", "No new best")
    keys = list(p)
    assert keys[:4] == ["train", "val", "epochs", "lr"]
    assert keys.index("n_train") < keys.index("device") < keys.index("stop_reason")
    assert (p["n_train"], p["n_val_positive"], p["device"], p["stop_reason"], p["best_epoch"]) == (
        48, 6, "cpu", "early_stopped", 1)
    write_params(tmp_path / "p.json", history_of(run_records()), "stopped", "x")
    assert json.loads((tmp_path / "p.json").read_text())["stop_reason"] == "stopped"


def test_metrics_of_a_run_without_epochs():
    m = metrics_dict(history_of(run_records()[:1]), "failed")
    assert (m["train_loss"], m["best_epoch"], m["best_val_loss"], m["epochs_run"]) == ([], None, None, 0)


def test_curves_are_a_png(tmp_path):
    assert write_curves(tmp_path / "c.png", history_of(run_records())) is None
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_drawing_failure_is_a_warning(tmp_path):
    warning = write_curves(tmp_path / "no-such-folder" / "c.png", history_of(run_records()))
    assert warning.startswith("could not draw c.png (") and "\n" not in warning
