"""The words every surface uses for the identifiers in the log: model types, end reasons, metric keys.

One table each, so the trainer's console, the window, the terminal viewer, replay and the PNG say the same
thing. A key missing from a table is shown as it is (a newer trainer's model or metric still appears).
"""

from __future__ import annotations

# train-dl --model-type N -> its name: the one table is shared/model_types.py's (STLAR's types 1-5).
from shared.model_types import MODEL_NAMES

END_WORDS = {  # an end record's reason, as a sentence says it
    "completed": "completed",
    "early_stopped": "early stopped",
    "stopped": "stopped on request",
    "interrupted": "interrupted",
    "diverged": "diverged",
    "failed": "failed",
}

# Epoch metrics in the order they are shown, with their labels; other keys are shown by their own name.
METRIC_LABELS = {"val_accuracy": "Val acc", "val_auroc": "Val AUROC", "val_precision": "Val precision",
                 "val_recall": "Val recall", "val_f1": "Val F1"}
EPOCH_LINE_METRICS = ("val_accuracy", "val_auroc")  # the ones every epoch line shows (the report shows all)


def model_name(model_type: object) -> str:
    """`ResNet-1D` for 2; an unknown type as `model 7`."""
    return MODEL_NAMES.get(model_type, f"model {model_type}") if isinstance(model_type, int) else str(model_type)


def end_words(reason: str | None) -> str:
    return END_WORDS.get(reason or "", (reason or "").replace("_", " "))


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key)
