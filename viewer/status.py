"""The one verdict on a run, shared by the window, the terminal viewer, replay and `stlar-dl stop`.

`status_of` is a pure function of what a viewer has observed: the records it read (a History), how long the
log has been quiet (`quiet`: seconds since it last grew, on the viewer's own monotonic clock; see
`viewer.growth`) and whether the trainer's pid runs on this host (`trainer_alive`: True, False, or None when
this host cannot tell). A record's `time` is never compared with this host's clock: the trainer's host may be
minutes off. The rules:

- an end record: finished, with its reason (any reason, known to this version or not);
- no start record yet: waiting;
- the log grew within STALL_SECONDS: live, whatever the pid check says (in a container the recorded pid is
  the container's); the ETA counts the quiet time as time spent in the epoch, so it grows while nothing comes;
- quiet for longer than STALL_SECONDS and the trainer's pid gone on this host: crashed (dead for sure);
- quiet for longer than STALL_SECONDS otherwise: stalled? (a stopped or hung trainer, or one on another host
  that may be gone); in replay, where nothing more can be observed, a run from another host reads crashed?.

The trainer's heartbeat promise (a record at least every HEARTBEAT_SECONDS while it is alive) is what lets
STALL_SECONDS (three heartbeats) tell a slow epoch from a silent trainer.
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
from shared.names import end_words
from shared.number_format import fmt_loss

HEARTBEAT_SECONDS = 30.0  # the trainer writes a record at least this often while it is alive
STALL_SECONDS = 90.0  # a log quiet this long (3 heartbeats) is stalled?, or crashed if the pid is gone here
QUIET_SECONDS = 5.0  # the live status mentions the age of the last record from this age on
PID_START_SLACK = 5.0  # seconds: a process that started this long after the run's start record is another one

WAITING, LIVE, STOPPING, FINISHED, STALLED, CRASHED = "waiting", "live", "stopping", "finished", "stalled", "crashed"
REPLAYING = "replaying"  # replay --speed before the playback reaches the end: no verdict yet

PidAlive = Callable[[int, "float | None"], bool]


@dataclass(frozen=True)
class Status:
    kind: str  # one of WAITING, LIVE, STOPPING, FINISHED, STALLED, CRASHED (REPLAYING: the window's, see replay)
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


def _eta(history: History, quiet: float) -> tuple[int, float | None, float | None]:
    """(current epoch, fraction of it done or None, seconds left or None), `quiet` seconds after the last record.

    The time in the current epoch is what its last record says plus the quiet time since; once that exceeds
    the usual epoch, every epoch still to come is counted as long as this one already is: the ETA grows while
    nothing arrives instead of sitting at "about 2 min left".
    """
    planned = history.planned_epochs or 0
    progress = history.progress
    quiet = quiet if math.isfinite(quiet) else 0.0
    if progress is not None:
        current = progress["epoch"]
        fraction = progress["batch"] / progress["batches"] if progress["batches"] > 0 else None
        in_epoch = max(0.0, float(progress["elapsed"])) + quiet
    else:
        current = (history.epochs[-1] if history.epochs else 0) + 1
        fraction = None
        in_epoch = quiet
    if fraction is not None and not 0 <= fraction <= 1:
        fraction = None  # batch > batches: a record this version cannot make sense of
    per_epoch = per_epoch_seconds(history.seconds)  # the trainer's console uses the same estimate
    if per_epoch is None and progress is not None and fraction:
        per_epoch = progress["elapsed"] / fraction  # training part only: a first-epoch estimate runs short
    if per_epoch is None:
        return current, fraction, None
    left = max(0.0, per_epoch - in_epoch) + max(0, planned - current) * max(per_epoch, in_epoch)
    return current, fraction, left if math.isfinite(left) else None


def finishing(history: History) -> bool:
    """True when the last planned epoch is logged and the end record is not yet: the loop is over.

    There is no epoch N+1 of N to be in: the trainer is writing its end record and outputs (best.pt is
    already saved; then training_metrics.json, training_params.json and training_curves.png).
    """
    last = history.last_epoch
    return history.end is None and last is not None and last["epoch"] >= last["epochs"]


def trainer_alive(history: History, *, hostname: str | None = None, alive: PidAlive = pid_alive) -> bool | None:
    """True if the run's trainer runs on this host, False if it is gone, None if this host cannot tell.

    Only a start record naming this host (`hostname`, default `socket.gethostname()`) lets us check its pid.
    A resumed run's trainer is another process: the epoch records it wrote name it (`pid`, `host`), and before
    its first epoch the resume record does (History folds it into `start`, with `pid_since`).
    """
    start, last = history.start, history.last_epoch
    if last is not None and type(last.get("pid")) is int:  # written by a resumed trainer
        trainer, since = last, last["time"]
    elif start is not None and type(start.get("pid")) is int:
        trainer, since = start, start.get("pid_since", start["time"])
    else:
        return None
    if trainer.get("host") != (hostname if hostname is not None else socket.gethostname()):
        return None
    since = since if isinstance(since, (int, float)) and math.isfinite(since) else None  # NaN or inf: no time
    return alive(trainer["pid"], since)


def trainer_gone(history: History, *, hostname: str | None = None, alive: PidAlive = pid_alive) -> bool | None:
    """The opposite of `trainer_alive` (None stays None)."""
    running = trainer_alive(history, hostname=hostname, alive=alive)
    return None if running is None else not running


def dead_for_sure(history: History, quiet: float, trainer: bool | None) -> bool:
    """No end record, the trainer's pid gone on this host and the log quiet for STALL_SECONDS."""
    return history.end is None and trainer is False and quiet > STALL_SECONDS


