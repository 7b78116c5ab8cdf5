"""Checks of the paths users pass to the viewer commands: one-line errors that say what to pass instead."""

from __future__ import annotations

from pathlib import Path

from shared.errors import InputError
from shared.rundir import LOG_NAME


def run_dir_arg(path: Path, *, must_exist: bool) -> Path:
    """RUN_DIR as given (the log's own path, RUN_DIR/training_log.jsonl, means its folder); InputError if it
    is another file, or (when `must_exist`) if it does not exist."""
    if path.name == LOG_NAME and not path.is_dir():
        path = path.parent if str(path.parent) else Path(".")
    if path.exists() and not path.is_dir():
        raise InputError(f"RUN_DIR {path}: is a file, not a run directory; pass the folder given to "
                         f"train-dl --out-dir")
    if must_exist and not path.exists():
        raise InputError(f"RUN_DIR {path}: no such folder; pass the folder given to train-dl --out-dir")
    return path


def png_arg(path: Path) -> Path:
    """--png FILE: its folder must exist and FILE must not be a folder (checked before any work is done)."""
    if path.is_dir():
        raise InputError(f"--png {path}: is a folder; pass a file name such as {path / 'curves.png'}")
    if not path.parent.is_dir():
        raise InputError(f"--png {path}: folder {path.parent} does not exist; create it or pick another file")
    return path
