"""The incremental log reader: torn lines, truncation, replacement, garbage, exactly-once delivery."""

import io
import json
import os

import pytest

import shared.logreader as logreader
from shared.logreader import LogReader, NewRun, read_log
from shared.logwriter import LogWriter
from shared.records import encode


def rec(run_id, seq, rtype="progress", **fields):
    base = {"type": rtype, "run_id": run_id, "seq": seq, "time": float(seq)}
    if rtype == "progress":
        base.update(epoch=1, batch=seq, batches=100, train_loss=0.5, elapsed=1.0)
    if rtype == "start":
        base.update(schema=1, config={}, epochs=3)
    base.update(fields)
    return base


def line(run_id, seq, rtype="progress", **fields):
    return encode(rec(run_id, seq, rtype, **fields))


def append(path, data: bytes):
    with open(path, "ab") as fh:
        fh.write(data)


def seqs(items):
    return [i["seq"] if isinstance(i, dict) else i for i in items]


def test_missing_file_is_not_yet(tmp_path):
    reader = LogReader(tmp_path / "log.jsonl")
    assert reader.poll() == [] and not reader.exists and reader.warnings == []


def test_torn_line_is_held_back_until_its_newline(tmp_path):
    path = tmp_path / "log.jsonl"
    reader = LogReader(path)
    full = line("a", 0, "start")
    append(path, full[:-1])
    assert reader.poll() == []
    assert reader.poll() == []
    assert reader.warnings == [], "a torn line is 'not yet', never an error"
    append(path, b"\n")
    assert seqs(reader.poll()) == [0]
    assert reader.poll() == []


def test_line_split_in_many_chunks(tmp_path):
    path = tmp_path / "log.jsonl"
    reader = LogReader(path)
    data = line("a", 0, "start") + line("a", 1) + line("a", 2)
    got = []
    for i in range(0, len(data), 7):
        append(path, data[i : i + 7])
        got += reader.poll()
    assert seqs(got) == [0, 1, 2]


def test_reads_only_new_bytes(tmp_path, monkeypatch):
    path = tmp_path / "log.jsonl"
    append(path, b"".join(line("a", i, "start" if i == 0 else "progress") for i in range(1000)))
    reader = LogReader(path)
    assert len(reader.poll()) == 1000
    read_sizes = []
    real_open = open

    class Counting(io.BufferedReader):
        def read(self, n=-1):
            data = super().read(n)
            read_sizes.append(len(data))
            return data

    monkeypatch.setattr(logreader, "open", lambda p, mode: Counting(real_open(p, mode, buffering=0)), raising=False)
    new = line("a", 1000)
    append(path, new)
    assert seqs(reader.poll()) == [1000]
    assert sum(read_sizes) <= len(new) + logreader.HEAD_BYTES


