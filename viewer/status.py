"""The one-line status of a run: waiting, live (with ETA), stopping, finished, stalled or crashed.

Pure apart from the default pid checker: the clock, the host name and the pid checker are parameters, so
tests drive every case with plain numbers. The trainer's heartbeat (a `progress` record at least every 30 s
while alive) is what lets a viewer on another host tell a slow epoch from a dead trainer.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from shared.eta import fmt_duration, per_epoch_seconds
from shared.history import History

HEARTBEAT_SECONDS = 30.0  # the trainer writes a record at least this often while it is alive
STALL_SECONDS = 90.0  # no record for this long (3 heartbeats) reads as stalled when the pid cannot be checked
QUIET_SECONDS = 5.0  # the live status mentions the age of the last record from this age on
PID_START_SLACK = 5.0  # seconds: a process that started this long after the run's start record is another one

WAITING, LIVE, STOPPING, FINISHED, STALLED, CRASHED = "waiting", "live", "stopping", "finished", "stalled", "crashed"

PidAlive = Callable[[int, "float | None"], bool]


@dataclass(frozen=True)
class Status:
    kind: str  # one of WAITING, LIVE, STOPPING, FINISHED, STALLED, CRASHED
    text: str


@functools.lru_cache(maxsize=1)
def _boot_time() -> float:
    try:
        with open("/proc/stat", "rb") as fh:
            return next(float(line.split()[1]) for line in fh if line.startswith(b"btime"))
    except (OSError, StopIteration, ValueError, IndexError):
        return math.nan  # comparisons with NaN are False: no pid-reuse verdict without a boot time


def _linux_proc_state(pid: int) -> tuple[str, float] | None:
    """(state letter, start time in Unix seconds) of a Linux process, or None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    btime = _boot_time()
    # The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return fields[0], btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return fields[0] if fields else "?", -math.inf


