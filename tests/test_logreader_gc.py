"""The reader pauses the cyclic garbage collector while it parses a large backlog, and restores it after."""

from __future__ import annotations

import gc

import pytest

from shared import logreader
from shared.logreader import GC_PAUSE_BYTES, LogReader
from shared.logwriter import LogWriter
from shared.records import EPOCH, START


def _write(path, epochs):
    with LogWriter(path, fsync=False) as w:
        w.write(START, schema=1, config={}, epochs=epochs)
        for e in range(1, epochs + 1):
            w.write(EPOCH, epoch=e, epochs=epochs, train_loss=0.5, val_loss=0.6, lr=1e-3, seconds=1.0, best=e == 1,
                    best_epoch=1, best_val_loss=0.6, metrics={"val_accuracy": 0.8, "val_auroc": 0.9})


@pytest.fixture
def collections():
    """Counts the collector's runs while the test body runs."""
    seen = []

    def callback(phase, info):
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(callback)
    yield seen
    gc.callbacks.remove(callback)


def test_a_large_backlog_is_read_without_collections_and_the_collector_is_back_on(tmp_path, collections,
                                                                                  monkeypatch):
    log = tmp_path / "training_log.jsonl"
    _write(log, 5000)
    assert log.stat().st_size >= GC_PAUSE_BYTES
    # Control: without the pause, 5000 records (~80,000 containers) trigger many collections.
    monkeypatch.setattr(logreader, "GC_PAUSE_BYTES", 1 << 62)
    assert len(LogReader(log).poll()) == 5001
    assert len(collections) > 10
    collections.clear()
    monkeypatch.undo()
    records = LogReader(log).poll()
    during = len(collections)
    assert len(records) == 5001
    assert during <= 1  # at most the young generation, when the collector resumes on the way out
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled(tmp_path):
    log = tmp_path / "training_log.jsonl"
    _write(log, 5000)
    gc.disable()
    try:
        assert len(LogReader(log).poll()) == 5001
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_small_appends_leave_the_collector_alone(tmp_path, monkeypatch):
    log = tmp_path / "training_log.jsonl"
    _write(log, 3)
    calls = []
    monkeypatch.setattr(gc, "disable", lambda: calls.append("disable"))
    assert len(LogReader(log).poll()) == 4
    assert calls == []
