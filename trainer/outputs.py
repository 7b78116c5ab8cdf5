"""What a run leaves beside its log: `training_metrics.json`, `training_params.json`, `training_curves.png`.

All are built from the run's History (the records it wrote), so they say exactly what the log says, and
written atomically. They are written at the end of every run, whatever ended it.
"""

from __future__ import annotations

import os

from pathlib import Path
from typing import Any

from shared.atomic import write_json
from shared.decision import decision_of
from shared.history import History


def metrics_dict(history: History, reason: str) -> dict[str, Any]:
    """STLAR's metrics file (train_loss, val_loss, best_epoch 1-based, best_val_loss) plus what ended the run.

    Non-finite losses are written as null (strict JSON).
    """
    return {
        "train_loss": list(history.train_loss),
        "val_loss": list(history.val_loss),
        "best_epoch": history.best_epoch,
        "best_val_loss": history.best_val_loss,
        "epochs_run": history.n_epochs,
        "epochs_planned": history.planned_epochs,
        "stop_reason": reason,
        "metrics": {name: list(values) for name, values in history.metrics.items()},
        "lr": list(history.lr),
        "seconds": list(history.seconds),
        "run_id": history.run_id,
        # The best epoch's decision threshold (max F1 on validation) and its confusion matrix; null if none.
        **(decision.as_json() if (decision := decision_of(history)) else
           {"threshold": None, "threshold_epoch": None, "confusion_matrix": None, "precision": None,
            "recall": None, "f1": None}),
    }


def params_dict(history: History, reason: str, message: str) -> dict[str, Any]:
    """The configuration, the data set sizes and the device (from the start record), then the results."""
    start = history.start or {}
    out: dict[str, Any] = dict(history.config)
    # Absolute, with the folder the run was started from: the file is read later from anywhere.
    for key in ("train", "val", "out_dir"):
        if isinstance(out.get(key), str):
            out[key] = os.path.abspath(out[key])
    out["working_dir"] = os.getcwd()
    for key in ("n_train", "n_val", "n_train_positive", "n_val_positive", "device", "model", "parameters",
                "host", "pid", "versions"):
        if key in start:
            out[key] = start[key]
    out.update(
        run_id=history.run_id,
        started_at=start.get("time"),
        ended_at=history.last_time,
        stop_reason=reason,
        message=message,
        epochs_run=history.n_epochs,
        best_epoch=history.best_epoch,
        best_val_loss=history.best_val_loss,
    )
    return out


def write_metrics(path: str | Path, history: History, reason: str) -> None:
    write_json(path, metrics_dict(history, reason))


def write_params(path: str | Path, history: History, reason: str, message: str) -> None:
    write_json(path, params_dict(history, reason, message))


def write_curves(path: str | Path, history: History, title: str | None = None) -> str | None:
    """Draw the shared 2x2 figure to `path`; return None on success, else a one-line warning.

    Drawing is best effort: a broken matplotlib (missing fonts, no backend) must not cost the run its other
    outputs, so any failure becomes the returned warning.
    """
    try:
        from shared.figure_png import figure_title, save_png

        save_png(history, path, title=title if title is not None else figure_title(history, None))
    except Exception as exc:  # noqa: BLE001 - see the docstring: any drawing failure is only a warning
        return f"could not draw {Path(path).name} ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
    return None
