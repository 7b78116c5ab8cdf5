"""The log writer: one line per record, seq without gaps, fsync, a failed write leaves no torn line."""

import json
import os

import pytest

from shared.errors import LogWriteError
from shared.logwriter import LogWriter
from shared.records import END, EPOCH, PROGRESS, START, STOP_REQUESTED, decode

ALL_TYPES = [
    (START, {"schema": 1, "config": {"lr": 1e-3}, "epochs": 3, "n_train": 10}),
    (PROGRESS, {"epoch": 1, "batch": 2, "batches": 5, "train_loss": 0.5, "elapsed": 1.0}),
    (EPOCH, {"epoch": 1, "epochs": 3, "train_loss": 0.6, "val_loss": 0.7, "lr": 1e-3, "seconds": 2.0,
             "best": True, "best_epoch": 1, "best_val_loss": 0.7, "metrics": {"val_accuracy": 0.5}}),
    (STOP_REQUESTED, {"epoch": 2, "stop": {"by": "test", "requested_at": 5.0, "run_id": "x"}}),
    (END, {"reason": "stopped", "epochs_run": 2, "best_epoch": 1, "best_val_loss": 0.7, "message": "ok"}),
]


def test_round_trip_of_every_record_type(tmp_path):
    path = tmp_path / "log.jsonl"
    ticks = iter(range(100))
    with LogWriter(path, run_id="run1", clock=lambda: float(next(ticks))) as writer:
        written = [writer.write(rtype, **fields) for rtype, fields in ALL_TYPES]
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == len(ALL_TYPES)
    for i, (line, (rtype, fields)) in enumerate(zip(lines, ALL_TYPES)):
        rec = decode(line)
        assert rec == written[i]
        assert rec["type"] == rtype and rec["run_id"] == "run1" and rec["seq"] == i and rec["time"] == float(i)
        assert {k: rec[k] for k in fields} == fields


def test_seq_is_contiguous_and_nan_written_as_null(tmp_path):
    path = tmp_path / "log.jsonl"
    writer = LogWriter(path)
    for _ in range(50):
        rec = writer.write("progress", epoch=1, batch=1, batches=1, train_loss=float("nan"), elapsed=0.0)
    assert rec["train_loss"] is None
    writer.close()

    def reject(token):
        raise AssertionError(token)

    seqs = [json.loads(line, parse_constant=reject)["seq"] for line in path.read_text().splitlines()]
    assert seqs == list(range(50))


def test_failed_write_cuts_back_the_torn_tail(tmp_path, monkeypatch):
    path = tmp_path / "log.jsonl"
    writer = LogWriter(path, fsync=False)
    writer.write("progress", epoch=1, batch=1, batches=1, train_loss=0.1, elapsed=0.0)
    size = path.stat().st_size
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[:10]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(LogWriteError, match="No space left on device"):
        writer.write("progress", epoch=1, batch=2, batches=2, train_loss=0.1, elapsed=0.0)
    monkeypatch.setattr(os, "write", real_write)
    assert path.stat().st_size == size
    rec = writer.write("progress", epoch=1, batch=2, batches=2, train_loss=0.1, elapsed=0.0)
    assert rec["seq"] == 1, "a failed record does not take a seq"
    writer.close()
    assert [decode(line)["seq"] for line in path.read_bytes().splitlines()] == [0, 1]


def test_unwritable_log_is_a_typed_error(tmp_path):
    with pytest.raises(LogWriteError, match="cannot open the training log"):
        LogWriter(tmp_path / "missing-dir" / "log.jsonl")


def test_writes_are_fsynced(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    with LogWriter(tmp_path / "log.jsonl") as writer:
        writer.write("x")
        writer.write("y")
    assert len(calls) == 2


# The log deleted, replaced or truncated mid-run: the writer starts it again and loses no later record.

def progress(writer, batch):
    return writer.write(PROGRESS, epoch=1, batch=batch, batches=99, train_loss=0.5, elapsed=1.0)


def open_run(path):
    from shared.logreader import LogReader

    said = []
    writer = LogWriter(path, run_id="r", fsync=False)
    writer.on_restart = said.append
    writer.write(START, schema=1, config={}, epochs=3)
    reader = LogReader(path)
    progress(writer, 1)
    assert [r["seq"] for r in reader.poll()] == [0, 1]
    return writer, reader, said


def rotate_by_rename(path):
    os.replace(path, path.with_name("log.jsonl.1"))


def rotate_by_create(path):
    os.replace(path, path.with_name("log.jsonl.1"))
    path.write_bytes(b"")  # logrotate's `create`: a new empty file under the name


def copy_truncate(path):
    path.with_name("log.jsonl.1").write_bytes(path.read_bytes())
    os.truncate(path, 0)


@pytest.mark.parametrize("rotate, why", [
    (os.unlink, "was deleted"), (rotate_by_rename, "was deleted"),
    (rotate_by_create, "was replaced by another file"), (copy_truncate, "was truncated"),
])
def test_a_log_taken_away_mid_run_is_started_again(tmp_path, rotate, why):
    path = tmp_path / "log.jsonl"
    writer, reader, said = open_run(path)
    rotate(path)
    progress(writer, 2)
    progress(writer, 3)
    records = [decode(line) for line in path.read_bytes().splitlines()]
    assert [(r["type"], r["seq"]) for r in records] == [(START, 0), (PROGRESS, 2), (PROGRESS, 3)]
    assert records[0]["restarted"]["reason"] == f"the log {why}" and records[0]["restarted"]["seq"] == 2
    assert records[0]["run_id"] == "r" and records[0]["epochs"] == 3
    assert len(said) == 1 and said[0].startswith(f"{path} {why} while the run was writing it")
    # A viewer that was following sees each record once, and nothing odd.
    assert [r["seq"] for r in reader.poll()] == [2, 3] and reader.warnings == []
    writer.close()


def test_a_log_deleted_during_a_write_gets_that_record_again(tmp_path, monkeypatch):
    path = tmp_path / "log.jsonl"
    writer, _reader, said = open_run(path)
    real_write = os.write
    deletes = []

    def write_then_delete(fd, data):
        n = real_write(fd, data)
        if not deletes:
            deletes.append(path.unlink())  # once, between our write and our look at the name
        return n

    monkeypatch.setattr(os, "write", write_then_delete)
    progress(writer, 2)
    monkeypatch.setattr(os, "write", real_write)
    assert [decode(line)["seq"] for line in path.read_bytes().splitlines()] == [0, 2] and len(said) == 1
    writer.close()


def test_a_resumed_writer_restarts_its_log_with_the_runs_start_record(tmp_path):
    path = tmp_path / "log.jsonl"
    with LogWriter(path, run_id="r", fsync=False) as first:
        start = first.write(START, schema=1, config={}, epochs=3)
        progress(first, 1)
    resumed = LogWriter(path, run_id="r", fsync=False, seq=2)  # what --resume opens
    resumed.start = start
    path.unlink()
    progress(resumed, 2)
    records = [decode(line) for line in path.read_bytes().splitlines()]
    assert [(r["type"], r["seq"]) for r in records] == [(START, 0), (PROGRESS, 2)]
    assert records[0]["restarted"]["seq"] == 2 and records[0]["run_id"] == "r"
    resumed.close()
