"""Fault: the trainer is killed (SIGKILL: the scheduler, the OOM killer, a pulled plug of the process).

Every kill, whenever it lands: every complete line of the log is a valid record and `seq` has no gap (at most
a final partial line is missing); `best.pt`, if present, loads with `weights_only=True`; every JSON file is
valid; while the log is fresh no view calls the run dead; once it has been quiet for the stall time (the test dates
the log back) `stlar-dl replay --no-window` shows the run as crashed and `stlar-dl watch --no-window` says so and
exits 3; the next run in the same folder starts cleanly and loses none of the earlier logs.

Kills come from outside at seeded random moments, and from inside (tests/fault_zygote.py) at the moments
that matter most: mid log write, mid checkpoint save, around the rename, in validation, mid archive.
Most trainings are forked from the fork server (a real process, the same code as `stlar-dl train-dl`, without
5 s of torch import each); some are fresh `python -m stlar_dl train-dl` processes.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from fault_zygote import KILL_POINTS
from faults import (  # noqa: F401 - fixtures
    epochs_logged_by,
    TIMEOUT,
    Audit,
    Row,
    audit_run_dir,
    child_env,
    data60,
    n,
    repeat_hint,
    rng,
    stlar_cli,
    train_argv,
    wait_until,
    zygote,
)
from procs import Spawned
from shared.history import history_of
from shared.logreader import read_log
from trainer.run_dir import ARCHIVED
from viewer.growth import file_quiet
from viewer.replay import replay
from viewer.status import CRASHED, STALL_SECONDS, STALLED, status_of, trainer_alive
from viewer.terminal import CRASHED_EXIT

EPOCHS = 10
BATCH = 8  # 6 training and 2 validation batches an epoch on 60 segments: many moments to kill in
HERE = "tests/test_fault_kill.py"


def run_argv(data: Path, out: Path, *extra: str) -> list[str]:
    return train_argv(data, out, "--epochs", str(EPOCHS), "--batch-size", str(BATCH), "--patience", "1000",
                      *extra)


def k_range(point: str) -> tuple[int, int]:
    """The occurrences of a kill point a 10-epoch run is sure to reach."""
    return {
        "train_batch": (1, 6 * EPOCHS), "validation": (1, 2 * EPOCHS), "log_torn": (2, EPOCHS + 1),
        "log_unsynced": (2, EPOCHS + 1), "checkpoint_mid": (1, 3), "checkpoint_unrenamed": (1, 3),
        "checkpoint_renamed": (1, 3), "outputs": (1, 2), "archive": (1, 2),
    }[point]


class KillChecks:
    """Checks one killed run and keeps the tallies of the report row."""

    def __init__(self, run_dir: Path, row: Row, label: str) -> None:
        self.run_dir = run_dir
        self.row = row
        self.label = label
        self.logs: dict[str, bytes] = {}  # run_id -> the log it left: must survive every later run

    def fail(self, what: str, context: str) -> None:
        pytest.fail(f"{self.label} {context}: {what}; {repeat_hint(HERE)}")

    def check(self, pid: int, context: str, *, real_replay: bool = False, real_watch: bool = False) -> Audit:
        """Audit the run dir after `pid` was killed; classify and tally; fail on anything corrupt."""
        row = self.row
        row.add("kills")
        audit = audit_run_dir(self.run_dir)
        for problem in audit.problems:
            row.add("corrupt_logs" if "training_log" in problem and "seq" not in problem else
                    "seq_gaps" if "seq" in problem else
                    "bad_checkpoints" if "best.pt" in problem else "bad_json")
        if audit.problems:
            self.fail("; ".join(audit.problems), context)
        if audit.partial_tail:
            row.add("torn_tails")
        if audit.temp_files:
            row.add("temp_files_left")
        # The reader the viewers use sees exactly the complete lines, and says nothing about a torn tail.
        log = self.run_dir / "training_log.jsonl"
        if log.exists():
            seen, warnings = read_log(log)
            if seen != audit.records or warnings:
                self.fail(f"the viewers' reader disagrees with the file: {len(seen)} records, {warnings}", context)
        start = audit.records[0] if audit.records else None
        if start is None or start.get("pid") != pid:
            row.add("before_start")  # killed before its start record was complete: there is no run to show
            return audit
        self.logs[start["run_id"]] = log.read_bytes()
        history = history_of(audit.records)
        last_best = history.best_epoch
        if audit.checkpoint_epoch is not None and last_best is not None:
            # best.pt is saved before the epoch record that says so: it is the log's best or one epoch newer.
            if not last_best <= audit.checkpoint_epoch <= history.n_epochs + 1:
                self.fail(f"best.pt is epoch {audit.checkpoint_epoch}, the log's best is {last_best}", context)
        if audit.ended:
            out = io.StringIO()
            assert replay(self.run_dir, no_window=True, out=out) == 0
            row.add("shown_finished")
            if "Status:" in out.getvalue():
                self.fail(f"a run with an end record is not shown as finished:\n{out.getvalue()}", context)
            return audit
        # Right after the kill the log is fresh: not dead for sure yet (viewer.status), whatever the pid says.
        fresh = status_of(history, quiet=file_quiet(log), trainer=trainer_alive(history), live=True)
        if fresh.kind in (STALLED, CRASHED):
            self.fail(f"a log that grew just now has the status {fresh}", context)
        row.add("shown_fresh")
        # The stall time passes without a record: date the log back by it instead of waiting 90 s.
        then = time.time() - STALL_SECONDS - 1
        os.utime(log, (then, then))
        out = io.StringIO()
        assert replay(self.run_dir, no_window=True, out=out) == 0
        text = out.getvalue()
        crashed = f"Status: crashed: no end record, trainer pid {pid} is gone and the log has been quiet for"
        if crashed not in text or "Training ended without an end record (crashed or killed)" not in text:
            self.fail(f"replay does not show the run as crashed:\n{text}", context)
        row.add("shown_crashed")
        if real_replay:
            done = subprocess.run(stlar_cli("replay", self.run_dir, "--no-window"), env=child_env(),
                                  capture_output=True, text=True, encoding="utf-8", timeout=TIMEOUT)
            if done.returncode != 0 or crashed not in done.stdout:
                self.fail(f"`stlar-dl replay --no-window` exit {done.returncode}:\n{done.stdout}\n{done.stderr}",
                          context)
            row.add("real_replays")
        if real_watch:
            with Spawned(stlar_cli("watch", self.run_dir, "--no-window"), **child_env()) as watch:
                code = watch.finish(timeout=TIMEOUT)  # a crashed run: the verdict, the report, exit 3
            if code != CRASHED_EXIT or crashed not in watch.output:
                self.fail(f"`stlar-dl watch --no-window` exit {code}:\n{watch.output}", context)
            row.add("real_watches")
        return audit

    def nothing_lost(self) -> None:
        """Every log a killed run left is still there, byte for byte: in the run dir or in archive/."""
        found = [p.read_bytes() for p in self.run_dir.rglob("training_log.jsonl")]
        for run_id, data in self.logs.items():
            if data not in found:
                self.row.add("logs_lost")
                self.fail(f"the log of killed run {run_id} is gone or changed", "at the end")


RESULT = ("{kills} kills: {corrupt_logs} corrupt logs, {seq_gaps} seq gaps, {bad_checkpoints} unloadable "
          "checkpoints, {bad_json} invalid JSON files, {logs_lost} logs lost; {torn_tails} torn final lines "
          "held back by the reader; {shown_fresh} shown as not yet dead while the log was fresh, then "
          "{shown_crashed} as crashed once it had been quiet for the stall time ({real_replays} real `stlar-dl "
          "replay`, {real_watches} real `stlar-dl watch --no-window` processes, which exit 3), "
          "{shown_finished} as finished (killed after the end record), {before_start} killed before the start "
          "record; every next run started cleanly")


def finish_dir(zygote, data: Path, run_dir: Path, checks: KillChecks, row: Row) -> None:
    """One last complete run in the same folder: it must start, archive the wreckage and finish cleanly."""
    child = zygote.run(run_argv(data, run_dir), run_dir.parent, run_dir.parent / "last.out")
    assert child.exit == 0, child.output
    checks.nothing_lost()
    audit = audit_run_dir(run_dir)
    assert not audit.problems and audit.ended, audit.problems
    leftovers = sorted(p.name for p in run_dir.glob(".*.tmp*"))
    assert not leftovers, f"temporary files of killed writes are left in the run dir: {leftovers}"
    row.add("archives", len(list((run_dir / "archive").iterdir())))


def test_sigkill_at_random_moments(zygote, data60, tmp_path):
    """SIGKILL from outside at a seeded random moment of the trainer's life, again and again in one folder."""
    r = rng("kill random")
    total = n(11, 110)
    fresh = set(r.sample(range(total), n(1, 10)))  # these are fresh `python -m stlar_dl` processes
    row = Row("Trainer killed at a random moment",
              f"SIGKILL from outside after a seeded random delay, {total} short runs in one run dir (each next "
              f"run archives the wreckage); {len(fresh)} of them fresh `python -m stlar_dl train-dl` processes, "
              "the rest forked from the fork server", RESULT, times_key="kills",
              command="STLAR_FAULTS_FULL=1 pytest tests/test_fault_kill.py -k random")
    run_dir = tmp_path / "run"
    checks = KillChecks(run_dir, row, "random kill")
    # Calibrate: how long a whole run takes from fork to exit (its own run also seeds the folder).
    t0 = time.monotonic()
    first = zygote.run(run_argv(data60, run_dir), tmp_path, tmp_path / "calibrate.out")
    assert first.exit == 0, first.output
    lifetime = time.monotonic() - t0
    for i in range(total):
        delay = r.uniform(0.0, lifetime * 0.95)
        context = f"#{i} (kill {delay:.3f} s after the start, of a {lifetime:.2f} s run)"
        if i in fresh:
            # A fresh process spends seconds importing torch: the random moment counts from its start record.
            out = open(tmp_path / f"fresh{i}.out", "w")
            proc = subprocess.Popen(stlar_cli(*run_argv(data60, run_dir)), cwd=tmp_path, env=child_env(),
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            out.close()
            try:
                wait_until(lambda: _started_by(run_dir, proc.pid) or proc.poll() is not None,
                           what="the fresh trainer's start record")
                time.sleep(r.uniform(0.0, lifetime * 0.9))  # the random moment itself, not a synchronisation
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=TIMEOUT)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            pid = proc.pid
        else:
            child = zygote.start(run_argv(data60, run_dir), tmp_path, tmp_path / "child.out")
            time.sleep(delay)  # the random moment itself, not a synchronisation
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            code = zygote.wait(child)
            if code != -signal.SIGKILL:
                row.add("ended_before_kill")
            pid = child.pid
        checks.check(pid, context, real_replay=i in fresh)
    finish_dir(zygote, data60, run_dir, checks, row)
    row.save()


