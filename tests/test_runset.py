"""The live set of compared runs: followed while they train, joined by new runs, archived runs kept."""

from __future__ import annotations

import os
import time

from fake_run import Epochs, start_fields, write_run
from shared.logwriter import LogWriter
from shared.records import END, EPOCH, START
from viewer.runset import RunSet

TIMEOUT = 20.0


def wait_for(runset: RunSet, condition, what: str) -> None:
    """Poll the set (waking on its followers' file events) until `condition()` holds; fail after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        runset.poll()
        runset.wait(0.2)


class Trainer:
    """Writes one run's records on demand, as the trainer does (append, flush)."""

    def __init__(self, folder, planned=5, **config):
        folder.mkdir(parents=True, exist_ok=True)
        self.log = LogWriter(folder / "training_log.jsonl", fsync=False)
        self.book = Epochs(planned)
        self.epoch = 0
        self.start = self.log.write(START, **start_fields(planned, **config))

    def epochs(self, n=1):
        for _ in range(n):
            self.epoch += 1
            self.log.write(EPOCH, **self.book.fields(self.epoch, 0.7 / self.epoch, 0.8 / self.epoch))

    def end(self, reason="completed"):
        self.log.write(END, **self.book.end_fields(reason, self.epoch))
        self.log.close()


def by_path(runset):
    return {run.path.name if run.path else None: run for run in runset.runs}


def test_a_live_run_updates_as_its_log_grows_and_is_let_go_when_it_ends(tmp_path):
    (tmp_path / "done").mkdir()
    write_run(tmp_path / "done" / "training_log.jsonl", 4)
    trainer = Trainer(tmp_path / "live", planned=5, lr=2e-4)
    trainer.epochs(2)
    with RunSet([tmp_path], rescan_seconds=60) as runset:
        runs = by_path(runset)
        assert runs["done"].history.n_epochs == 4 and runs["done"].follower is None  # finished: no thread
        live = runs["live"]
        assert live.history.n_epochs == 2 and runset.following == 1
        trainer.epochs(1)
        wait_for(runset, lambda: live.history.n_epochs == 3, "the third epoch")
        trainer.epochs(2)
        trainer.end()
        wait_for(runset, lambda: live.history.end is not None, "the end record")
        assert live.history.n_epochs == 5
        assert runset.following == 0  # its follower (and observer thread) is closed


def test_a_run_that_starts_later_in_a_compared_folder_joins(tmp_path):
    Trainer(tmp_path / "first").epochs(1)
    with RunSet([tmp_path], rescan_seconds=0.05) as runset:
        assert list(by_path(runset)) == ["first"]
        late = Trainer(tmp_path / "nested" / "second", lr=1e-4)
        late.epochs(2)
        wait_for(runset, lambda: "second" in by_path(runset), "the new run")
        second = by_path(runset)["second"]
        wait_for(runset, lambda: second.history.n_epochs == 2, "its epochs")
        assert second.index == 1  # a colour of its own, after the runs already shown
        late.end()


def test_a_run_archived_for_a_new_one_keeps_its_curves_and_colour(tmp_path):
    folder = tmp_path / "models"
    old = Trainer(folder, lr=1e-3)
    old.epochs(3)
    old.end()
    with RunSet([tmp_path], rescan_seconds=0.05) as runset:
        (first,) = runset.runs
        old_id = first.history.run_id
        # What train-dl does before a second run in the same folder: move the log to archive/<start>_<id>/.
        archive = folder / "archive" / f"20261203-101500_{old_id}"
        archive.mkdir(parents=True)
        os.replace(folder / "training_log.jsonl", archive / "training_log.jsonl")
        new = Trainer(folder, lr=1e-4)
        new.epochs(1)
        wait_for(runset, lambda: len(runset.runs) == 2 and all(r.path for r in runset.runs), "both runs")
        wait_for(runset, lambda: any(r.history.n_epochs == 1 for r in runset.runs), "the new run's epoch")
        by_id = {run.history.run_id: run for run in runset.runs}
        assert by_id[old_id].path == archive and by_id[old_id].archived
        assert by_id[old_id].history.n_epochs == 3 and by_id[old_id].index == 0
        assert by_id[new.start["run_id"]].path == folder and by_id[new.start["run_id"]].index == 1
        new.end()


def test_a_live_run_archived_while_followed_keeps_its_curves(tmp_path):
    folder = tmp_path / "models"
    old = Trainer(folder, lr=1e-3)
    old.epochs(2)
    with RunSet([tmp_path], rescan_seconds=0.05) as runset:
        (first,) = runset.runs
        old_id = first.history.run_id
        old.end("interrupted")
        archive = folder / "archive" / f"x_{old_id}"
        archive.mkdir(parents=True)
        os.replace(folder / "training_log.jsonl", archive / "training_log.jsonl")
        new = Trainer(folder, lr=1e-4)
        new.epochs(2)
        wait_for(runset, lambda: {r.history.run_id for r in runset.runs} == {old_id, new.start["run_id"]}
                 and all(r.path for r in runset.runs) and all(r.history.n_epochs == 2 for r in runset.runs),
                 "the archived run and the new one")
        new.end()
    assert runset.following == 0


def test_an_archived_run_without_an_end_record_is_read_once_not_followed(tmp_path):
    crashed = Trainer(tmp_path / "models" / "archive" / "20261203-101500_abc")
    crashed.epochs(2)
    with RunSet([tmp_path]) as runset:
        (run,) = runset.runs
        assert run.archived and run.history.n_epochs == 2 and runset.following == 0
        assert run.summary(time.time()).status == "crashed"


def test_a_png_compare_reads_each_log_once_and_follows_nothing(tmp_path):
    Trainer(tmp_path / "a").epochs(2)
    with RunSet([tmp_path], live=False) as runset:
        assert runset.runs[0].history.n_epochs == 2
        assert runset.following == 0
        assert runset.poll() is False


def test_colours_go_to_runs_in_order_of_their_start(tmp_path):
    n = 3
    for i in range(n):
        # Folder names in the reverse order of their starts: colours follow the start, not the name.
        Trainer(tmp_path / f"run{n - i}").epochs(1)
    with RunSet([tmp_path], live=False) as runset:
        assert [run.path.name for run in sorted(runset.runs, key=lambda r: r.index)] == ["run3", "run2", "run1"]


def test_a_rescan_between_the_archive_move_and_the_new_log_shows_the_run_once(tmp_path):
    folder = tmp_path / "models"
    old = Trainer(folder, lr=1e-3)
    old.epochs(3)
    old.end()
    with RunSet([tmp_path], rescan_seconds=3600) as runset:
        (first,) = runset.runs
        archive = folder / "archive" / f"20261203-101500_{first.history.run_id}"
        archive.mkdir(parents=True)
        os.replace(folder / "training_log.jsonl", archive / "training_log.jsonl")
        runset._rescan()  # the trainer has moved the old log but not yet started the new one
        assert len(runset.runs) == 1
        new = Trainer(folder, lr=1e-4)
        new.epochs(1)
        runset._rescan()
        wait_for(runset, lambda: all(r.path for r in runset.runs) and len(runset.runs) == 2, "both runs")
        by_id = {run.history.run_id: run for run in runset.runs}
        assert by_id[first.history.run_id].path == archive and by_id[first.history.run_id].index == 0
        new.end()
