"""Fault: the run dir changes under a running viewer. A new run starts in the same folder (the old one is
archived), the log is deleted, truncated or replaced, the folder is deleted and recreated or renamed away and
made again. The viewer follows: after any sequence it shows the run now in the folder, and never a record of
one run mixed into another's view.

The chaos test drives a Follower (what `stlar-dl watch` reads through) and a window on an Agg canvas, with seeded
random operations and reads at random moments (often several operations between two reads: the hard case).
Real `stlar-dl watch` processes follow real trainings through the same moves.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fake_run import Epochs, archive_old_log, start_fields
from faults import (  # noqa: F401 - fixtures
    epochs_logged_by,
    TIMEOUT,
    Row,
    child_env,
    data60,
    data600,
    n,
    repeat_hint,
    rng,
    stlar_cli,
    train_argv,
    wait_until,
    zygote,
)
from procs import Spawned
from shared.fastrecords import EpochBlock
from shared.logreader import NewRun, read_log
from shared.logwriter import LogWriter, new_run_id
from shared.records import END, EPOCH, START
from shared.rundir import RunDir
from viewer.follow import Follower
from viewer.window import RunWindow

HERE = "tests/test_fault_run_dir_moves.py"


class Runs:
    """Writes runs into one folder the way the trainer does, and remembers every record it wrote."""

    def __init__(self, run_dir: Path) -> None:
        self.rd = RunDir(run_dir)
        self.written: dict[str, list[dict]] = {}  # run_id -> records, in order
        self.writer: LogWriter | None = None
        self.book: Epochs | None = None
        self.epoch = 0

    def new_run(self, epochs: int, end: bool) -> str:
        """Archive the old log (as the trainer does) and write a new run's start and `epochs` epochs."""
        self.close()
        self.rd.path.mkdir(parents=True, exist_ok=True)
        archive_old_log(self.rd)
        run_id = new_run_id()
        self.writer = LogWriter(self.rd.log, run_id=run_id, fsync=False)
        self.written[run_id] = []
        self.book, self.epoch = Epochs(100), 0
        self._write(START, **start_fields(100))
        self.more(epochs)
        if end:
            self.end()
        return run_id

    def more(self, epochs: int) -> None:
        if self.writer is None:
            return
        for _ in range(epochs):
            self.epoch += 1
            self._write(EPOCH, **self.book.fields(self.epoch, 0.7 / self.epoch, 0.72 / self.epoch))

    def end(self) -> None:
        if self.writer is not None:
            self._write(END, **self.book.end_fields("completed", self.epoch))
            self.close()

    def _write(self, rtype: str, **fields) -> None:
        try:
            self.written[self.writer.run_id].append(self.writer.write(rtype, **fields))
        except OSError:  # the folder is gone: this writer's records go nowhere (a trainer would fail here)
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def check_segments(items: list, runs: Runs, context: str) -> list[list[dict]]:
    """Split the follower's output at NewRun markers; every segment is one run's records, in order, real."""
    segments: list[list[dict]] = [[]]
    for item in items:
        if isinstance(item, NewRun):
            segments.append([])
        elif isinstance(item, EpochBlock):  # a run of epoch records, handed over as one block
            segments[-1].extend(item.records())
        else:
            segments[-1].append(item)
    for segment in segments:
        ids = {r["run_id"] for r in segment}
        assert len(ids) <= 1, f"{context}: records of runs {sorted(ids)} mixed in one view"
        seqs = [r["seq"] for r in segment]
        assert seqs == sorted(set(seqs)), f"{context}: seq out of order or repeated: {seqs}"
        for record in segment:
            truth = runs.written.get(record["run_id"], [])
            # A log deleted mid-run is started again by its writer with a copy of the start record that
            # carries `restarted`: that copy is the run's start record.
            same = {k: v for k, v in record.items() if k != "restarted"}
            assert record["seq"] < len(truth) and truth[record["seq"]] == same, \
                f"{context}: a record that run never wrote: {record}"
    return segments


OPS = ("new run", "new run, ended", "more epochs", "end the run", "delete the log", "truncate the log",
       "delete the folder", "rename the folder away", "replace the log by rename")