def _started_by(run_dir: Path, pid: int) -> bool:
    records, _ = read_log(run_dir / "training_log.jsonl")
    return bool(records) and records[0].get("pid") == pid


def test_sigkill_at_the_risky_moments(zygote, data60, tmp_path):
    """SIGKILL from inside the trainer at each moment where a file is half-written or about to be renamed."""
    r = rng("kill points")
    per_point = n(1, 10)
    plan = [(point, r.randint(*k_range(point))) for point in KILL_POINTS for _ in range(per_point)]
    r.shuffle(plan)
    watched = set(r.sample([i for i, (p, _) in enumerate(plan) if p not in ("outputs", "archive")], n(2, 20)))
    row = Row("Trainer killed at a risky moment",
              f"SIGKILL from inside, {per_point} per moment ({len(plan)} in all): "
              + "; ".join(KILL_POINTS.values()), RESULT, times_key="kills",
              command="STLAR_FAULTS_FULL=1 pytest tests/test_fault_kill.py -k risky")
    run_dir = tmp_path / "run"
    checks = KillChecks(run_dir, row, "risky kill")
    first = zygote.run(run_argv(data60, run_dir), tmp_path, tmp_path / "first.out")
    assert first.exit == 0, first.output
    for i, (point, k) in enumerate(plan):
        if point == "archive":
            # The archive moves what the previous run left; a kill at archive #1 may have left nothing.
            left = [p for p in run_dir.iterdir() if p.name in ARCHIVED]
            if not left:
                done = zygote.run(run_argv(data60, run_dir), tmp_path, tmp_path / "refill.out")
                assert done.exit == 0, done.output
                left = [p for p in run_dir.iterdir() if p.name in ARCHIVED]
            k = min(k, len(left))
        context = f"#{i} ({point} #{k}: {KILL_POINTS[point]})"
        child = zygote.run(run_argv(data60, run_dir), tmp_path, tmp_path / "child.out",
                           inject={"kill": point, "k": k})
        if child.exit != -signal.SIGKILL:
            pytest.fail(f"{context}: the kill point was not reached (exit {child.exit}):\n{child.output[-2000:]}"
                        f"\n{repeat_hint(HERE)}")
        audit = checks.check(child.pid, context, real_replay=i in watched, real_watch=i in watched)
        if point == "log_torn" and not audit.partial_tail:
            pytest.fail(f"{context}: no torn final line was left; the injection did not tear the write")
        row.add(f"at_{point}")
    finish_dir(zygote, data60, run_dir, checks, row)
    row.save()


