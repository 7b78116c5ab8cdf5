"""One run in one row: where, id, start, verdict, epochs, best values, duration, options.

`summarize` is pure (a History, how long the log has been quiet and the pid checker in, a RunSummary out); `summarize_dir` reads
the log through one swappable function (`read`, by default `shared.logends.read_ends`: the start record and
the last SUMMARY_EPOCHS epochs), so listing hundreds of runs costs the same whether they ran 10 epochs or
100,000.

The verdict is the one `watch` shows (`viewer.status.status_of`), in one word: live, stopping, finished,
early stopped, stopped, diverged, crashed, stalled, waiting.
"""

from __future__ import annotations

import bisect
import math
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.history import History
from shared.logends import read_ends
from shared.rundir import LOG_NAME
from viewer.discover import is_archived
from viewer.growth import file_quiet
from viewer.status import CRASHED, FINISHED, LIVE, STALLED, STOPPING, WAITING, pid_alive, status_of, trainer_alive

AUROC = "val_auroc"
SUMMARY_EPOCHS = 50  # epochs read from a log's end: the best AUROC of a longer run is the best of these
VAL_LOSS, TRAIN_LOSS = "val_loss", "train_loss"

# End reasons in the verdict's words. `interrupted` is Ctrl-C (the user stopped it); `failed` is an error
# the trainer caught and logged before dying.
END_VERDICTS = {"completed": "finished", "early_stopped": "early stopped", "stopped": "stopped",
                "interrupted": "stopped", "diverged": "diverged", "failed": "crashed"}
UNREADABLE = "unreadable"
UNSETTLED = frozenset({"live", "stopping", "waiting", "stalled"})  # verdicts that may still change
VERDICTS = ("live", "stopping", "finished", "early stopped", "stopped", "diverged", "crashed", "stalled",
            "waiting", UNREADABLE)


@dataclass(frozen=True)
class RunSummary:
    path: Path  # the run directory, as discovery found it
    run_id: str | None = None
    started: float | None = None  # Unix seconds of the start record
    status: str = "waiting"  # one word of VERDICTS
    status_text: str = ""  # watch's status line, or why the log could not be read
    epochs_run: int = 0
    planned: int | None = None
    best_epoch: int | None = None
    best_val_loss: float | None = None
    best_auroc: float | None = None
    best_auroc_exact: bool = True  # False: the log was read only at both ends; the best is at least this
    duration: float | None = None  # seconds from the start record to the last record
    config: dict[str, Any] = field(default_factory=dict)
    archived: bool = False


def verdict(history: History, quiet: float, *, archived: bool = False, hostname: str | None = None,
            alive: Callable[[int, float | None], bool] = pid_alive) -> tuple[str, str]:
    """(one word, watch's status line) for `history` whose log has been quiet for `quiet` seconds.

    The verdict is `viewer.status.status_of`'s: a log that still grows is live whatever the pid check says;
    crashed is a trainer gone from this host with the log quiet for the stall time. An archived run without
    an end record is crashed: the trainer archives a run only when a new one takes its folder, and its lock
    guarantees the old trainer was gone by then.
    """
    status = status_of(history, quiet=quiet, trainer=trainer_alive(history, hostname=hostname, alive=alive))
    if status.kind == FINISHED:
        reason = history.end["reason"] if history.end else ""
        return END_VERDICTS.get(reason, "finished"), status.text
    if archived and history.start is not None:
        return "crashed", "crashed: archived without an end record"
    words = {WAITING: "waiting", LIVE: "live", STOPPING: "stopping", STALLED: "stalled", CRASHED: "crashed"}
    return words.get(status.kind, status.kind), status.text


def best_of(values: list[float], *, higher: bool) -> tuple[int | None, float | None]:
    """(index, value) of the best finite value; (None, None) when there is none."""
    best_i, best = None, None
    for i, value in enumerate(values):
        if math.isfinite(value) and (best is None or (value > best if higher else value < best)):
            best_i, best = i, value
    return best_i, best


