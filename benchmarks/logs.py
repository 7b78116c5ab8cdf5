"""Realistic training logs for the benchmarks, written by the shared `LogWriter` exactly as the trainer does.

Epoch records carry every field the trainer writes (losses, lr, seconds, best-so-far, accuracy and AUROC)
along a plausible curve: fast early descent, a slowly widening train/val gap, noise. The curve is scaled
to the number of epochs, so a 100,000-epoch log looks like a long run, not 100,000 copies of one epoch.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.early_stopping import EarlyStopping
from shared.logwriter import LogWriter
from shared.records import END, EPOCH, PROGRESS, SCHEMA_VERSION, START

CONFIG = {  # a start record's config as `stlar-dl train-dl` writes it (demo defaults)
    "train": "demo/manifest_train.csv", "val": "demo/manifest_val.csv", "epochs": 15, "batch_size": 64,
    "lr": 0.001, "weight_decay": 0.0001, "out_dir": "models", "num_workers": 2, "model_type": 2,
    "patience": 5, "min_delta": 0.0, "no_plot": False, "gui": False, "device": "cpu", "seed": 42,
}


def start_fields(epochs: int, pid: int | None = None) -> dict[str, Any]:
    """The fields of a start record (without type/run_id/seq/time, which the writer adds)."""
    return dict(schema=SCHEMA_VERSION, config={**CONFIG, "epochs": epochs}, epochs=epochs,
                n_train=1600, n_val=400, n_train_positive=800, n_val_positive=200, device="cpu",
                host=os.uname().nodename, pid=os.getpid() if pid is None else pid, model="ResNet-1D",
                parameters=180_000, batches=25, val_batches=7, warnings=[],
                versions={"python": "3.11", "torch": "2.13", "stlar-dl": "0.1.0"})


def epoch_fields(n: int, seed: int = 0, first: int = 1, planned: int | None = None) -> Iterator[dict[str, Any]]:
    """Fields of epoch records `first` .. `first + n - 1` of a run planned for `planned` epochs."""
    rng = random.Random(seed)
    planned = planned or first + n - 1
    early = EarlyStopping(patience=planned + 1)
    tau = max(3.0, planned / 8)
    for epoch in range(1, first + n):
        progress = epoch / planned
        train = 0.12 + 0.55 * math.exp(-epoch / tau) + rng.gauss(0, 0.004)
        val = train + 0.02 + 0.06 * progress + rng.gauss(0, 0.008)
        is_best, _ = early.update(epoch, val)
        if epoch < first:
            continue
        yield dict(epoch=epoch, epochs=planned, train_loss=train, val_loss=val, lr=0.001,
                   seconds=2.0 + rng.random(), best=is_best, best_epoch=early.best_epoch, best_val_loss=early.best,
                   metrics={"val_accuracy": min(1.0, 0.95 - val / 2), "val_auroc": min(1.0, 0.99 - val / 3)})


class LiveLog:
    """A run being written: a start record and `epochs` epoch records at once, then one more per `append()`.

    Holds the writer open, as the trainer does, so appended records continue the same run (same run_id, next
    seq). `fsync` as in the trainer (True) where the write is part of what is measured.
    """

    def __init__(self, path: Path, epochs: int, *, seed: int = 0, planned: int | None = None,
                 pid: int | None = None, fsync: bool = True) -> None:
        self.planned = planned or epochs
        self._fields = epoch_fields(self.planned, seed, planned=self.planned)
        self.writer = LogWriter(path, fsync=fsync)
        self.writer.write(START, **start_fields(self.planned, pid))
        for _ in range(epochs):
            self.writer.write(EPOCH, **next(self._fields))
        self.epochs = epochs

    @property
    def run_id(self) -> str:
        return self.writer.run_id

    def append(self) -> dict[str, Any]:
        """Write the next epoch record (its `time` is taken just before the write); return it."""
        self.epochs += 1
        return self.writer.write(EPOCH, **next(self._fields))

    def end(self) -> None:
        self.writer.write(END, reason="completed", epochs_run=self.epochs, best_epoch=None, best_val_loss=None,
                          message=f"Trained all {self.epochs} epochs")

    def close(self) -> None:
        self.writer.close()


def write_log(path: Path, epochs: int, *, seed: int = 0, end: bool = False, pid: int | None = None,
              planned: int | None = None, progress: int = 0) -> str:
    """Write a run of `epochs` epoch records (after a start record; an end record if `end`); return the run_id.

    `progress`: that many progress records as well, spread evenly between the epochs (a heartbeat within an
    epoch, as the trainer writes them). No fsync: the file is read back at once by this process, and 100,000
    fsyncs would only time the disk.
    """
    if progress:
        return _write_with_progress(path, epochs, progress, seed=seed, end=end, pid=pid, planned=planned)
    log = LiveLog(path, epochs, seed=seed, planned=planned, pid=pid, fsync=False)
    try:
        if end:
            log.end()
        return log.run_id
    finally:
        log.close()


def epoch_values(n: int, seed: int = 0) -> Iterator[tuple[int, float, float]]:
    """(epoch, train_loss, val_loss) of the same curve: what the TensorBoard side writes as two scalars."""
    for fields in epoch_fields(n, seed):
        yield fields["epoch"], fields["train_loss"], fields["val_loss"]


WEEK_PROGRESS = 300_000  # a week of heartbeats, one every 2 s
WEEK_EPOCHS = 1_000  # an epoch every 10 minutes: 300 progress records per epoch


def write_week_log(path: Path, *, progress: int = WEEK_PROGRESS, epochs: int = WEEK_EPOCHS, seed: int = 0,
                   pid: int | None = None) -> str:
    """A week-long run still in progress: `epochs` epoch records with `progress // epochs` heartbeats before
    each, the last epoch's heartbeats after it too (the run is mid-epoch). ~49 MB at the defaults.

    `pid` (default: this process) is alive, so `stlar-dl stop` finds a live trainer. No fsync (see write_log).
    """
    planned = epochs * 2
    writer = LogWriter(path, fsync=False)
    try:
        writer.write(START, **start_fields(planned, pid))
        per_epoch = max(1, progress // (epochs + 1))
        fields = epoch_fields(epochs, seed, planned=planned)
        written = 0
        for epoch in range(1, epochs + 2):
            for batch in range(per_epoch):
                if written == progress:
                    break
                writer.write(PROGRESS, epoch=epoch, batch=batch + 1, batches=per_epoch * 2,
                             train_loss=0.3 + 0.1 / (batch + 1), elapsed=2.0 * (batch + 1))
                written += 1
            if epoch <= epochs:
                writer.write(EPOCH, **next(fields))
        return writer.run_id
    finally:
        writer.close()


def _write_with_progress(path: Path, epochs: int, progress: int, *, seed: int, end: bool, pid: int | None,
                         planned: int | None) -> str:
    planned = planned or epochs
    writer = LogWriter(path, fsync=False)
    try:
        writer.write(START, **start_fields(planned, pid))
        written = 0
        for i, fields in enumerate(epoch_fields(epochs, seed, planned=planned), start=1):
            due = progress * i // epochs  # progress records written by the end of epoch i
            while written < due:
                written += 1
                writer.write(PROGRESS, epoch=i, batch=1, batches=25, train_loss=fields["train_loss"], elapsed=2.0,
                             phase="train")
            writer.write(EPOCH, **fields)
        if end:
            writer.write(END, reason="completed", epochs_run=epochs, best_epoch=None, best_val_loss=None,
                         message=f"Trained all {epochs} epochs")
        return writer.run_id
    finally:
        writer.close()
