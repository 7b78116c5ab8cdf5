"""The ends of a log: what `stop` and a status need, read from the head and the tail only, equal to a full read."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shared.logends as logends
from shared.history import history_of
from shared.logends import read_ends
from shared.logreader import read_log
from shared.records import encode

METRICS = {"val_accuracy": 0.9, "val_auroc": 0.95}


class Log:
    """Writes the records `stlar-dl train-dl` writes, by hand, so a test can add garbage and torn lines."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.run_id = ""
        self.seq = 0
        self.time = 1000.0
        self.epoch = 0

    def record(self, rtype: str, **fields) -> None:
        self.time += 1.0
        self.lines.append(encode({"type": rtype, "run_id": self.run_id, "seq": self.seq, "time": self.time,
                                  **fields}))
        self.seq += 1

    def start(self, run_id: str, epochs: int = 10) -> None:
        self.run_id, self.seq, self.epoch = run_id, 0, 0
        self.record("start", schema=1, config={"epochs": epochs}, epochs=epochs, host="h", pid=1)

    def epoch_record(self, val: float | None = 0.5) -> None:
        self.epoch += 1
        self.record("epoch", epoch=self.epoch, epochs=10, train_loss=0.4, val_loss=val, lr=0.001,
                    seconds=1.0 + self.epoch / 10, best=False, best_epoch=1, best_val_loss=0.5, metrics=METRICS)

    def progress(self, batch: int = 1) -> None:
        self.record("progress", epoch=self.epoch + 1, batch=batch, batches=9, train_loss=0.3, elapsed=2.0)

    def write(self, path, tail: bytes = b"", bom: bool = False) -> None:
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"".join(self.lines) + tail)


def plain(values):
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


