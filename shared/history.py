"""One run's history, built from its records in order. Pure: the viewer, replay and the trainer's
final figure all fold records into a History and read columns from it."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

from shared.fastrecords import EpochBlock, to_record
from shared.records import END, EPOCH, PROGRESS, RESUME, START, STOP_REQUESTED, Record

NAN = float("nan")


class History:
    """The state of one run. Feed records with `add`; unknown record types are ignored.

    Columns (`epochs`, `train_loss`, `val_loss`, `lr`, `seconds`, each metric) are aligned lists with one
    entry per epoch record, NaN where the log holds null. A metric that first appears at a later epoch is
    NaN-padded before it, so every column has the same length.
    """

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.start: Record | None = None
        self.last_epoch: Record | None = None
        self.epochs: list[int] = []
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.lr: list[float] = []
        self.seconds: list[float] = []
        self.metrics: dict[str, list[float]] = {}
        self.progress: Record | None = None
        self.stop_request: Record | None = None
        self.end: Record | None = None
        self.last_time: float | None = None
        self.records = 0
        self.resumes: list[int] = []  # the epoch after which each resume continued the run (`train-dl --resume`)

    def add(self, record: Record | EpochBlock) -> bool:
        """Fold in one record (or a reader's `EpochBlock`); True if it adds an epoch (the figure needs a redraw)."""
        if type(record) is EpochBlock:
            return self.extend((record,)) > 0
        rtype = record.get("type")
        if rtype == EPOCH:  # one fold of an epoch, shared with the bulk path
            self.extend((record,))
            return True
        self.records += 1
        if self.run_id is None:
            self.run_id = record.get("run_id")
        self.last_time = record.get("time", self.last_time)
        if rtype == START:
            self.start = record
        elif rtype == PROGRESS:
            self.progress = record
        elif rtype == STOP_REQUESTED:
            self.stop_request = record
        elif rtype == END:
            self.end = record
        elif rtype == RESUME:
            self._resume(record)
        return False

    def extend(self, records: Sequence[Record | EpochBlock]) -> int:
        """Fold in `records` in order, exactly as `add` on each would; return how many epochs they added.

        The bulk path of attaching to a long run: epoch records are folded in one tight loop (one `add` per
        record was half a second of a 100,000-epoch attach), an `EpochBlock` column by column; other records
        go through `add`.
        """
        before = len(self.epochs)
        if any(type(item) is EpochBlock for item in records):
            for item in records:
                if type(item) is EpochBlock:
                    self._fold_block(item)
                else:
                    self.extend((item,))
            return len(self.epochs) - before
        epochs, train, val, lr, seconds = (self.epochs.append, self.train_loss.append, self.val_loss.append,
                                           self.lr.append, self.seconds.append)
        metrics = self.metrics
        nan = NAN
        for record in records:
            if record.get("type") != EPOCH:
                self.add(record)
                continue
            if self.run_id is None:
                self.run_id = record.get("run_id")
            n = len(self.epochs)
            epochs(record["epoch"])
            value = record["train_loss"]
            train(nan if value is None else float(value))
            value = record["val_loss"]
            val(nan if value is None else float(value))
            value = record["lr"]
            lr(nan if value is None else float(value))
            value = record["seconds"]
            seconds(nan if value is None else float(value))
            values = record["metrics"]
            if values.keys() == metrics.keys():  # the usual case: the same metrics every epoch
                for name, value in values.items():
                    metrics[name].append(nan if value is None else float(value))
            else:
                for name, value in values.items():
                    column = metrics.get(name)
                    if column is None:
                        column = metrics[name] = [nan] * n
                    column.append(nan if value is None else float(value))
                for column in metrics.values():
                    if len(column) == n:
                        column.append(nan)
            self.last_epoch = record
            self.progress = None
            self.records += 1
            self.last_time = record.get("time", self.last_time)
        return len(self.epochs) - before

    def _fold_block(self, block: EpochBlock) -> None:
        """Fold a reader's block of epoch records in, exactly as `extend` folds their dicts, a column at a time."""
        objs = block.structs
        if not objs:
            return
        metrics = self.metrics
        keys = metrics.keys()
        if objs[0].metrics.keys() != keys:  # the first epoch (or new metrics): its fold sets up the columns
            self.extend((to_record(objs[0]),))
            objs = objs[1:]
        if not objs:
            return
        rows = [obj.metrics for obj in objs]
        try:
            # Every row holds exactly the known metrics (as many keys, and each known one: else KeyError).
            if set(map(len, rows)) != {len(metrics)}:
                raise KeyError
            columns = {name: _floats([row[name] for row in rows]) for name in metrics}
        except KeyError:  # metrics that come and go: the per-record fold pads the columns
            self.extend([to_record(obj) for obj in objs])
            return
        if self.run_id is None:
            self.run_id = objs[0].run_id
        self.epochs += [obj.epoch for obj in objs]
        self.train_loss += _floats([obj.train_loss for obj in objs])
        self.val_loss += _floats([obj.val_loss for obj in objs])
        self.lr += _floats([obj.lr for obj in objs])
        self.seconds += _floats([obj.seconds for obj in objs])
        for name, column in columns.items():
            metrics[name] += column
        self.last_epoch = to_record(objs[-1])
        self.progress = None
        self.records += len(objs)
        self.last_time = objs[-1].time

    def _resume(self, record: Record) -> None:
        """The run goes on after epoch `record["epoch"]` in a new trainer process: one continuous run.

        Epochs logged after that epoch (the earlier process died before it could save them for a resume)
        are dropped; the end, stop request and progress of the earlier process no longer hold; `start` now
        names the new process (pid, host) and the options it trains with (config, planned epochs).
        """
        keep = sum(1 for e in self.epochs if e <= record["epoch"])
        if keep < len(self.epochs):
            for column in (self.epochs, self.train_loss, self.val_loss, self.lr, self.seconds,
                           *self.metrics.values()):
                del column[keep:]
            self.last_epoch = None
        if self.epochs:
            last = self.last_epoch or {"epoch": self.epochs[-1], "train_loss": self.train_loss[-1],
                                       "val_loss": self.val_loss[-1], "lr": self.lr[-1], "seconds": self.seconds[-1],
                                       "best": False, "metrics": {k: v[-1] for k, v in self.metrics.items()}}
            # Without the earlier process's pid: the next epochs name the new one (see viewer.status.trainer_gone).
            self.last_epoch = {**{k: v for k, v in last.items() if k not in ("pid", "host")},
                               "epochs": record["epochs"], "best_epoch": record["best_epoch"],
                               "best_val_loss": record["best_val_loss"]}
        if self.start is not None:  # pid_since: when the new process was known to run (its pid's age check)
            self.start = {**self.start, "config": record["config"], "epochs": record["epochs"],
                          "pid_since": record["time"],
                          **{k: record[k] for k in ("pid", "host", "device", "world_size") if k in record}}
        self.end = self.stop_request = self.progress = None
        self.resumes.append(record["epoch"])

    @property
    def n_epochs(self) -> int:
        return len(self.epochs)

    @property
    def planned_epochs(self) -> int | None:
        if self.last_epoch is not None:
            return self.last_epoch["epochs"]
        return self.start["epochs"] if self.start else None

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.start["config"]) if self.start else {}

    @property
    def best_epoch(self) -> int | None:
        source = self.end or self.last_epoch
        return source["best_epoch"] if source else None

    @property
    def best_val_loss(self) -> float | None:
        source = self.end or self.last_epoch
        value = source["best_val_loss"] if source else None
        return None if value is None or not math.isfinite(value) else value

    def metrics_at(self, epoch: int | None) -> dict[str, float]:
        """Every metric of epoch `epoch` (the best epoch, for the report), NaN where it was null; {} if absent."""
        if epoch is None:
            return {}
        i = bisect.bisect_left(self.epochs, epoch)  # epochs only increase
        if i == len(self.epochs) or self.epochs[i] != epoch:
            return {}
        return {name: column[i] for name, column in self.metrics.items()}

    @property
    def finished(self) -> bool:
        return self.end is not None

    @property
    def stopping(self) -> bool:
        return self.stop_request is not None and self.end is None


def _floats(values: list) -> list[float]:
    """A column's numbers as floats, null as NaN (what `extend` does per value, for a whole column)."""
    try:
        return list(map(float, values))
    except TypeError:  # a null among them
        return [NAN if value is None else float(value) for value in values]


def history_of(records: list[Record]) -> History:
    history = History()
    history.extend(records)
    return history
