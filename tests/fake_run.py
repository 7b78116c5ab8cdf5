"""A tiny fake trainer for the viewer's tests: writes the records `stlar-dl train-dl` writes, and honours STOP.

Use the functions to write whole logs at once (`write_run`), or run it as a process that trains in slow
motion (`python tests/fake_run.py RUN_DIR --epochs 5 --epoch-seconds 0.5`). Tests that need a REAL
training use `python -m stlar_dl train-dl` instead.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the repo's packages importable
    sys.path.insert(0, str(ROOT))

from shared.logwriter import LogWriter  # noqa: E402
from shared.records import END, EPOCH, PROGRESS, SCHEMA_VERSION, START, STOP_REQUESTED  # noqa: E402
from shared.rundir import RunDir  # noqa: E402
from shared.stopfile import clear_stop, read_stop, stop_requested  # noqa: E402

CONFIG = {"lr": 0.001, "batch_size": 64, "weight_decay": 0.0001, "patience": 5, "min_delta": 0.0,
          "model_type": 1, "epochs": 5}


def losses(epoch: int) -> tuple[float, float]:
    """A healthy run: both losses fall, val a little above train."""
    train = 0.7 / (1 + 0.35 * (epoch - 1))
    return round(train, 4), round(train + 0.02 + 0.002 * epoch, 4)


def start_fields(epochs: int, *, pid: int | None = None, host: str | None = None, schema: int = SCHEMA_VERSION,
                 **config: Any) -> dict[str, Any]:
    return {"schema": schema, "config": {**CONFIG, "epochs": epochs, **config}, "epochs": epochs,
            "n_train": 48, "n_val": 12, "device": "cpu", "host": host or socket.gethostname(),
            "pid": os.getpid() if pid is None else pid, "versions": {"stlar-dl": "test"}}


class Epochs:
    """Builds epoch records with the best-so-far bookkeeping the trainer does."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.best_epoch: int | None = None
        self.best_val = math.inf

    def fields(self, epoch: int, train: float | None, val: float | None, seconds: float = 1.0) -> dict[str, Any]:
        best = val is not None and math.isfinite(val) and val < self.best_val
        if best:
            self.best_epoch, self.best_val = epoch, val
        return {"epoch": epoch, "epochs": self.epochs, "train_loss": train, "val_loss": val, "lr": 0.001,
                "seconds": seconds, "best": best, "best_epoch": self.best_epoch,
                "best_val_loss": None if self.best_epoch is None else self.best_val,
                "metrics": {"val_accuracy": min(1.0, 0.5 + 0.05 * epoch), "val_auroc": 0.6}}

    def end_fields(self, reason: str, epochs_run: int, message: str = "") -> dict[str, Any]:
        return {"reason": reason, "epochs_run": epochs_run, "best_epoch": self.best_epoch,
                "best_val_loss": None if self.best_epoch is None else self.best_val, "message": message}


def write_run(
    path: str | Path,
    curve: list[tuple[float | None, float | None]] | int,
    *,
    end: str | None = "completed",
    planned: int | None = None,
    clock: Callable[[], float] = time.time,
    quiet_for: float | None = None,
    **start: Any,
) -> list[dict[str, Any]]:
    """Write a whole run (start, one epoch per (train, val) pair, optionally an end) to the log at `path`.

    `curve` may be an epoch count (then `losses` gives the numbers). `quiet_for`: date the log's modification
    time that many seconds back, as if nothing had been written since (viewers judge a run by when its log
    last grew). Returns the records written.
    """
    if isinstance(curve, int):
        curve = [losses(e) for e in range(1, curve + 1)]
    planned = planned or len(curve)
    book = Epochs(planned)
    out = []
    with LogWriter(path, clock=clock, fsync=False) as log:
        out.append(log.write(START, **start_fields(planned, **start)))
        for epoch, (train, val) in enumerate(curve, start=1):
            out.append(log.write(EPOCH, **book.fields(epoch, train, val)))
        if end is not None:
            out.append(log.write(END, **book.end_fields(end, len(curve))))
    if quiet_for is not None:
        then = time.time() - quiet_for
        os.utime(path, (then, then))
    return out


def archive_old_log(run_dir: RunDir) -> None:
    """What the trainer does before a new run: move the old log to archive/<name>/ and clear a stale STOP."""
    if run_dir.log.exists():
        dest = run_dir.archive / f"{time.time_ns()}"
        dest.mkdir(parents=True)
        os.replace(run_dir.log, dest / run_dir.log.name)
    clear_stop(run_dir.stop)


def train(run_dir: Path, epochs: int, epoch_seconds: float, batches: int = 4,
          stop_event: threading.Event | None = None) -> str:
    """Train in slow motion: progress records per batch, an epoch record per epoch, STOP honoured after the
    current epoch. Waits on `stop_event` (never set in a process) instead of sleeping. Returns the end reason."""
    rd = RunDir(run_dir)
    rd.path.mkdir(parents=True, exist_ok=True)
    archive_old_log(rd)
    pause = stop_event or threading.Event()
    book = Epochs(epochs)
    with LogWriter(rd.log) as log:
        log.write(START, **start_fields(epochs))
        stopping = False
        t0 = time.monotonic()
        for epoch in range(1, epochs + 1):
            t_epoch = time.monotonic()
            for batch in range(1, batches + 1):
                pause.wait(epoch_seconds / batches)
                if not stopping and stop_requested(rd.stop):
                    stopping = True
                    log.write(STOP_REQUESTED, epoch=epoch, stop=read_stop(rd.stop))
                train_loss, val_loss = losses(epoch)
                log.write(PROGRESS, epoch=epoch, batch=batch, batches=batches, train_loss=train_loss,
                          elapsed=time.monotonic() - t_epoch)
            log.write(EPOCH, **book.fields(epoch, *losses(epoch), seconds=time.monotonic() - t_epoch))
            if stopping:
                log.write(END, **book.end_fields("stopped", epoch, "stop requested"))
                clear_stop(rd.stop)
                return "stopped"
        log.write(END, **book.end_fields("completed", epochs, f"{time.monotonic() - t0:.1f} s"))
    return "completed"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--epoch-seconds", type=float, default=0.5)
    parser.add_argument("--batches", type=int, default=4)
    args = parser.parse_args()
    print(train(args.run_dir, args.epochs, args.epoch_seconds, args.batches), flush=True)
