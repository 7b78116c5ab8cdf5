"""viewer.status: the verdict for every state of a run, driven by plain numbers (no clock, no processes):
the records seen, how long the log has been quiet on the viewer's clock, and the pid check."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import pytest

from fake_run import Epochs, start_fields
from shared.history import History
from viewer.status import (
    CRASHED, FINISHED, LIVE, STALLED, STOPPING, WAITING, fmt_duration, pid_alive, status_of, trainer_alive,
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


@pytest.mark.parametrize(
    "history, quiet, trainer, kwargs, kind, text",
    [
        (History(), 0, None, {}, WAITING, "waiting for the run"),
        # 3 of 10 epochs of 60 s done; 45% into epoch 4 after 27 s: 33 s + 6 x 60 s left = 6.55 min.
        (run(3, progress=(9, 20, 27.0)), 0, True, {}, LIVE, "live — epoch 4/10 at 45%, about 7 min left"),
        # No progress yet in epoch 4, 10 s after epoch 3 arrived: 50 s + 6 x 60 s.
        (run(3), 10, True, {}, LIVE, "live — epoch 4/10, about 7 min left, last record 10 s ago"),
        # First epoch, no finished epoch yet: the estimate comes from progress (10 s for 25% -> 40 s/epoch).
        (run(0, planned=2, progress=(1, 4, 10.0)), 0, True, {}, LIVE, "live — epoch 1/2 at 25%, about 1 min left"),
        # Start only: no estimate at all.
        (run(0), 2, True, {}, LIVE, "live — epoch 1/10"),
        # The log has been quiet 20 s (the heartbeat allows 30 s): still live, and the quiet is said.
        (run(3, progress=(9, 20, 27.0)), 20, True, {}, LIVE,
         "live — epoch 4/10 at 45%, about 6 min left, last record 20 s ago"),
        # Quiet beyond the epoch's usual 60 s: the epochs to come count as long as this one already is.
        (run(3, progress=(9, 20, 27.0)), 80, True, {}, LIVE, "live — epoch 4/10 at 45%, about 11 min left"),
        (run(3, stop=4), 20, True, {}, STOPPING, "stopping after epoch 4"),
        (run(3), 10, True, {"stop_pending": True}, STOPPING, "stop requested: stopping after epoch 4"),
        (run(3), 10, True, {"stop_pending": True, "stop_unanswered": 95}, STALLED,
         "the trainer did not answer the stop request for 2 min"),
        (run(3, end="stopped"), 9999, None, {}, FINISHED, "finished: stopped on request, best epoch 1 (val loss 0.6000)"),
        (run(0, end="failed"), 5, False, {}, FINISHED, "finished: failed, no epoch with a finite val loss"),
        (run(2, end="preempted"), 5, False, {}, FINISHED, "finished: preempted, best epoch 1"),
        # Fresh records beat the pid check (in a container the recorded pid is the container's).
        (run(3), 5, False, {}, LIVE, "live — epoch 4/10, about 7 min left, last record 5 s ago (trainer pid 4242 "
                                     "not seen on this host)"),
        (run(3), 5, False, {"live": False}, LIVE, "live — epoch 4/10"),
        # Dead for sure: the pid gone here and the log quiet beyond the stall time.
        (run(3), 91, False, {}, CRASHED, "crashed: no end record, trainer pid 4242 is gone and the log has been "
                                         "quiet for 2 min"),
        (run(3), 91, False, {"live": False}, CRASHED, "crashed: no end record, trainer pid 4242"),
        # A pid that is alive never keeps a silent run live (a SIGSTOPped trainer).
        (run(3, progress=(9, 20, 27.0)), 3600, True, {}, STALLED,
         "stalled?: no record for 1 h 0 min (trainer pid 4242 is running but silent)"),
        (run(3), 3600, True, {"live": False}, STALLED, "stalled?: no record for 1 h 0 min"),
        # Another host: the pid cannot be checked; silence beyond 90 s reads as stalled?.
        (run(3, host="gpu-7"), 89, None, {}, LIVE, "live — epoch 4/10"),
        (run(3, host="gpu-7"), 120, None, {}, STALLED, "stalled?: no record for 2 min (trainer on gpu-7)"),
        (run(3, host="gpu-7"), 86400 * 3, None, {"live": False}, CRASHED,
         "crashed?: no end record, log last written 3 days ago (trainer on gpu-7)"),
        # The last planned epoch is logged, the end record is not: the trainer is finishing, not in epoch 11/10.
        (run(10), 1, True, {}, LIVE, "live — finishing: epoch 10/10 done, writing the end record and outputs"),
        (run(10), 20, True, {}, LIVE, "live — finishing: epoch 10/10 done, writing the end record and outputs, "
                                      "last record 20 s ago"),
        (run(10), 1, True, {"stop_pending": True}, LIVE, "live — finishing: epoch 10/10 done"),
        (run(10), 1, True, {"live": False}, LIVE, "live — finishing: epoch 10/10 done"),
        (run(10, stop=10), 2, True, {}, STOPPING, "stopping after epoch 10"),
        # The trainer gone after its last epoch is still a crash: no end record was written.
        (run(10), 100, False, {"live": False}, CRASHED, "crashed: no end record, trainer pid 4242"),
        # Never seen the log grow (math.inf): no traceback, a verdict.
        (run(3, host="gpu-7"), math.inf, None, {}, STALLED, "stalled?: no record for an unknown time"),
    ],
)
def test_status_table(history, quiet, trainer, kwargs, kind, text):
    status = status_of(history, quiet=quiet, trainer=trainer, **kwargs)
    assert status.kind == kind
    assert status.text.startswith(text), status.text


@pytest.mark.parametrize("skew", [-600.0, -150.0, 0.0, 150.0, 600.0, 1e20])
def test_record_times_never_decide_the_status(skew):
    # The trainer's host clock is `skew` seconds off (or its records say nonsense): the same verdicts.
    def shifted(**kw):
        h = run(3, **kw)
        for r in (h.start, h.last_epoch):
            r["time"] += skew
        h.last_time += skew
        return h

    assert status_of(shifted(), quiet=3, trainer=None).text == status_of(run(3), quiet=3, trainer=None).text
    assert status_of(shifted(), quiet=120, trainer=None).kind == STALLED
    assert status_of(shifted(), quiet=120, trainer=False).kind == CRASHED


def test_the_eta_grows_while_nothing_arrives():
    h = run(3, progress=(9, 20, 27.0))
    lefts = [status_of(h, quiet=q, trainer=True).text for q in (40, 60, 80)]
    assert lefts == ["live — epoch 4/10 at 45%, about 7 min left, last record 40 s ago",
                     "live — epoch 4/10 at 45%, about 9 min left, last record 1 min ago",
                     "live — epoch 4/10 at 45%, about 11 min left, last record 1 min ago"]


@pytest.mark.parametrize("kwargs", [{}, {"stop_pending": True}, {"live": False}, {"host": "gpu-7"}])
@pytest.mark.parametrize("after", [0.5, 10.0, 60.0, 89.0])
def test_no_status_after_the_last_epoch_names_an_epoch_past_the_plan(kwargs, after):
    kwargs = dict(kwargs)
    history = run(10, host=kwargs.pop("host", HOST))
    text = status_of(history, quiet=after, trainer=True, **kwargs).text
    assert "11" not in text and "left" not in text, text


def test_the_pid_check_gets_the_start_time_for_pid_reuse():
    seen = []
    assert trainer_alive(run(1), hostname=HOST, alive=lambda pid, since: seen.append((pid, since)) or True)
    assert seen == [(4242, T0)]
    assert trainer_alive(run(1, host="gpu-7"), hostname=HOST, alive=lambda pid, since: 1 / 0) is None


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