def test_truncation_restarts_and_new_run_is_marked(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start") + line("a", 1) + line("a", 2))
    reader = LogReader(path)
    assert seqs(reader.poll()) == [0, 1, 2]
    with open(path, "wb") as fh:  # truncate, then a new run writes
        fh.write(line("b", 0, "start"))
    items = reader.poll()
    assert isinstance(items[0], NewRun) and items[0].run_id == "b" and items[0].reason == "log truncated"
    assert seqs(items[1:]) == [0] and items[1]["run_id"] == "b"


def test_replacement_by_rename_is_a_new_run(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start") + line("a", 1))
    reader = LogReader(path)
    assert seqs(reader.poll()) == [0, 1]
    (tmp_path / "archive").mkdir()
    os.replace(path, tmp_path / "archive" / "old.jsonl")  # what the trainer does before a new run
    assert reader.poll() == []
    # A longer new log: size alone would not reveal the replacement.
    append(path, line("b", 0, "start") + line("b", 1) + line("b", 2) + line("b", 3))
    items = reader.poll()
    assert isinstance(items[0], NewRun) and items[0].reason == "log replaced"
    assert [(i["run_id"], i["seq"]) for i in items[1:]] == [("b", 0), ("b", 1), ("b", 2), ("b", 3)]


def test_same_inode_rewritten_with_other_content_is_detected(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("aaaa", 0, "start") + line("aaaa", 1))
    reader = LogReader(path)
    reader.poll()
    with open(path, "r+b") as fh:  # same inode, same size or longer, different first bytes
        fh.write(line("bbbb", 0, "start") + line("bbbb", 1) + line("bbbb", 2))
    items = reader.poll()
    assert isinstance(items[0], NewRun) and items[0].run_id == "bbbb"
    assert seqs(items[1:]) == [0, 1, 2]


def test_new_run_id_in_the_same_file(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start") + line("a", 1) + line("b", 0, "start") + line("b", 1))
    items = LogReader(path).poll()
    assert [type(i).__name__ if isinstance(i, NewRun) else (i["run_id"], i["seq"]) for i in items] == [
        ("a", 0), ("a", 1), "NewRun", ("b", 0), ("b", 1)]
    records, warnings = read_log(path)
    assert [(r["run_id"], r["seq"]) for r in records] == [("b", 0), ("b", 1)] and warnings == []


def test_reread_of_same_run_yields_nothing_twice(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start") + line("a", 1))
    reader = LogReader(path)
    assert seqs(reader.poll()) == [0, 1]
    tmp = tmp_path / "copy.jsonl"
    tmp.write_bytes(path.read_bytes() + line("a", 2))
    os.replace(tmp, path)  # a copy of the same run, with one more record
    assert seqs(reader.poll()) == [2]


def test_garbage_overlong_and_unknown_lines(tmp_path):
    path = tmp_path / "log.jsonl"
    good = [line("a", 0, "start"), line("a", 1), line("a", 2), line("a", 3)]
    unknown = encode({"type": "gpu_stats", "run_id": "a", "seq": 3, "time": 1.0, "temp": 70})
    good[3] = line("a", 4)
    data = (good[0] + b"{not json\n" + good[1] + b'{"type": "epoch", "run_id": "a", "seq": "x"}\n'
            + b"x" * (logreader.MAX_LINE_BYTES + 10) + b"\n" + good[2] + b"\xff\xfe\n" + unknown + good[3])
    messages = []
    reader = LogReader(path, on_warning=messages.append)
    append(path, data)
    items = reader.poll()
    assert [(i["type"], i["seq"]) for i in items] == [
        ("start", 0), ("progress", 1), ("progress", 2), ("gpu_stats", 3), ("progress", 4)]
    assert [m.split(":")[0] for m in messages] == [
        "log.jsonl line 2", "log.jsonl line 4", "log.jsonl line 5", "log.jsonl line 7"]
    assert "longer than" in messages[2] and "not UTF-8" in messages[3]
    assert reader.warnings == messages


def test_overlong_line_arriving_in_pieces_is_skipped_without_buffering_it(tmp_path):
    path = tmp_path / "log.jsonl"
    reader = LogReader(path, max_line_bytes=1000)
    append(path, line("a", 0, "start"))
    assert seqs(reader.poll()) == [0]
    for _ in range(50):
        append(path, b"y" * 400)
        assert reader.poll() == []
        assert len(reader._pending) <= 1000, "the reader must not hold an overlong line in memory"
    append(path, b"\n" + line("a", 1))
    assert seqs(reader.poll()) == [1]
    assert reader.warnings == ["log.jsonl line 2: skipped (longer than 1000 bytes)"]


def test_torn_tail_cut_back_by_the_writer(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start"))
    reader = LogReader(path)
    assert seqs(reader.poll()) == [0]
    size = path.stat().st_size
    append(path, line("a", 1)[:15])  # disk full mid-write ...
    assert reader.poll() == []
    os.truncate(path, size)  # ... the writer cuts the torn tail back ...
    assert reader.poll() == []
    append(path, line("a", 1))  # ... and the next write succeeds
    assert seqs(reader.poll()) == [1] and reader.warnings == []


def test_records_of_another_run_without_start_are_skipped(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start") + line("zzz", 5) + line("a", 1))
    messages = []
    assert seqs(LogReader(path, on_warning=messages.append).poll()) == [0, 1]
    assert "record of run zzz without its start record" in messages[0]


def test_strict_json_and_writer_reader_agree(tmp_path):
    path = tmp_path / "log.jsonl"
    with LogWriter(path, run_id="r") as w:
        w.write("start", schema=1, config={}, epochs=2)
        w.write("epoch", epoch=1, epochs=2, train_loss=float("nan"), val_loss=float("inf"), lr=1e-3, seconds=1.0,
                best=False, best_epoch=None, best_val_loss=None, metrics={"val_auroc": float("nan")})

    def reject(token):
        raise ValueError(token)

    for raw in path.read_text(encoding="utf-8").splitlines():
        json.loads(raw, parse_constant=reject)
    records, warnings = read_log(path)
    assert records[1]["train_loss"] is None and records[1]["val_loss"] is None and warnings == []


@pytest.mark.parametrize("n", [0, 1, 3])
def test_warnings_are_capped(tmp_path, n):
    path = tmp_path / "log.jsonl"
    append(path, b"garbage\n" * (logreader.MAX_WARNINGS + n))
    reader = LogReader(path)
    reader.poll()
    assert reader.skipped_lines == logreader.MAX_WARNINGS + n
    assert len(reader.warnings) == logreader.MAX_WARNINGS
    assert "further malformed lines" in reader.warnings[-1]