def status_of(
    history: History,
    *,
    quiet: float,
    trainer: bool | None,
    live: bool = True,
    stop_pending: bool = False,
    stop_unanswered: float | None = None,
) -> Status:
    """The status line of `history` (see the module's rules).

    `quiet`: seconds since the log last grew, on the viewer's clock (math.inf: never seen). `trainer`: the pid
    check (`trainer_alive`). `live` is False for replay (a snapshot: a run from another host that is quiet
    reads crashed?, not stalled?). `stop_pending`: this viewer wrote the stop file and the trainer has not
    answered yet; `stop_unanswered`: for how many seconds (beyond STALL_SECONDS the trainer did not answer).
    """
    if history.end is not None:
        end = history.end
        best = (f"best epoch {history.best_epoch} (val loss {fmt_loss(history.best_val_loss)})"
                if history.best_epoch is not None else "no epoch with a finite val loss")
        return Status(FINISHED, f"finished: {end_words(end['reason'])}, {best}")
    start = history.start
    if start is None and not history.n_epochs:
        return Status(WAITING, "waiting for the run")
    # The trainer's pid and host: a resumed run's epochs name the process that wrote them (see trainer_alive).
    last = history.last_epoch
    who = last if last is not None and type(last.get("pid")) is int else (start or {})
    pid, host = who.get("pid"), who.get("host")
    if quiet > STALL_SECONDS:
        if trainer is False:
            return Status(CRASHED, f"crashed: no end record, trainer pid {pid} is gone and the log has been quiet "
                                   f"for {fmt_duration(quiet)}")
        if trainer is None and not live:
            where = f" (trainer on {host})" if host else ""
            return Status(CRASHED, f"crashed?: no end record, log last written {fmt_duration(quiet)} ago{where}")
        why = f"trainer pid {pid} is running but silent" if trainer else (f"trainer on {host}" if host else "")
        return Status(STALLED, f"stalled?: no record for {fmt_duration(quiet)}" + (f" ({why})" if why else ""))
    quiet_note = f", last record {fmt_duration(quiet)} ago" if quiet >= QUIET_SECONDS else ""
    if trainer is False:  # records still come: the pid is another namespace's (a container), or it just died
        quiet_note += f" (trainer pid {pid} not seen on this host)"
    if history.stop_request is not None:
        return Status(STOPPING, f"stopping after epoch {history.stop_request['epoch']}{quiet_note}")
    if finishing(history):  # no ETA and no epoch in progress; a stop asked for now comes too late to matter
        last = history.last_epoch
        return Status(LIVE, f"live — finishing: epoch {last['epoch']}/{last['epochs']} done, writing the end "
                            f"record and outputs{quiet_note}")
    current, fraction, left = _eta(history, quiet)
    if stop_pending:
        if stop_unanswered is not None and stop_unanswered > STALL_SECONDS:
            return Status(STALLED, f"the trainer did not answer the stop request for "
                                   f"{fmt_duration(stop_unanswered)}{quiet_note}")
        return Status(STOPPING, f"stop requested: stopping after epoch {current}")
    planned = history.planned_epochs
    text = f"live — epoch {current}/{planned}" if planned else f"live — epoch {current}"
    if fraction is not None:
        text += f" at {int(fraction * 100)}%"
    if left is not None:
        text += f", about {fmt_duration(left)} left"
    return Status(LIVE, text + quiet_note)