def _tagged(tag: str) -> list[int]:
    """Pids of live (non-zombie) processes whose environment carries STLAR_FAULT_TAG=tag."""
    needle = f"STLAR_FAULT_TAG={tag}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc to find loader workers")
def test_sigkill_with_loader_workers_leaves_no_orphans(zygote, data60, tmp_path):
    """Kill only the main process of a run with 2 data-loader workers: the workers must go away by themselves."""
    r = rng("kill workers")
    times = n(1, 5)
    row = Row("Trainer with 2 loader workers killed",
              "SIGKILL to the main process only (as the OOM killer does), mid-training, --num-workers 2",
              "{kills} kills: {orphans} loader workers left running after 30 s; the same checks of the log, "
              "best.pt, JSON files, replay and status as the other kills, all passed",
              times_key="kills", command="STLAR_FAULTS_FULL=1 pytest tests/test_fault_kill.py -k workers")
    run_dir = tmp_path / "run"
    checks = KillChecks(run_dir, row, "worker kill")
    for i in range(times):
        tag = uuid.uuid4().hex
        epochs = r.randint(1, 4)
        child = zygote.start(run_argv(data60, run_dir, "--num-workers", "2"), tmp_path, tmp_path / "w.out",
                             env={"STLAR_FAULT_TAG": tag})
        # Wait until the workers run (the first epoch record), then kill the main process only.
        wait_until(lambda: epochs_logged_by(run_dir, child.pid) >= epochs or child.exit is not None,
                   what="the first epochs with loader workers")
        os.kill(child.pid, signal.SIGKILL)
        zygote.wait(child)
        checks.check(child.pid, f"#{i} (after {epochs} epochs)")
        try:
            wait_until(lambda: not _tagged(tag), timeout=30.0, what="the orphaned loader workers to exit",
                       interval=0.1)
        except pytest.fail.Exception:
            row.add("orphans", len(_tagged(tag)))
            for pid in _tagged(tag):
                os.kill(pid, signal.SIGKILL)
            raise
    row.save()



def test_a_new_run_removes_the_temporary_files_a_killed_run_left(tmp_path):
    """Found by the kill suite: a kill mid-save left `.best.*.tmp.pt` (as large as the checkpoint) for good."""
    from trainer.run_dir import prepare_run_dir

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = [".best.k2j4x1.tmp.pt", ".training_metrics.a8d0.tmp.json", ".training_curves.q1.tmp.png"]
    kept = [".STOP.z9.tmp", "notes.tmp.pt", ".mine.tmp.pt"]  # a viewer's stop request may be in flight
    for name in dead + kept:
        (run_dir / name).write_bytes(b"half")
    with prepare_run_dir(run_dir, display="run") as prepared:
        assert sorted(p.name for p in run_dir.iterdir() if p.name != ".stlar-dl.lock") == sorted(kept)
        assert any(note.startswith("Removed 3 temporary file(s) a killed run left in run") for note in prepared.notes)
