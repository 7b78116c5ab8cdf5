"""viewer.follow on real files: file events wake the consumer, the fallback poll catches what they miss, and
the run dir may appear late, vanish, come back, or get a new run's log. No sleeps: waits have deadlines."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from watchdog.events import FileClosedNoWriteEvent, FileModifiedEvent, FileOpenedEvent

from fake_run import start_fields, write_run
from shared.logreader import NewRun
from shared.logwriter import LogWriter
from shared.rundir import RunDir
from viewer.follow import Follower, _Hint

NEVER = 3600.0  # a fallback that never comes within a test: only file events can wake the consumer
TIMEOUT = 10.0


def collect(follower, until, timeout=TIMEOUT):
    """Wait and drain until `until(items)` holds; fail after `timeout` seconds."""
    items = []
    deadline = time.monotonic() + timeout
    while not until(items):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {items!r}"
        if follower.wait(timeout=left):
            items += follower.drain()
    return items


def types(items):
    return [("new_run" if isinstance(i, NewRun) else i["type"]) for i in items]


def test_an_append_wakes_the_consumer_through_a_file_event(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.path.mkdir()
    with LogWriter(rd.log) as log, Follower(rd.path, fallback=NEVER) as follower:
        assert follower.watched_dir == rd.path.absolute()
        log.write("start", **start_fields(3))
        assert types(collect(follower, lambda items: len(items) >= 1)) == ["start"]
        assert follower.drain() == []  # each record once
        log.write("progress", epoch=1, batch=1, batches=2, train_loss=0.5, elapsed=0.1)
        assert types(collect(follower, lambda items: len(items) >= 1)) == ["progress"]


def test_poll_mode_sees_appends_to_a_real_file(tmp_path):
    rd = RunDir(tmp_path)
    with LogWriter(rd.log) as log, Follower(rd.path, poll=True, fallback=NEVER) as follower:
        log.write("start", **start_fields(3))
        assert types(collect(follower, lambda items: len(items) >= 1)) == ["start"]
        log.write("progress", epoch=1, batch=1, batches=2, train_loss=0.5, elapsed=0.1)
        assert types(collect(follower, lambda items: len(items) >= 1)) == ["progress"]


class SilentObserver:
    """An observer that never reports anything (a mount where file events do not arrive)."""

    def __init__(self, fail=False):
        self.fail = fail
        self.emitters = set()

    def start(self):
        pass

    def stop(self):
        pass

    def join(self):
        pass

    def schedule(self, handler, path, recursive=False, event_filter=None):
        if self.fail:
            raise OSError(28, "inotify watch limit reached")
        return object()

    def unschedule(self, watch):
        pass


@pytest.mark.parametrize("fail", [False, True])
def test_without_file_events_the_fallback_poll_still_delivers(tmp_path, fail):
    warnings = []
    rd = RunDir(tmp_path)
    with LogWriter(rd.log) as log, Follower(rd.path, fallback=0.1, on_warning=warnings.append,
                                            observer_factory=lambda: SilentObserver(fail)) as follower:
        follower.drain()
        log.write("start", **start_fields(3))
        t0 = time.monotonic()
        assert types(collect(follower, lambda items: len(items) >= 1)) == ["start"]
        assert time.monotonic() - t0 < 5
    assert len(warnings) == (1 if fail else 0)
    if fail:
        assert "no file events" in warnings[0] and "reading the log every 0.1 s" in warnings[0]


def test_attach_before_the_run_dir_exists(tmp_path):
    run_dir = tmp_path / "a" / "b" / "run"
    with Follower(run_dir, fallback=NEVER) as follower:
        assert follower.watched_dir == tmp_path.absolute()
        assert follower.drain() == []
        run_dir.mkdir(parents=True)  # three directories at once: the watch walks down, not missing the log
        write_run(RunDir(run_dir).log, 2)
        items = collect(follower, lambda items: "end" in types(items))
        assert types(items) == ["start", "epoch", "epoch", "end"]
        assert follower.watched_dir == run_dir.absolute()


def test_run_dir_deleted_and_recreated_with_a_new_run(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.path.mkdir()
    first = write_run(rd.log, 2)
    with Follower(rd.path, fallback=NEVER) as follower:
        assert types(collect(follower, lambda items: len(items) >= 4)) == ["start", "epoch", "epoch", "end"]
        shutil.rmtree(rd.path)
        collect(follower, lambda items: follower.watched_dir == tmp_path.absolute())
        rd.path.mkdir()
        second = write_run(rd.log, 1, end=None)
        items = collect(follower, lambda items: len(items) >= 3)
        assert types(items) == ["new_run", "start", "epoch"]
        assert items[0].run_id == second[0]["run_id"] != first[0]["run_id"]
        assert follower.watched_dir == rd.path.absolute()


def test_a_new_run_in_the_same_dir_archives_the_log_and_yields_new_run(tmp_path):
    rd = RunDir(tmp_path)
    write_run(rd.log, 2)
    with Follower(rd.path, fallback=NEVER) as follower:
        collect(follower, lambda items: len(items) >= 4)
        # The trainer moves the old log into archive/ and starts a new one.
        (rd.archive / "old").mkdir(parents=True)
        os.replace(rd.log, rd.archive / "old" / rd.log.name)
        write_run(rd.log, 1)
        items = collect(follower, lambda items: "end" in types(items))
        assert types(items) == ["new_run", "start", "epoch", "end"]
        # The new log is shorter than what was read of the old one; it is still another file, not a truncation.
        assert items[0].reason == "log replaced"


def test_the_handler_only_signals_and_ignores_our_own_reads():
    changed, woken = threading.Event(), []
    hint = _Hint(changed, lambda: woken.append(1))
    hint.dispatch(FileOpenedEvent("/x/training_log.jsonl"))
    hint.dispatch(FileClosedNoWriteEvent("/x/training_log.jsonl"))
    assert not changed.is_set() and not woken
    hint.dispatch(FileModifiedEvent("/x/training_log.jsonl"))
    assert changed.is_set() and woken == [1]


def test_an_append_calls_on_change_from_the_observer_thread(tmp_path):
    rd = RunDir(tmp_path)
    write_run(rd.log, 1)
    woken = threading.Event()
    with Follower(tmp_path, fallback=NEVER) as follower:
        follower.drain()
        follower.on_change = woken.set
        with open(rd.log, "ab") as fh:
            fh.write(b"\n")
        assert woken.wait(10), "no wake-up within 10 s of an append"


def test_wait_returns_false_at_its_timeout_and_close_joins_the_threads(tmp_path):
    before = set(threading.enumerate())
    follower = Follower(tmp_path, fallback=NEVER).start()
    follower.drain()
    assert set(threading.enumerate()) - before  # the observer runs
    follower.changed.clear()
    assert follower.wait(timeout=0.05) is False
    follower.close()
    follower.close()  # idempotent
    assert set(threading.enumerate()) - before == set()
