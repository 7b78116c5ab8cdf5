"""Preparing a run dir: writable check, the lock, archiving an earlier run, removing a stale STOP."""

from __future__ import annotations

import os
import time

import filelock
import pytest

from shared.errors import RunDirError
from shared.logwriter import LogWriter
from shared.rundir import RunDir
from shared.stopfile import request_stop
from trainer.run_dir import archive_previous_run, prepare_run_dir


def old_run(path, run_id="abc123", t=1_700_000_000.0):
    """An earlier run's outputs in `path`, with a start record at time `t`."""
    path.mkdir(parents=True, exist_ok=True)
    with LogWriter(path / "training_log.jsonl", run_id=run_id, clock=lambda: t) as w:
        w.write("start", schema=1, config={}, epochs=2)
    for name in ("best.pt", "training_metrics.json", "training_params.json", "training_curves.png"):
        (path / name).write_text(f"old {name}")


def test_creates_a_missing_run_dir_and_notes_nothing(tmp_path):
    with prepare_run_dir(tmp_path / "a" / "models") as prepared:
        assert (tmp_path / "a" / "models").is_dir()
        assert prepared.notes == [] and prepared.archived_to is None


def test_archives_an_earlier_run_under_its_start_time_and_id(tmp_path):
    run = tmp_path / "models"
    old_run(run)
    with prepare_run_dir(run, display="models") as prepared:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(1_700_000_000.0))
        dest = run / "archive" / f"{stamp}_abc123"
        assert prepared.archived_to == dest
        assert sorted(p.name for p in dest.iterdir()) == sorted(
            ["training_log.jsonl", "best.pt", "training_metrics.json", "training_params.json",
             "training_curves.png"])
        assert (dest / "best.pt").read_text() == "old best.pt"
        assert not (run / "best.pt").exists() and not (run / "training_log.jsonl").exists()
        assert prepared.notes == [f"Archived the previous run's outputs to models/archive/{stamp}_abc123"]


def test_archive_never_overwrites_an_earlier_archive(tmp_path):
    run = tmp_path / "models"
    dests = []
    for _ in range(3):
        old_run(run)  # the same start time and run id each time
        dests.append(archive_previous_run(RunDir(run)))
    assert dests[0].name.endswith("_abc123")
    assert dests[1].name == dests[0].name + "-2" and dests[2].name == dests[0].name + "-3"
    assert all((d / "best.pt").exists() for d in dests)


def test_archive_without_a_start_record_uses_mtime_and_unknown(tmp_path):
    run = tmp_path / "models"
    run.mkdir()
    (run / "best.pt").write_text("x")
    (run / "training_log.jsonl").write_text("garbage\n")
    os.utime(run / "best.pt", (1_600_000_000, 1_600_000_000))
    os.utime(run / "training_log.jsonl", (1_600_000_000, 1_600_000_000))
    dest = archive_previous_run(RunDir(run))
    assert dest.name == time.strftime("%Y%m%d-%H%M%S", time.localtime(1_600_000_000)) + "_unknown"


@pytest.mark.parametrize("t", [1e20, -1e20, 1e300])
def test_a_start_time_no_calendar_holds_archives_under_the_files_time(tmp_path, t):
    run = tmp_path / "models"
    old_run(run, t=t)  # a corrupt or hostile log: no traceback, the files' own time instead
    os.utime(run / "best.pt", (1_600_000_000, 1_600_000_000))
    os.utime(run / "training_log.jsonl", (1_600_000_000, 1_600_000_000))
    for name in ("training_metrics.json", "training_params.json", "training_curves.png"):
        os.utime(run / name, (1_600_000_000, 1_600_000_000))
    dest = archive_previous_run(RunDir(run))
    assert dest.name == time.strftime("%Y%m%d-%H%M%S", time.localtime(1_600_000_000)) + "_abc123"


def test_a_log_with_a_byte_order_mark_is_archived_under_its_start(tmp_path):
    run = tmp_path / "models"
    old_run(run)
    log = run / "training_log.jsonl"
    log.write_bytes(b"\xef\xbb\xbf" + log.read_bytes())
    assert archive_previous_run(RunDir(run)).name.endswith("_abc123")


def test_nothing_to_archive_in_a_folder_of_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert archive_previous_run(RunDir(tmp_path)) is None
    assert (tmp_path / "notes.txt").exists() and not (tmp_path / "archive").exists()


def test_a_stale_stop_file_is_removed_and_said(tmp_path):
    run = tmp_path / "models"
    run.mkdir()
    request_stop(run / "STOP", by="stlar-dl watch (ana@lab)", run_id="old")
    with prepare_run_dir(run, display="models") as prepared:
        assert not (run / "STOP").exists()
        assert prepared.stale_stop["run_id"] == "old"
        assert prepared.notes == [
            "Removed a stale stop file models/STOP left by an earlier run (requested by stlar-dl watch (ana@lab))"]


def test_a_second_trainer_is_refused_while_the_lock_is_held(tmp_path):
    run = tmp_path / "models"
    old_run(run)
    with prepare_run_dir(run):
        with pytest.raises(RunDirError, match="another trainer is running in this run dir") as info:
            prepare_run_dir(run, display="models")
        assert "\n" not in str(info.value)
        assert not (run / "archive" / "x").exists()
    # Released: the next one gets it.
    with prepare_run_dir(run):
        pass


def test_the_lock_is_an_os_lock_another_filelock_sees(tmp_path):
    with prepare_run_dir(tmp_path):
        with pytest.raises(filelock.Timeout):
            filelock.FileLock(str(tmp_path / ".stlar-dl.lock"), timeout=0).acquire()


def test_a_locked_run_dir_is_not_archived_by_the_refused_trainer(tmp_path):
    run = tmp_path / "models"
    old_run(run)
    lock = filelock.FileLock(str(run / ".stlar-dl.lock"), timeout=0)
    lock.acquire()
    try:
        with pytest.raises(RunDirError):
            prepare_run_dir(run)
        assert (run / "best.pt").exists() and not (run / "archive").exists()
    finally:
        lock.release()


def test_out_dir_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(RunDirError, match=r"^--out-dir out: is a file, not a folder"):
        prepare_run_dir(tmp_path / "out", display="out")


def test_out_dir_that_cannot_be_created(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(RunDirError, match=r"^--out-dir blocker/out: cannot write there \(Not a directory\)"):
        prepare_run_dir(tmp_path / "blocker" / "out", display="blocker/out")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_parent(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(RunDirError, match="cannot write there"):
            prepare_run_dir(ro / "models")
    finally:
        ro.chmod(0o700)
