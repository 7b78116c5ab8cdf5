"""`stlar-dl stop RUN_DIR`: ask a running trainer to stop after its current epoch, from a shell or a script."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from shared.errors import RunDirError
from shared.history import History
from shared.logends import read_ends
from shared.rundir import LOG_NAME, RunDir
from shared.safetext import printable
from shared.stopfile import request_stop, who
from viewer.growth import file_quiet
from viewer.paths import run_dir_arg
from viewer.status import dead_for_sure, finishing, fmt_duration, pid_alive, trainer_alive


def _where(history: History) -> str:
    """`epoch 4/30` of the epoch in progress (the one the trainer finishes before it stops)."""
    progress = history.progress
    current = progress["epoch"] if progress else (history.epochs[-1] if history.epochs else 0) + 1
    return f"epoch {current}/{history.planned_epochs}"


def stop_command(run_dir: Path) -> None:
    """`stlar-dl stop RUN_DIR`: request the stop and print the line that says so (RunDirError if refused)."""
    print(printable(stop_run(run_dir)), flush=True)


def stop_run(
    run_dir: Path,
    *,
    by: str | None = None,
    clock: Callable[[], float] = time.time,
    alive: Callable[[int, float | None], bool] = pid_alive,
    hostname: str | None = None,
) -> str:
    """Write RUN_DIR/STOP for the run in progress; return the line to print.

    Refuses (RunDirError, one line) when there is no run, when it has ended, when it is dead for sure (its
    trainer's pid gone on this host and the log quiet for the stall time: `viewer.status.dead_for_sure`), or
    when its last epoch is done. A log that still grows is never refused, whatever the pid check says (in a
    container the recorded pid is the container's). A stop already requested is not an error (the message
    says by whom and when).
    """
    run_dir = run_dir_arg(run_dir, must_exist=True)
    rd = RunDir(run_dir)
    if not rd.log.is_file():
        raise RunDirError(f"RUN_DIR {run_dir}: no training run here (no {LOG_NAME}); nothing to stop")
    # Only the log's ends: the start record and the last epochs are all a stop needs, and a week-long log
    # holds ~50 MB of progress records in between.
    try:
        history = read_ends(rd.log).history()
    except OSError as exc:
        raise RunDirError(f"{rd.log}: cannot read the training log ({exc.strerror}); check its permissions") from exc
    if history.start is None:
        raise RunDirError(f"{rd.log}: no run has started yet (no start record); nothing to stop")
    run = f"run {history.run_id}"
    if history.end is not None:
        end = history.end
        raise RunDirError(f"RUN_DIR {run_dir}: {run} has already ended ({end['reason']} after "
                          f"{end['epochs_run']} epochs); nothing to stop")
    quiet = file_quiet(rd.log, clock)
    if dead_for_sure(history, quiet, trainer_alive(history, hostname=hostname, alive=alive)):
        raise RunDirError(f"RUN_DIR {run_dir}: {run} is not running (its trainer, pid {history.start['pid']}, is "
                          f"gone without an end record and the log has been quiet for {fmt_duration(quiet)}); "
                          "nothing to stop")
    if finishing(history):  # the loop is over: no epoch to stop after, and nobody would read the stop file
        last = history.last_epoch
        raise RunDirError(f"RUN_DIR {run_dir}: {run} has finished its last epoch ({last['epoch']}/{last['epochs']}) "
                          f"and is writing its end record and outputs; nothing to stop")
    created, request = request_stop(rd.stop, by or who("stlar-dl stop"), history.run_id, clock=clock)
    if created:
        return (f"Stop requested for {run} in {run_dir}: it is in {_where(history)}; "
                f"the trainer stops after this epoch")
    asked = request.get("requested_at")
    ago = f" {fmt_duration(clock() - asked)} ago" if isinstance(asked, (int, float)) else ""
    by_whom = f" by {request['by']}" if request.get("by") else ""
    return (f"A stop was already requested for {run}{by_whom}{ago}; it is in {_where(history)} and "
            f"stops after this epoch")
