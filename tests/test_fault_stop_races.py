"""Fault: stop requests that race each other, the trainer, or the end of the run.

Three viewers on one live run and one clicks Stop: all show stopping, then finished; the trainer stops once.
Two `stlar-dl stop` at the same moment: one stop. A stop during validation, during the last epoch, after the end
(refused), and a stale stop file at the start (ignored and removed). The trainings are real processes forked
from the fork server (tests/fault_zygote.py); viewers and `stlar-dl stop` are real processes too, except where a
test drives the window in-process to read its status line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from faults import (  # noqa: F401 - fixtures
    TIMEOUT,
    Row,
    audit_run_dir,
    child_env,
    click_at,
    data60,
    data600,
    n,
    one_error_line,
    repeat_hint,
    rng,
    stlar_cli,
    train_argv,
    wait_until,
    xvfb,
    zygote,
)
from procs import Spawned
from shared.logreader import read_log
from shared.stopfile import read_stop, request_stop
from viewer.follow import Follower
from viewer.status import STALL_SECONDS
from viewer.stop_button import CLOSE_LABEL, STOPPING_LABEL
from viewer.window import RunWindow

HERE = "tests/test_fault_stop_races.py"
GEOMETRY = re.compile(r"\[STLAR_DEBUG_GEOMETRY\] button='(?P<label>[^']*)' x=(?P<x>\d+) y=(?P<y>\d+) "
                      r"w=(?P<w>\d+) h=(?P<h>\d+)")


def records_of(run_dir: Path) -> list[dict]:
    return read_log(run_dir / "training_log.jsonl")[0]


def of_type(records: list[dict], rtype: str) -> list[dict]:
    return [r for r in records if r["type"] == rtype]


def started(run_dir: Path, pid: int, epochs: int = 0) -> dict | None:
    """The start record of the run of `pid` once it has `epochs` epoch records, else None."""
    records = records_of(run_dir)
    if records and records[0].get("pid") == pid and len(of_type(records, "epoch")) >= epochs:
        return records[0]
    return None


def assert_stopped_once(run_dir: Path, context: str) -> tuple[dict, dict]:
    """The log of a stopped run: one stop_requested record, an end `stopped` at that epoch, nothing corrupt."""
    audit = audit_run_dir(run_dir)
    assert not audit.problems, f"{context}: {audit.problems}"
    stops = of_type(audit.records, "stop_requested")
    ends = of_type(audit.records, "end")
    assert len(stops) == 1, f"{context}: the trainer saw {len(stops)} stop requests; {repeat_hint(HERE)}"
    assert len(ends) == 1 and ends[0]["reason"] == "stopped", f"{context}: {ends}; {repeat_hint(HERE)}"
    assert ends[0]["epochs_run"] == stops[0]["epoch"] == len(of_type(audit.records, "epoch")), context
    return stops[0], ends[0]


# ---- three viewers, one click ---------------------------------------------------------------------------
class InProcessViewer:
    """The window on an Agg canvas with a real Follower: what `stlar-dl watch` does, with its state readable."""

    def __init__(self, run_dir: Path) -> None:
        self.follower = Follower(run_dir).start()
        fig = Figure()
        FigureCanvasAgg(fig)
        self.window = RunWindow(fig, run_dir, self.follower, out=None, by=f"in-process viewer ({socket.gethostname()})")
        self.kinds: list[str] = []

    def tick_until(self, condition, what: str) -> None:
        def step():
            self.follower.wait(timeout=0.2)
            self.window.tick()
            self.observe()
            return condition()

        wait_until(step, what=what, interval=0)

    def observe(self) -> None:
        """Note the status shown now (after a tick, or after a click changed it without a tick)."""
        if not self.kinds or self.kinds[-1] != self.window.status.kind:
            self.kinds.append(self.window.status.kind)

    def close(self) -> None:
        self.follower.close()


def test_three_viewers_one_clicks_stop(zygote, data600, tmp_path):
    """Two `stlar-dl watch --no-window` and one window (a real one under Xvfb where it exists) on one run."""
    rounds = n(1, 5)
    row = Row("Three viewers, one clicks Stop",
              "2 `stlar-dl watch --no-window` processes and 1 window on one live training; the window's Stop "
              "button is clicked (xdotool on a real window under Xvfb, else the window in-process)",
              "{rounds} runs: {all_saw_stopping} with all 3 viewers showing stopping then finished; trainer "
              "stopped {stopped_once} times out of {rounds}, {extra_stops} extra stop records ({real_clicks} "
              "real clicks)", times_key="rounds",
              command="STLAR_FAULTS_FULL=1 pytest tests/test_fault_stop_races.py -k three")
    r = rng("three viewers")
    for i in range(rounds):
        run_dir = tmp_path / f"run{i}"
        context = f"round {i}"
        child = zygote.start(train_argv(data600, run_dir, "--epochs", "500", "--patience", "1000"), tmp_path,
                             tmp_path / f"trainer{i}.out")
        try:
            start = wait_until(lambda: started(run_dir, child.pid, epochs=r.randint(0, 2)),
                               what="the training's start record")
            run_id = start["run_id"]
            with Spawned(stlar_cli("watch", run_dir, "--no-window"), **child_env()) as t1, \
                    Spawned(stlar_cli("watch", run_dir, "--no-window"), **child_env()) as t2, \
                    xvfb() as display:
                for t in (t1, t2):
                    t.expect(f"Run {run_id} started", timeout=TIMEOUT)
                if display is not None:
                    _click_in_a_real_window(run_dir, display, run_id, row)
                else:
                    _click_in_process(run_dir)
                for t in (t1, t2):
                    said = t.expect("Stop requested by ", timeout=TIMEOUT)
                    assert "the trainer stops after epoch" in said, said
                    t.expect("Run ended: stopped on request after", timeout=TIMEOUT)
                    assert t.finish(timeout=TIMEOUT) == 0, t.output
            assert zygote.wait(child) == 0, child.output
        finally:
            zygote.kill(child)
        stop, end = assert_stopped_once(run_dir, context)
        assert stop["stop"]["by"].startswith(("stlar-dl watch", "in-process viewer")), stop
        row.add("rounds")
        row.add("all_saw_stopping")
        row.add("stopped_once")
    row.save()


def _click_in_process(run_dir: Path) -> None:
    viewer = InProcessViewer(run_dir)
    try:
        viewer.tick_until(lambda: viewer.window.history.start is not None, "the window to show the run")
        viewer.window.click()
        assert viewer.window.button_label == STOPPING_LABEL
        assert viewer.window.status.kind == "stopping", viewer.window.status
        viewer.tick_until(lambda: viewer.window.history.finished, "the window to show the end")
        assert viewer.window.status.text.startswith("finished: stopped"), viewer.window.status
        assert viewer.window.button_label == CLOSE_LABEL
        assert "stopping" in viewer.kinds and viewer.kinds[-1] == "finished", viewer.kinds
    finally:
        viewer.close()


def _click_in_a_real_window(run_dir: Path, display: str, run_id: str, row: Row) -> None:
    with Spawned(stlar_cli("watch", run_dir), **child_env(DISPLAY=display, STLAR_DEBUG_GEOMETRY="1")) as window:
        window.expect(f"Run {run_id} started", timeout=TIMEOUT)
        window.expect("button='Stop Training'", timeout=TIMEOUT)
        for attempt in range(3):  # a late rescale of the window moves the button: the next report says where
            window.output  # noqa: B018 - collect the lines so far
            boxes = [m for m in map(GEOMETRY.search, window.lines) if m and m["label"] == "Stop Training"]
            click_at(display, tuple(int(boxes[-1][k]) for k in "xywh"))
            try:
                window.expect("button='Stopping...'", timeout=10)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        said = window.expect("Stop requested by stlar-dl watch (", timeout=TIMEOUT)
        assert "the trainer stops after epoch" in said, said
        window.expect("Run ended: stopped on request after", timeout=TIMEOUT)
        window.expect("button='Close'", timeout=TIMEOUT)
        window.proc.send_signal(signal.SIGINT)  # detach (the run has ended anyway)
        assert window.finish(timeout=TIMEOUT) == 0, window.output
    row.add("real_clicks")


# ---- two `stlar-dl stop` at once ---------------------------------------------------------------------------
# Each racer imports everything first, then waits for one byte on stdin: the test releases them together.
RACER = ("import sys; from stlar_dl.cli import main; import viewer.stop, shared.stopfile; "
         "print('ready', flush=True); sys.stdin.buffer.read(1); main(['stop', sys.argv[1]])")


def test_simultaneous_stlar_stop_makes_one_stop(zygote, data600, tmp_path):
    r = rng("stop race")
    rounds = n(3, 30)
    row = Row("`stlar-dl stop` racing `stlar-dl stop`",
              "2-4 `stlar-dl stop` processes released at the same instant (a pipe barrier) on a live run",
              "{rounds} races ({racers} processes): {one_stop_file} with exactly one stop file created, "
              "{one_record} with one stop record in the log, the others told `already requested` "
              "({already}) or `already ended` ({ended})", times_key="rounds",
              command="STLAR_FAULTS_FULL=1 pytest tests/test_fault_stop_races.py -k simultaneous")
    for i in range(rounds):
        racers = 2 if i % 2 == 0 or not r.random() < 0.5 else r.randint(3, 4)
        run_dir = tmp_path / f"run{i}"
        context = f"race {i} ({racers} racers); {repeat_hint(HERE)}"
        child = zygote.start(train_argv(data600, run_dir, "--epochs", "500", "--patience", "1000"), tmp_path,
                             tmp_path / f"trainer{i}.out")
        wait_until(lambda: started(run_dir, child.pid, epochs=r.randint(0, 1)), what="the live run")
        procs = [subprocess.Popen([sys.executable, "-c", RACER, str(run_dir)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
                 for _ in range(racers)]
        try:
            for p in procs:  # every racer has imported stlar-dl and waits at the barrier
                assert p.stdout.readline() == "ready\n", p.stderr.read()
            for p in procs:
                p.stdin.write("x")
            for p in procs:
                p.stdin.close()
            results = [(p.wait(timeout=TIMEOUT), p.stdout.read(), p.stderr.read()) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdout.close()
                p.stderr.close()
        assert zygote.wait(child) == 0, child.output
        created = [out for code, out, _ in results if code == 0 and out.startswith("Stop requested for run")]
        already = [out for code, out, _ in results if code == 0 and out.startswith("A stop was already requested")]
        ended = [err for code, _, err in results if code == 2 and "has already ended" in err]
        assert len(created) == 1, f"{context}: {results}"
        assert len(created) + len(already) + len(ended) == racers, f"{context}: {results}"
        for code, _, err in results:
            if code:
                one_error_line(err)
        assert_stopped_once(run_dir, context)
        row.add("rounds")
        row.add("racers", racers)
        row.add("one_stop_file")
        row.add("one_record")
        row.add("already", len(already))
        row.add("ended", len(ended))
    row.save()


# ---- stop at the edges of a run ------------------------------------------------------------------------
EPOCHS = 4


@pytest.mark.parametrize("phase", ["train", "validation", "after"])
def test_stop_in_each_phase_including_the_last_epoch(zygote, data60, tmp_path, phase):
    """The stop file appears before a training batch, before a validation batch, or after the epoch record."""
    r = rng(f"stop phase {phase}")
    times = n(2, 10)
    row = Row(f"Stop {'during ' + phase if phase != 'after' else 'just after an epoch record'}",
              f"the stop file written at the first {phase} poll of a random epoch, the last epoch included "
              "(in the trainer, as `stlar-dl stop` writes it)",
              "{runs} runs ({last} in the last epoch): {stopped_there} stopped after exactly that epoch with "
              "one stop record, its validation complete", times_key="runs",
              command=f"STLAR_FAULTS_FULL=1 pytest tests/test_fault_stop_races.py -k {phase}")
    epochs_list = [EPOCHS] + [r.randint(1, EPOCHS) for _ in range(times - 1)]  # the last epoch at least once
    for i, epoch in enumerate(epochs_list):
        run_dir = tmp_path / f"run{i}"
        child = zygote.run(train_argv(data60, run_dir, "--epochs", str(EPOCHS), "--batch-size", "8",
                                      "--patience", "1000"), tmp_path, tmp_path / f"t{i}.out",
                           inject={"stop": phase, "epoch": epoch})
        context = f"stop at the {phase} poll of epoch {epoch} (#{i}); {repeat_hint(HERE)}"
        assert child.exit == 0, f"{context}\n{child.output}"
        stop, end = assert_stopped_once(run_dir, context)
        assert stop["epoch"] == epoch, context
        last = of_type(records_of(run_dir), "epoch")[-1]
        assert last["epoch"] == epoch and last["val_loss"] is not None and last["metrics"]["val_auroc"] is not None
        assert "Training stopped (stop requested)" in child.output, child.output
        row.add("runs")
        row.add("last", epoch == EPOCHS)
        row.add("stopped_there")
    row.save()


def test_stop_after_the_end_is_refused(zygote, data60, tmp_path):
    """After an end record `stlar-dl stop` refuses in one line and writes nothing; so after a crash."""
    row = Row("Stop after the end",
              "`stlar-dl stop` on a finished run, on a stopped run and on a killed run; the window's button there",
              "{refusals} refusals out of {tries}, one line each, exit 2, no stop file written; the window "
              "offers Close, not Stop", times_key="tries",
              command="pytest tests/test_fault_stop_races.py -k after_the_end")
    run_dir = tmp_path / "run"
    cases = [("completed", {}), ("stopped", {"inject": {"stop": "train", "epoch": 1}})]
    for reason, kwargs in cases:
        child = zygote.run(train_argv(data60, run_dir, "--epochs", "2"), tmp_path, tmp_path / "t.out", **kwargs)
        assert child.exit == 0, child.output
        before = read_stop(run_dir / "STOP")  # a stop the run answered stays until the next run starts
        done = subprocess.run(stlar_cli("stop", run_dir), env=child_env(), capture_output=True, text=True, timeout=TIMEOUT)
        line = one_error_line(done.stderr)
        assert done.returncode == 2 and f"has already ended ({reason} after" in line, (done.returncode, line)
        assert read_stop(run_dir / "STOP") == before
        row.add("tries")
        row.add("refusals")
        viewer = InProcessViewer(run_dir)
        try:
            viewer.tick_until(lambda: viewer.window.history.finished, "the window to show the finished run")
            assert viewer.window.button_label == CLOSE_LABEL
            viewer.window.click()
            assert viewer.window.closed and read_stop(run_dir / "STOP") == before
        finally:
            viewer.close()
    # A killed run: its trainer is gone and its log quiet for the stall time (dead for sure: viewer.status), so
    # there is nothing to stop. The test dates the log back instead of waiting 90 s.
    child = zygote.start(train_argv(data60, run_dir, "--epochs", "200", "--patience", "1000"), tmp_path,
                         tmp_path / "k.out")
    wait_until(lambda: started(run_dir, child.pid, epochs=1), what="the run to be killed")
    zygote.kill(child)
    then = time.time() - STALL_SECONDS - 1
    os.utime(run_dir / "training_log.jsonl", (then, then))
    done = subprocess.run(stlar_cli("stop", run_dir), env=child_env(), capture_output=True, text=True, timeout=TIMEOUT)
    line = one_error_line(done.stderr)
    assert done.returncode == 2 and f"pid {child.pid}, is gone without an end record" in line, line
    assert not (run_dir / "STOP").exists()
    row.add("tries")
    row.add("refusals")
    row.save()


STALE = {
    "from the previous run": lambda run_id: json.dumps({"requested_at": 1.0, "by": "stlar-dl stop (old@box)",
                                                        "run_id": run_id}),
    "without a run id": lambda run_id: json.dumps({"requested_at": 1.0, "by": "touch", "run_id": None}),
    "garbage": lambda run_id: "\x00\xff not json {",
    "empty": lambda run_id: "",
}


def test_a_stale_stop_file_at_the_start_is_ignored_and_removed(zygote, data60, tmp_path):
    """A stop file left from before the run (any content) neither stops the new run nor survives its start;
    a stop request meant for the previous run that arrives mid-run is ignored and removed too."""
    row = Row("Stale stop file",
              "a STOP left before the run starts (from the previous run, without run id, garbage, empty) and a "
              "STOP for the previous run written mid-run (a viewer still showing the old run)",
              "{runs} runs: {completed} ran all their epochs, {removed} stale files removed and said so",
              times_key="runs", command="pytest tests/test_fault_stop_races.py -k stale")
    run_dir = tmp_path / "run"
    first = zygote.run(train_argv(data60, run_dir, "--epochs", "2"), tmp_path, tmp_path / "first.out")
    assert first.exit == 0, first.output
    previous = records_of(run_dir)[0]["run_id"]
    for name, content in STALE.items():
        (run_dir / "STOP").write_bytes(content(previous).encode("utf-8", "surrogateescape"))
        child = zygote.run(train_argv(data60, run_dir, "--epochs", "3"), tmp_path, tmp_path / "s.out")
        assert child.exit == 0, f"stale STOP {name}: {child.output}"
        assert "Removed a stale stop file" in child.output, child.output
        end = of_type(records_of(run_dir), "end")[0]
        assert end["reason"] == "completed" and end["epochs_run"] == 3, (name, end)
        assert not (run_dir / "STOP").exists(), name
        previous = end["run_id"]
        row.add("runs")
        row.add("completed")
        row.add("removed")
    # Mid-run: a viewer left open on the previous run clicks Stop after the new run has started.
    child = zygote.start(train_argv(data60, run_dir, "--epochs", "40", "--patience", "1000"), tmp_path,
                         tmp_path / "m.out")
    wait_until(lambda: started(run_dir, child.pid, epochs=1), what="the new run's first epoch")
    created, _ = request_stop(run_dir / "STOP", "stlar-dl watch (left open)", previous)
    assert created
    assert zygote.wait(child) == 0, child.output
    assert f"Ignored and removed a stop file meant for run {previous}" in child.output, child.output
    end = of_type(records_of(run_dir), "end")[0]
    assert end["reason"] == "completed" and end["epochs_run"] == 40, end
    assert read_stop(run_dir / "STOP") is None
    row.add("runs")
    row.add("completed")
    row.add("removed")
    row.save()


def test_a_folder_named_stop_is_refused_before_training(zygote, data60, tmp_path):
    """Found by this suite: `mkdir RUN_DIR/STOP` made train-dl print a traceback (IsADirectoryError)."""
    run_dir = tmp_path / "run"
    (run_dir / "STOP").mkdir(parents=True)
    child = zygote.run(train_argv(data60, run_dir, "--epochs", "2"), tmp_path, tmp_path / "d.out")
    assert child.exit == 2, child.output
    line = one_error_line(child.output)
    assert "STOP" in line and "is a folder" in line, line
    assert not (run_dir / "training_log.jsonl").exists()
    Row("A folder named STOP", "`mkdir RUN_DIR/STOP`, then train-dl in that run dir", "refused in one line "
        "before training (a traceback before the fix)", counts={"times": 1},
        command=f"pytest {HERE} -k folder_named").save()