def assert_status_equal(path):
    """read_ends' history matches a full read in every field a status uses."""
    data = path.read_bytes()
    reference = path.with_name("reference.jsonl")  # the full read of the same log without its BOM
    reference.write_bytes(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
    full = history_of(read_log(reference)[0])
    tail = read_ends(path).history()
    assert tail.run_id == full.run_id
    assert tail.start == full.start
    assert tail.last_epoch == full.last_epoch
    assert tail.progress == full.progress
    assert tail.stop_request == full.stop_request
    assert tail.end == full.end
    assert tail.last_time == full.last_time
    assert (tail.planned_epochs, tail.best_epoch, tail.best_val_loss) == (
        full.planned_epochs, full.best_epoch, full.best_val_loss)
    k = min(logends.TAIL_EPOCHS, full.n_epochs)
    for name in ("epochs", "train_loss", "val_loss", "lr", "seconds"):
        assert plain(getattr(tail, name)[-k:] if k else []) == plain(getattr(full, name)[-k:] if k else []), name
    return tail


@pytest.fixture
def small_chunks(monkeypatch):
    # Tiny chunks make every line straddle chunk boundaries, as a long log's do at 64 KB.
    monkeypatch.setattr(logends, "CHUNK", 37)
    monkeypatch.setattr(logends, "MAX_CHUNK", 150)


def test_week_long_log_is_read_from_its_ends_only(tmp_path):
    log = Log()
    log.start("a", epochs=100)
    for _ in range(50):
        for batch in range(200):
            log.progress(batch)
        log.epoch_record()
    log.progress(7)
    path = tmp_path / "log.jsonl"
    log.write(path)
    ends = read_ends(path)
    assert ends.start["type"] == "start" and [r["type"] for r in ends.tail] == ["epoch"] * 3 + ["progress"]
    assert ends.bytes_read < 200_000 < path.stat().st_size / 5
    tail = assert_status_equal(path)
    assert tail.progress["batch"] == 7 and tail.epochs == [48, 49, 50]


def test_progress_before_the_last_epoch_is_not_the_current_one(tmp_path):
    log = Log()
    log.start("a")
    log.progress(3)
    log.epoch_record()
    path = tmp_path / "log.jsonl"
    log.write(path)
    assert assert_status_equal(path).progress is None


def test_run_without_epochs_reads_to_the_head(tmp_path, small_chunks):
    log = Log()
    log.start("a")
    for batch in range(300):
        log.progress(batch)
    path = tmp_path / "log.jsonl"
    log.write(path)
    tail = assert_status_equal(path)
    assert tail.start["run_id"] == "a" and tail.progress["batch"] == 299 and tail.n_epochs == 0


def test_the_last_run_of_several_counts(tmp_path, small_chunks):
    log = Log()
    log.start("a")
    for _ in range(5):
        log.epoch_record()
    log.record("end", reason="completed", epochs_run=5, best_epoch=1, best_val_loss=0.5, message="")
    log.start("b")
    log.epoch_record(0.25)
    path = tmp_path / "log.jsonl"
    log.write(path)
    tail = assert_status_equal(path)
    assert tail.run_id == "b" and tail.end is None and tail.epochs == [1]


def test_torn_last_line_is_left_out_unless_asked(tmp_path, small_chunks):
    log = Log()
    log.start("a")
    log.epoch_record()
    log.progress(4)
    torn = log.lines.pop()
    path = tmp_path / "log.jsonl"
    log.write(path, tail=torn[:-1])
    assert read_ends(path).history().progress is None
    assert read_ends(path, final_line=True).history().progress["batch"] == 4
    log.write(path, tail=torn[:25])  # cut mid-record: never a record
    assert read_ends(path, final_line=True).history().progress is None
    assert_status_equal(path)


def test_bom_garbage_and_an_overlong_line(tmp_path, small_chunks, monkeypatch):
    monkeypatch.setattr(logends, "MAX_LINE_BYTES", 300)
    log = Log()
    log.lines.append(b"not json\n")
    log.start("a")
    log.epoch_record()
    log.lines.append(b"[" + b"1," * 400 + b"1]\n")  # over MAX_LINE_BYTES here: skipped, never held whole
    log.progress(2)
    log.lines.append(b"{\"type\": \"epoch\"}\n")
    path = tmp_path / "log.jsonl"
    log.write(path, bom=True)
    ends = read_ends(path)
    assert ends.start["run_id"] == "a" and ends.skipped == 3
    assert ends.history().progress["batch"] == 2 and ends.history().epochs == [1]


def test_a_log_without_a_start_is_the_run_of_its_first_record(tmp_path, small_chunks):
    log = Log()
    log.run_id = "x"
    log.epoch_record()
    log.epoch_record()
    path = tmp_path / "log.jsonl"
    log.write(path, bom=True)
    tail = assert_status_equal(path)
    assert tail.start is None and tail.epochs == [1, 2]


def test_a_restarted_start_continues_the_run(tmp_path, small_chunks):
    log = Log()
    log.start("a")
    log.epoch_record()
    log.record("start", schema=1, config={"epochs": 10}, epochs=10, host="h", pid=1, restarted={"seq": 2})
    log.epoch_record()
    path = tmp_path / "log.jsonl"
    log.write(path)
    tail = assert_status_equal(path)
    assert tail.start["restarted"] == {"seq": 2} and tail.epochs == [1, 2]


def test_empty_and_garbage_logs(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"")
    assert read_ends(path).start is None and read_ends(path).tail == []
    path.write_bytes(b"\x00\xff garbage\n{\n")
    ends = read_ends(path)
    assert ends.tail == [] and ends.skipped == 2


EVENTS = st.lists(st.sampled_from(["progress", "epoch", "epoch", "garbage", "stop", "end", "start", "blank",
                                   "null_val"]), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS, torn=st.booleans(), bom=st.booleans(), first_start=st.booleans())
def test_any_log_reads_the_same_as_a_full_read(tmp_path, small_chunks, events, torn, bom, first_start):
    log = Log()
    runs = iter("bcdefghijklmnopqrstuvwxyz" * 3)
    if first_start:
        log.start("a")
    else:
        log.run_id = "a"
    ended = False
    for event in events:
        if ended and event not in ("garbage", "blank", "start"):
            log.start(next(runs))  # a run ends once: what follows its end record is a new run
            ended = False
        if event == "progress":
            log.progress()
        elif event in ("epoch", "null_val"):
            log.epoch_record(None if event == "null_val" else 0.5)
        elif event == "garbage":
            log.lines.append(b'{"type":"progress", broken\n')
        elif event == "blank":
            log.lines.append(b"\n")
        elif event == "stop":  # the trainer finishes the epoch it saw the stop in, then ends
            log.record("stop_requested", epoch=log.epoch + 1, stop={"by": "t"})
            log.epoch_record()
            log.record("end", reason="stopped", epochs_run=log.epoch, best_epoch=None, best_val_loss=None,
                       message="")
            ended = True
        elif event == "end":
            log.record("end", reason="failed", epochs_run=log.epoch, best_epoch=None, best_val_loss=None,
                       message="")
            ended = True
        elif event == "start":
            log.start(next(runs))
            ended = False
    path = tmp_path / "log.jsonl"
    log.write(path, tail=b'{"type":"progress","run' if torn else b"", bom=bom)
    assert_status_equal(path)
