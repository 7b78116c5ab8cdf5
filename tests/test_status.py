"""viewer.status: the status line for every state of a run, driven by plain numbers (no clock, no processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from fake_run import Epochs, start_fields
from shared.history import History
from viewer.status import (
    CRASHED, FINISHED, LIVE, STALLED, STOPPING, WAITING, fmt_duration, pid_alive, status_of,
)

HOST = "here"
T0 = 1_000_000.0


def rec(rtype, time, seq=0, **fields):
    return {"type": rtype, "run_id": "r1", "seq": seq, "time": time, **fields}


def run(epochs_done=0, planned=10, seconds=60.0, host=HOST, pid=4242, progress=None, stop=None, end=None):
    """A History: start at T0, `epochs_done` epochs of `seconds` each, then optional progress/stop/end."""
    h = History()
    h.add(rec("start", T0, **start_fields(planned, pid=pid, host=host)))
    book = Epochs(planned)
    t = T0
    for e in range(1, epochs_done + 1):
        t += seconds
        h.add(rec("epoch", t, **book.fields(e, 0.5, 0.6, seconds=seconds)))
    if progress is not None:  # (batch, batches, elapsed)
        batch, batches, elapsed = progress
        h.add(rec("progress", t + elapsed, epoch=epochs_done + 1, batch=batch, batches=batches, train_loss=0.5,
                  elapsed=elapsed))
    if stop is not None:
        h.add(rec("stop_requested", h.last_time + 1, epoch=stop, stop={"by": "me"}))
    if end is not None:
        h.add(rec("end", h.last_time + 1, **book.end_fields(end, epochs_done)))
    return h


ALIVE = lambda pid, since: True  # noqa: E731
DEAD = lambda pid, since: False  # noqa: E731


@pytest.mark.parametrize(
    "history, now, kwargs, kind, text",
    [
        (History(), T0, {}, WAITING, "waiting for the run"),
        # 3 of 10 epochs of 60 s done; 45% into epoch 4 after 27 s: 33 s + 6 x 60 s left = 6.55 min.
        (run(3, progress=(9, 20, 27.0)), T0 + 180 + 27, {}, LIVE, "live — epoch 4/10 at 45%, about 7 min left"),
        # No progress yet in epoch 4, 10 s after epoch 3 ended: 50 s + 6 x 60 s.
        (run(3), T0 + 190, {}, LIVE, "live — epoch 4/10, about 7 min left"),
        # First epoch, no finished epoch yet: the estimate comes from progress (10 s for 25% -> 40 s/epoch).
        (run(0, planned=2, progress=(1, 4, 10.0)), T0 + 10, {}, LIVE, "live — epoch 1/2 at 25%, about 1 min left"),
        # Start only: no estimate at all.
        (run(0), T0 + 2, {}, LIVE, "live — epoch 1/10"),
        # The last record is 20 s old (the heartbeat allows 30 s): still live, and the age is said.
        (run(3, progress=(9, 20, 27.0)), T0 + 180 + 47, {}, LIVE,
         "live — epoch 4/10 at 45%, about 6 min left, last record 20 s ago"),
        (run(3, stop=4), T0 + 200, {}, STOPPING, "stopping after epoch 4"),
        (run(3), T0 + 190, {"stop_pending": True}, STOPPING, "stop requested: stopping after epoch 4"),
        (run(3, end="stopped"), T0 + 9999, {}, FINISHED, "finished: stopped, best epoch 1 (val loss 0.6000)"),
        (run(0, end="failed"), T0 + 5, {"alive": DEAD}, FINISHED, "finished: failed, no epoch with a finite val loss"),
        # Same host, trainer pid gone, no end record.
        (run(3), T0 + 190, {"alive": DEAD}, STALLED, "stalled: trainer pid 4242 is not running on this host"),
        (run(3), T0 + 190, {"alive": DEAD, "live": False}, CRASHED, "crashed: no end record, and trainer pid 4242"),
        # Another host: the pid cannot be checked; silence beyond 90 s reads as stalled.
        (run(3, host="gpu-7"), T0 + 180 + 89, {"alive": DEAD}, LIVE, "live — epoch 4/10"),
        (run(3, host="gpu-7"), T0 + 180 + 120, {"alive": DEAD}, STALLED, "stalled?: no record for 2 min (trainer on gpu-7)"),
        (run(3, host="gpu-7"), T0 + 86400 * 3, {"live": False}, CRASHED, "crashed?: no end record, last record 3 days ago"),
        # Replay of a run whose trainer is alive on this host: it is live, not crashed.
        (run(3), T0 + 190, {"live": False}, LIVE, "live — epoch 4/10"),
        # The last planned epoch is logged, the end record is not: the trainer is finishing, not in epoch 11/10.
        (run(10), T0 + 601, {}, LIVE, "live — finishing: epoch 10/10 done, writing the end record and outputs"),
        (run(10), T0 + 620, {}, LIVE, "live — finishing: epoch 10/10 done, writing the end record and outputs, "
                                      "last record 20 s ago"),
        (run(10), T0 + 601, {"stop_pending": True}, LIVE, "live — finishing: epoch 10/10 done"),
        (run(10), T0 + 601, {"live": False}, LIVE, "live — finishing: epoch 10/10 done"),
        (run(10, stop=10), T0 + 602, {}, STOPPING, "stopping after epoch 10"),
        # The trainer gone after its last epoch is still a crash: no end record was written.
        (run(10), T0 + 601, {"alive": DEAD, "live": False}, CRASHED, "crashed: no end record, and trainer pid 4242"),
    ],
)
def test_status_table(history, now, kwargs, kind, text):
    kwargs = {"hostname": HOST, "alive": ALIVE, **kwargs}
    status = status_of(history, now, **kwargs)
    assert status.kind == kind
    assert status.text.startswith(text), status.text


@pytest.mark.parametrize("kwargs", [{}, {"stop_pending": True}, {"live": False}, {"host": "gpu-7"}])
@pytest.mark.parametrize("after", [0.5, 10.0, 60.0, 89.0])
def test_no_status_after_the_last_epoch_names_an_epoch_past_the_plan(kwargs, after):
    kwargs = dict(kwargs)
    history = run(10, host=kwargs.pop("host", HOST))
    text = status_of(history, T0 + 600 + after, hostname=HOST, alive=ALIVE, **kwargs).text
    assert "11" not in text and "left" not in text, text


def test_the_pid_check_gets_the_start_time_for_pid_reuse():
    seen = []
    status_of(run(1), T0 + 70, hostname=HOST, alive=lambda pid, since: seen.append((pid, since)) or True)
    assert seen == [(4242, T0)]


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (40.4, "40 s"), (59.6, "60 s"), (61, "1 min"),
                                           (3 * 60 + 10, "3 min"), (4800, "1 h 20 min"), (47 * 3600, "47 h 0 min"), (50 * 3600, "2 days"), (-5, "0 s")])
def test_fmt_duration(seconds, text):
    assert fmt_duration(seconds) == text


def test_pid_alive_on_real_processes(tmp_path):
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-1) and not pid_alive(True)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid is free
    assert not pid_alive(proc.pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zombies and /proc are Linux-specific here")
def test_pid_alive_treats_a_zombie_as_dead_and_a_reused_pid_as_another_process():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    # Wait for its exit without reaping it (WNOWAIT): until proc.wait() it is a zombie.
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    try:
        assert not pid_alive(proc.pid)
    finally:
        proc.wait()
    # A process that started long after the run's start record is another program with the same pid.
    assert pid_alive(os.getpid(), started_by=time.time())
    assert not pid_alive(os.getpid(), started_by=time.time() - 3600 * 24 * 365)
