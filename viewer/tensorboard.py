"""`stlar-dl tensorboard RUN_DIR... --logdir DIR [--follow]`: TensorBoard event files from training logs.

Per run, one subfolder of DIR named `<start time>_<run id>` (local time, `20261203-142501_4933911b443a`), so
TensorBoard's run list sorts by start time. Per epoch record: `loss/train`, `loss/val`, `lr` and
`metrics/<key>` for every metric the record holds, at step = epoch and wall time = the record's time. A null
(non-finite) value is left out, as TensorBoard cannot tell it from a real number.

The event files are derived from the log, so a subfolder is rewritten whole: running the command again (or
`--follow` again) replaces our earlier event files there instead of doubling every point. With `--follow` the
runs are tailed with the same follower as `stlar-dl watch` until every run has its end record (Ctrl-C stops
earlier; training is never touched).

TensorBoard is an optional extra (`pip install 'stlar-dl[tensorboard]'`); its own event file writer is used
(no torch import). Without it the command says how to get it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

from shared.errors import InputError
from shared.logreader import NewRun
from shared.records import END, EPOCH, START, Record

INSTALL = "pip install 'stlar-dl[tensorboard]'"
FOLLOW_WAIT_S = 0.25  # each follower's wait per round when several runs are followed


def _tensorboard() -> tuple[Any, Any, Any]:
    """TensorBoard's event file writer and protos; InputError with the install command if it is missing."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise InputError(f"stlar-dl tensorboard needs TensorBoard, an optional extra; install it with: "
                         f"{INSTALL}") from None
    return EventFileWriter, Event, Summary


def run_folder_name(start_time: float, run_id: str) -> str:
    """`20261203-142501_4933911b443a`: sorts by start time (local time, as the archive folders)."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(start_time))}_{run_id}"


def scalars(record: Record) -> dict[str, float]:
    """An epoch record's scalars by tag; nulls and non-numbers left out."""
    values = {"loss/train": record.get("train_loss"), "loss/val": record.get("val_loss"), "lr": record.get("lr")}
    for key, value in (record.get("metrics") or {}).items():
        values[f"metrics/{key}"] = value
    return {tag: float(v) for tag, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}


class RunEvents:
    """The event file of one run; call `add` with its records in order."""

    def __init__(self, logdir: Path, first: Record) -> None:
        writer_class, self._event, self._summary = _tensorboard()
        start_time = first.get("time") if isinstance(first.get("time"), (int, float)) else time.time()
        self.folder = logdir / run_folder_name(start_time, str(first.get("run_id")))
        if self.folder.is_dir():  # our earlier output for this run: rewritten whole from the log
            for old in self.folder.glob("events.out.tfevents.*"):
                old.unlink()
        self.writer = writer_class(str(self.folder))
        self.epochs = 0

    def add(self, record: Record) -> None:
        if record.get("type") != EPOCH:
            return
        values = [self._summary.Value(tag=tag, simple_value=v) for tag, v in scalars(record).items()]
        self.writer.add_event(self._event(wall_time=float(record["time"]), step=int(record["epoch"]),
                                          summary=self._summary(value=values)))
        self.epochs += 1

    def close(self) -> None:
        self.writer.close()


class Converter:
    """The records of one run dir (and NewRun markers) to event files, one RunEvents per run."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.current: RunEvents | None = None
        self.done: list[RunEvents] = []
        self.ended = False

    def feed(self, items: list[Record | NewRun]) -> None:
        for item in items:
            if isinstance(item, NewRun):
                self._close()
                continue
            if self.current is None or (item["type"] == START and self.current.epochs):
                self._close()
                self.current = RunEvents(self.logdir, item)
                self.ended = False
            self.current.add(item)
            if item["type"] == END:
                self.ended = True
        if self.current is not None:
            self.current.writer.flush()

    def _close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.done.append(self.current)
            self.current = None

    def close(self) -> list[RunEvents]:
        self._close()
        return self.done


def tensorboard(run_dirs: list[Path], logdir: Path, *, follow: bool = False, poll: bool = False,
                out: TextIO = sys.stdout) -> int:
    """Write the event files of `run_dirs` under `logdir` (following them until they end with `follow`)."""
    _tensorboard()  # say how to install it before reading anything
    logdir.mkdir(parents=True, exist_ok=True)
    converters = [Converter(logdir) for _ in run_dirs]
    if not follow:
        from viewer.replay import load_run

        for run_dir, converter in zip(run_dirs, converters):
            records, _warnings = load_run(run_dir)
            converter.feed(records)
    else:
        _follow(run_dirs, converters, poll, out)
    for run_dir, converter in zip(run_dirs, converters):
        for run in converter.close():
            print(f"{run_dir}: {run.epochs} epochs -> {run.folder}", file=out, flush=True)
    print(f"View them with: tensorboard --logdir {logdir}", file=out, flush=True)
    return 0


def _follow(run_dirs: list[Path], converters: list[Converter], poll: bool, out: TextIO) -> None:
    """Tail every run dir with watch's follower until each run has its end record (or Ctrl-C)."""
    from contextlib import ExitStack

    from viewer.follow import Follower
    from viewer.paths import run_dir_arg

    with ExitStack() as stack:
        followers = [stack.enter_context(Follower(run_dir_arg(d, must_exist=False), poll=poll)) for d in run_dirs]
        try:
            while not all(c.ended for c in converters):
                for follower, converter in zip(followers, converters):
                    if converter.ended:
                        continue
                    follower.wait(FOLLOW_WAIT_S if len(followers) > 1 else None)
                    converter.feed(follower.drain())
        except KeyboardInterrupt:
            print("Stopped following; the event files hold every epoch read so far", file=out, flush=True)
