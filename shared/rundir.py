"""The run directory's layout: which file is which. The names are the protocol; keep them stable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_RUN_DIR = "models"

LOG_NAME = "training_log.jsonl"
STOP_NAME = "STOP"
CHECKPOINT_NAME = "best.pt"
LAST_NAME = "last.pt"  # everything a resume needs, after the last recorded epoch
METRICS_NAME = "training_metrics.json"
PARAMS_NAME = "training_params.json"
CURVES_NAME = "training_curves.png"
LOCK_NAME = ".stlar-dl.lock"
ARCHIVE_NAME = "archive"

# What a run leaves behind and is archived before the next run in the same directory.
RUN_OUTPUTS = (LOG_NAME, CHECKPOINT_NAME, METRICS_NAME, PARAMS_NAME, CURVES_NAME, LAST_NAME)


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory. Creating one touches nothing on disk."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def log(self) -> Path:
        return self.path / LOG_NAME

    @property
    def stop(self) -> Path:
        return self.path / STOP_NAME

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_NAME

    @property
    def last(self) -> Path:
        return self.path / LAST_NAME

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_NAME

    @property
    def params(self) -> Path:
        return self.path / PARAMS_NAME

    @property
    def curves(self) -> Path:
        return self.path / CURVES_NAME

    @property
    def lock(self) -> Path:
        return self.path / LOCK_NAME

    @property
    def archive(self) -> Path:
        return self.path / ARCHIVE_NAME