def _windows_pid_alive(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    # Never os.kill on Windows: there it terminates the process, whatever the signal number.
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: it exists, it is someone else's
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def pid_alive(pid: int, started_by: float | None = None) -> bool:
    """Whether process `pid` on this host is running (a zombie is not).

    `started_by` (Unix seconds, the run's start record) guards against pid reuse on Linux: a process that
    started well after it is another program that got the same number.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False  # os.kill(0, 0) would signal our own process group: never pass it through
    if sys.platform == "win32":  # pragma: no cover
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except (OSError, OverflowError):  # OverflowError: a pid beyond the C int range (a corrupt start record)
        return False
    proc = _linux_proc_state(pid) if sys.platform.startswith("linux") else None
    if proc is not None:
        state, started = proc
        if state in ("Z", "X"):
            return False
        if started_by is not None and started > started_by + PID_START_SLACK:
            return False
    return True


def _eta(history: History, now: float) -> tuple[int, float | None, float | None]:
    """(current epoch, fraction of it done or None, seconds left or None)."""
    planned = history.planned_epochs or 0
    progress = history.progress
    if progress is not None:
        current = progress["epoch"]
        fraction = progress["batch"] / progress["batches"] if progress["batches"] > 0 else None
        in_epoch = progress["elapsed"] + max(0.0, now - progress["time"])
    else:
        current = (history.epochs[-1] if history.epochs else 0) + 1
        fraction = None
        since = history.last_epoch or history.start
        in_epoch = max(0.0, now - since["time"]) if since else 0.0
    per_epoch = per_epoch_seconds(history.seconds)  # the trainer's console uses the same estimate
    if per_epoch is None and progress is not None and fraction:
        per_epoch = progress["elapsed"] / fraction  # training part only: a first-epoch estimate runs short
    if per_epoch is None:
        return current, fraction, None
    left_in_epoch = max(0.0, per_epoch - in_epoch)
    return current, fraction, left_in_epoch + max(0, planned - current) * per_epoch


def finishing(history: History) -> bool:
    """True when the last planned epoch is logged and the end record is not yet: the loop is over.

    There is no epoch N+1 of N to be in: the trainer is writing its end record and outputs (best.pt is
    already saved; then training_metrics.json, training_params.json and training_curves.png).
    """
    last = history.last_epoch
    return history.end is None and last is not None and last["epoch"] >= last["epochs"]


def trainer_gone(history: History, *, hostname: str | None = None, alive: PidAlive = pid_alive) -> bool | None:
    """True if the run's trainer is known not to run, False if it runs, None if this host cannot tell.

    Only a start record naming this host (`hostname`, default `socket.gethostname()`) lets us check its pid.
    A resumed run's trainer is another process: the epoch records it wrote name it (`pid`, `host`), and before
    its first epoch the resume record does (History folds it into `start`, with `pid_since`).
    """
    start, last = history.start, history.last_epoch
    if last is not None and isinstance(last.get("pid"), int):  # written by a resumed trainer
        trainer, since = last, last["time"]
    elif start is not None and isinstance(start.get("pid"), int):
        trainer, since = start, start.get("pid_since", start["time"])
    else:
        return None
    if trainer.get("host") != (hostname if hostname is not None else socket.gethostname()):
        return None
    return not alive(trainer["pid"], since)


def status_of(
    history: History,
    now: float,
    *,
    live: bool = True,
    stop_pending: bool = False,
    hostname: str | None = None,
    alive: PidAlive = pid_alive,
) -> Status:
    """The status line of `history` at Unix time `now`.

    `live` is False for replay (a run without an end record whose trainer is gone is `crashed`, not
    `stalled`). `stop_pending` is True when this viewer wrote the stop file and the trainer has not answered
    yet. The trainer's pid is checked only when the start record names this host (`hostname`, default
    `socket.gethostname()`); from another host, silence for STALL_SECONDS reads as `stalled?`.
    """
    if history.end is not None:
        # Here, not at the top: shared.console brings numpy (diagnostics), which `stlar-dl stop` never needs.
        from shared.console import fmt_loss

        end = history.end
        best = (f"best epoch {history.best_epoch} (val loss {fmt_loss(history.best_val_loss)})"
                if history.best_epoch is not None else "no epoch with a finite val loss")
        return Status(FINISHED, f"finished: {end['reason']}, {best}")
    start = history.start
    if start is None and not history.n_epochs:
        return Status(WAITING, "waiting for the run")
    age = now - history.last_time if history.last_time is not None else math.inf
    gone = trainer_gone(history, hostname=hostname, alive=alive)
    if gone:
        pid = start["pid"]  # type: ignore[index]
        if live:
            return Status(STALLED, f"stalled: trainer pid {pid} is not running on this host (no end record)")
        return Status(CRASHED, f"crashed: no end record, and trainer pid {pid} is gone")
    if gone is None and age > STALL_SECONDS:
        host = (start or {}).get("host")
        where = f" (trainer on {host})" if host else ""
        if live:
            return Status(STALLED, f"stalled?: no record for {fmt_duration(age)}{where}")
        return Status(CRASHED, f"crashed?: no end record, last record {fmt_duration(age)} ago{where}")
    quiet = f", last record {fmt_duration(age)} ago" if age >= QUIET_SECONDS else ""
    if history.stop_request is not None:
        return Status(STOPPING, f"stopping after epoch {history.stop_request['epoch']}")
    if finishing(history):  # no ETA and no epoch in progress; a stop asked for now comes too late to matter
        last = history.last_epoch
        return Status(LIVE, f"live — finishing: epoch {last['epoch']}/{last['epochs']} done, writing the end "
                            f"record and outputs{quiet}")
    current, fraction, left = _eta(history, now)
    if stop_pending:
        return Status(STOPPING, f"stop requested: stopping after epoch {current}")
    planned = history.planned_epochs
    text = f"live — epoch {current}/{planned}" if planned else f"live — epoch {current}"
    if fraction is not None:
        text += f" at {int(fraction * 100)}%"
    if left is not None:
        text += f", about {fmt_duration(left)} left"
    return Status(LIVE, text + quiet)