def test_chaos_of_moves_under_a_follower_and_a_window(tmp_path):
    r = rng("run dir chaos")
    rounds = n(3, 20)
    steps = n(25, 60)
    row = Row("Run dir moves under the viewer (chaos)",
              f"seeded random sequences of: {', '.join(OPS)}; the viewer reading at random moments, often "
              "several moves between two reads",
              "{rounds} sequences, {moves} moves, {reads} reads: {mixed} views mixing two runs, {stale} final "
              "views not showing the folder's current run, {new_runs} new runs followed", times_key="moves",
              command=f"STLAR_FAULTS_FULL=1 pytest {HERE} -k chaos")
    for round_no in range(rounds):
        base = tmp_path / f"round{round_no}"
        run_dir = base / "run"
        runs = Runs(run_dir)
        seen: list = []
        fig = Figure()
        FigureCanvasAgg(fig)
        with Follower(run_dir) as follower:
            window = RunWindow(fig, run_dir, follower, out=None)
            runs.new_run(r.randint(0, 3), end=False)
            for step in range(steps):
                context = f"round {round_no} step {step}; {repeat_hint(HERE)}"
                op = r.choice(OPS)
                _apply(op, runs, run_dir, base, step, r)
                row.add("moves")
                if r.random() < 0.5:
                    items = follower.drain()
                    seen += items
                    window.apply(items)
                    row.add("reads")
                    check_segments(seen, runs, context)
            # The folder ends with a run in it; the view must settle on exactly that run.
            runs.new_run(r.randint(1, 3), end=r.random() < 0.5)
            final, _ = read_log(run_dir / "training_log.jsonl")

            def settled():
                follower.wait(timeout=0.2)
                items = follower.drain()
                seen.extend(items)
                window.apply(items)
                segments = check_segments(seen, runs, f"round {round_no} settling")
                return segments[-1] == final

            wait_until(settled, what=f"the view to show the final run (round {round_no})", interval=0)
        runs.close()
        assert window.history.run_id == final[0]["run_id"], (window.history.run_id, final[0]["run_id"])
        assert window.history.epochs == [rec["epoch"] for rec in final if rec["type"] == EPOCH]
        row.add("rounds")
        row.add("new_runs", sum(isinstance(item, NewRun) for item in seen))
    row.save()


def _apply(op: str, runs: Runs, run_dir: Path, base: Path, step: int, r) -> None:
    log = run_dir / "training_log.jsonl"
    if op == "new run":
        runs.new_run(r.randint(0, 3), end=False)
    elif op == "new run, ended":
        runs.new_run(r.randint(0, 3), end=True)
    elif op == "more epochs":
        runs.more(r.randint(1, 3))
    elif op == "end the run":
        runs.end()
    elif op == "delete the log":
        log.unlink(missing_ok=True)
    elif op == "truncate the log":
        if log.exists():
            os.truncate(log, 0)
            runs.close()  # the trainer's log is gone; the next records come from a new run
            runs.new_run(r.randint(0, 2), end=False) if r.random() < 0.5 else None
    elif op == "delete the folder":
        runs.close()
        shutil.rmtree(run_dir, ignore_errors=True)
        if r.random() < 0.7:
            runs.new_run(r.randint(0, 2), end=r.random() < 0.3)
    elif op == "rename the folder away":
        runs.close()
        if run_dir.exists():
            os.rename(run_dir, base / f"moved{step}")
        if r.random() < 0.7:
            runs.new_run(r.randint(0, 2), end=False)
    elif op == "replace the log by rename":
        # Another run's log copied in and renamed over the log (as `mv` or a sync tool does).
        donor = Runs(base / f"donor{step}")
        donor.new_run(r.randint(0, 3), end=r.random() < 0.5)
        donor.close()
        runs.written.update(donor.written)
        runs.close()
        run_dir.mkdir(parents=True, exist_ok=True)
        os.replace(donor.rd.log, log)