def higher_is_better(metric: str) -> bool:
    """Losses fall as a model improves; accuracy, AUROC and the like rise."""
    return "loss" not in metric


def column(history: History, metric: str) -> list[float]:
    """The per-epoch values of `metric` (val_loss, train_loss or a key of the epochs' `metrics`)."""
    if metric == VAL_LOSS:
        return history.val_loss
    if metric == TRAIN_LOSS:
        return history.train_loss
    return history.metrics.get(metric, [])


def best_point(history: History, metric: str) -> tuple[int, float] | None:
    """(epoch, value) of the run's best epoch for `metric`: the trainer's own best for val loss (the epoch
    of best.pt), otherwise the highest value (the lowest for a loss)."""
    values = column(history, metric)
    if metric == VAL_LOSS:
        best = history.best_epoch
        i = bisect.bisect_left(history.epochs, best) if best is not None else len(values)  # epochs increase
        if i >= len(values) or history.epochs[i] != best or not math.isfinite(values[i]):
            return None
        return best, values[i]
    i, value = best_of(values, higher=higher_is_better(metric))
    return None if i is None else (history.epochs[i], value)


def summarize(path: Path, history: History, quiet: float, *, whole: bool = True, archived: bool = False,
              hostname: str | None = None, alive: Callable[[int, float | None], bool] = pid_alive) -> RunSummary:
    """The summary of the run at `path` whose records (all, or the head and tail: `whole` False) are in
    `history`; its log has been quiet for `quiet` seconds (`viewer.growth`)."""
    word, text = verdict(history, quiet, archived=archived, hostname=hostname, alive=alive)
    start, end = history.start, history.end
    epochs_run = history.epochs[-1] if history.epochs else 0
    if end is not None:
        epochs_run = end["epochs_run"]
    _, auroc = best_of(history.metrics.get(AUROC, []), higher=True)
    started = start["time"] if start else None
    duration = None
    if started is not None and history.last_time is not None:
        duration = max(0.0, history.last_time - started)
    return RunSummary(
        path=path, run_id=history.run_id, started=started, status=word, status_text=text,
        epochs_run=epochs_run, planned=history.planned_epochs, best_epoch=history.best_epoch,
        best_val_loss=history.best_val_loss, best_auroc=auroc, best_auroc_exact=whole or auroc is None,
        duration=duration, config=history.config, archived=archived,
    )


def read_summary_history(log: Path) -> tuple[History, bool]:
    """The run in `log` from its ends, and whether every epoch was read (then best values are exact).

    OSError when the log cannot be read, or is not a regular file (opening a FIFO would block the listing)."""
    if not stat.S_ISREG(os.stat(log).st_mode):
        raise OSError(f"{LOG_NAME} is not a regular file")
    history = read_ends(log, SUMMARY_EPOCHS).history()
    return history, not history.epochs or history.epochs[0] == 1


def summarize_dir(path: Path, *, now: float | None = None,
                  read: Callable[[Path], tuple[History, bool]] = read_summary_history, hostname: str | None = None,
                  alive: Callable[[int, float | None], bool] = pid_alive) -> RunSummary:
    """The summary of the run in folder `path`, reading its log with `read`; an unreadable log gives a
    summary whose status says so (one colleague's private run must not fail the whole listing)."""
    archived = is_archived(path)
    try:
        history, whole = read(path / LOG_NAME)
    except OSError as exc:
        why = exc.strerror or str(exc)
        return RunSummary(path=path, status=UNREADABLE, status_text=f"{LOG_NAME}: cannot be read ({why})",
                          archived=archived)
    quiet = file_quiet(path / LOG_NAME, (lambda: now) if now is not None else time.time)
    return summarize(path, history, quiet, whole=whole, archived=archived, hostname=hostname, alive=alive)