@pytest.mark.parametrize("poll", [False, True], ids=["events", "poll"])
def test_stlar_watch_follows_real_runs_through_the_moves(zygote, data600, tmp_path, poll):
    """A real `stlar-dl watch --no-window` on real trainings: A killed mid-run, the folder deleted and made again,
    B started and killed, its log deleted, C started in the same folder (archiving nothing) and run to the end."""
    row = Row(f"Run dir moves under `stlar-dl watch --no-window{' --poll' if poll else ''}`",
              "real trainings: run A killed mid-run, the run dir deleted and recreated, run B, its log deleted, "
              "run C to the end; a real `stlar-dl watch` attached throughout",
              "{sequences} sequences: the viewer reset at each new run ({resets} resets), said each run's start "
              "in order, showed exactly run C's epochs after C's start, and exited at C's end", times_key="sequences",
              command=f"pytest {HERE} -k real")
    run_dir = tmp_path / "run"
    argv = ["watch", run_dir, "--no-window"] + (["--poll"] if poll else [])
    with Spawned(stlar_cli(*argv), **child_env()) as watch:
        watch.expect("Waiting for the run", timeout=TIMEOUT)
        ids = []
        for name in ("A", "B"):
            child = zygote.start(train_argv(data600, run_dir, "--epochs", "300", "--patience", "1000"), tmp_path,
                                 tmp_path / f"{name}.out")
            try:
                wait_until(lambda: epochs_logged_by(run_dir, child.pid) >= 2, what=f"run {name}'s first epochs")
                ids.append(read_log(run_dir / "training_log.jsonl")[0][0]["run_id"])
                watch.expect(f"Run {ids[-1]} started", timeout=TIMEOUT)
                watch.expect("Epoch ", timeout=TIMEOUT)
            finally:
                zygote.kill(child)
            if name == "A":
                shutil.rmtree(run_dir)
                run_dir.mkdir()
            else:
                (run_dir / "training_log.jsonl").unlink()
        child = zygote.run(train_argv(data600, run_dir, "--epochs", "3"), tmp_path, tmp_path / "C.out")
        assert child.exit == 0, child.output
        final = read_log(run_dir / "training_log.jsonl")[0]
        ids.append(final[0]["run_id"])
        watch.expect("Run ended: completed after 3 epochs", timeout=TIMEOUT)
        assert watch.finish(timeout=TIMEOUT) == 0, watch.output
    text = watch.output
    # Each run's part of the output starts at its start line; run C's part has exactly C's three epochs.
    starts = [text.index(f"Run {run_id} started") for run_id in ids]
    assert starts == sorted(starts), ids
    resets = text.count("view reset")
    assert resets == 2, text
    c_part = text[starts[2]:]
    assert [line.split("|")[0].split()[1] for line in c_part.splitlines() if line.startswith("Epoch ")] == \
        ["1/3", "2/3", "3/3"], c_part
    row.add("sequences")
    row.add("resets", resets)
    row.save()



def test_the_window_follows_a_new_real_run_in_the_same_folder(zygote, data60, tmp_path):
    """A window (Agg, real Follower) on run A when run B starts in the same folder: it shows B alone."""
    run_dir = tmp_path / "run"
    first = zygote.run(train_argv(data60, run_dir, "--epochs", "4"), tmp_path, tmp_path / "a.out")
    assert first.exit == 0, first.output
    fig = Figure()
    FigureCanvasAgg(fig)
    with Follower(run_dir) as follower:
        window = RunWindow(fig, run_dir, follower, out=None)
        wait_until(lambda: (follower.wait(0.2), window.tick(), window.history.finished)[-1], what="run A shown",
                   interval=0)
        a_id = window.history.run_id
        second = zygote.run(train_argv(data60, run_dir, "--epochs", "2"), tmp_path, tmp_path / "b.out")
        assert second.exit == 0, second.output
        b_id = read_log(run_dir / "training_log.jsonl")[0][0]["run_id"]
        wait_until(lambda: (follower.wait(0.2), window.tick(),
                            window.history.run_id == b_id and window.history.finished)[-1],
                   what="run B shown", interval=0)
    assert a_id != b_id and window.history.epochs == [1, 2]
    assert any(f"New run {b_id}" in line for line in window.log_lines), list(window.log_lines)
