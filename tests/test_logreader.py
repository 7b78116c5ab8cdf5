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


# seq never gates normal reading; it only de-duplicates a re-read (issue: a jump made every later record vanish)

def epochs_log(seqs_in_order):
    return b"".join(line("a", s, "start") if i == 0 else line("a", s) for i, s in enumerate(seqs_in_order))


@pytest.mark.parametrize("order, odd_line, words", [
    ([0, 1, 2, 999, 3, 4, 5], 4, "seq 999 after 2"),  # a lone jump: only its own line is odd
    ([0, 1, 2, 3, 2, 4, 5], 5, "duplicate seq 2"),  # a duplicate
    ([0, 1, 2, 3, 1, 4, 5], 5, "duplicate seq 1"),  # a step back
])
def test_an_odd_seq_is_read_with_one_warning_naming_its_line(tmp_path, order, odd_line, words):
    path = tmp_path / "log.jsonl"
    append(path, epochs_log(order))
    messages = []
    assert seqs(LogReader(path, on_warning=messages.append).poll()) == order
    assert len(messages) == 1 and messages[0].startswith(f"log.jsonl line {odd_line}: {words}"), messages
    assert read_log(path)[0] == [json.loads(raw) for raw in epochs_log(order).splitlines()]


def test_a_jump_that_the_writer_keeps_is_one_warning(tmp_path):
    path = tmp_path / "log.jsonl"
    order = [0, 1, 2, 8, 999, 1000, 1001]
    reader = LogReader(path)
    for s in order:  # appended one at a time, as a live trainer does
        append(path, line("a", s) if s else line("a", 0, "start"))
        assert seqs(reader.poll()) == [s]
    assert [w.split(": ", 1)[1].split(" (")[0] for w in reader.warnings] == ["seq 8 after 2", "seq 999 after 8"]
    assert reader.skipped_lines == 0, "an odd seq is read, not skipped"


def test_thirty_epochs_with_one_bad_seq_replay_thirty(tmp_path):
    path = tmp_path / "log.jsonl"
    order = [0] + list(range(1, 8)) + [999] + list(range(8, 30))
    append(path, epochs_log(order))
    records, warnings = read_log(path)
    assert len(records) == 31 and len(warnings) == 1


def test_reread_skips_exactly_what_was_yielded_never_more(tmp_path):
    path = tmp_path / "log.jsonl"
    old = epochs_log([0, 1, 2, 999, 3, 3])  # a jump and a duplicate, all yielded
    append(path, old)
    reader = LogReader(path)
    assert seqs(reader.poll()) == [0, 1, 2, 999, 3, 3]
    tmp = tmp_path / "copy.jsonl"
    # The same run copied back with more records: 3 once more than yielded, then 4 and 5 (all below 999).
    tmp.write_bytes(old + epochs_log([9, 3, 4, 5])[len(line("a", 9, "start")):])
    os.replace(tmp, path)
    assert seqs(reader.poll()) == [3, 4, 5]
    append(path, line("a", 4))  # after the re-read, a duplicate appended is read again, with a warning
    assert seqs(reader.poll()) == [4] and "duplicate seq 4" in reader.warnings[-1]


def test_a_second_start_of_the_same_run_is_a_new_run(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start") + line("a", 1) + line("a", 0, "start", epochs=9) + line("a", 1))
    messages = []
    items = LogReader(path, on_warning=messages.append).poll()
    assert isinstance(items[2], NewRun) and items[2].run_id == "a" and "line 3" in items[2].reason
    assert messages == ["log.jsonl line 3: a second start record of run a: read as a new run"]
    records, _ = read_log(path)
    assert [r["seq"] for r in records] == [0, 1] and records[0]["epochs"] == 9


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, logreader.BOM + line("a", 0, "start") + line("a", 1))
    records, warnings = read_log(path)
    assert seqs(records) == [0, 1] and warnings == []


def test_finished_file_last_record_without_newline(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start") + line("a", 1)[:-1])
    assert seqs(LogReader(path).poll()) == [0], "a live reader waits for the newline"
    assert seqs(LogReader(path).poll(final=True)) == [0, 1]
    assert seqs(read_log(path, final=True)[0]) == [0, 1]
    torn = tmp_path / "torn.jsonl"
    append(torn, line("a", 0, "start") + b'{"type": "epo')  # a crashed writer's torn tail: a warning, no raise
    records, warnings = read_log(torn, final=True)
    assert seqs(records) == [0] and len(warnings) == 1
    assert warnings[0].startswith("torn.jsonl line 2: skipped (the last line, without a newline")


def restarted_start(run_id, next_seq):
    # As the trainer writes it: `restarted` right after `type`, so the file's first bytes differ from the
    # original log's and a reader sees the file change even when it grew back past its offset.
    copy = {"type": "start", "restarted": {"reason": "log deleted", "seq": next_seq}}
    copy.update(rec(run_id, 0, "start"))
    return encode(copy)


def test_a_restarted_log_is_followed_without_repeats(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, epochs_log([0, 1, 2, 3]))
    reader = LogReader(path)
    assert seqs(reader.poll()) == [0, 1, 2, 3]
    path.unlink()  # deleted mid-run: the trainer starts the log again with a copy of its start record
    append(path, restarted_start("a", 4) + line("a", 4) + line("a", 5))
    assert seqs(reader.poll()) == [4, 5] and reader.warnings == []
    fresh = LogReader(path)  # a viewer attaching now sees the start copy and then the later records
    assert seqs(fresh.poll()) == [0, 4, 5] and fresh.warnings == []


def test_a_restarted_log_that_grew_back_past_the_offset(tmp_path):
    path = tmp_path / "log.jsonl"
    append(path, line("a", 0, "start") + line("a", 1))
    reader = LogReader(path)
    assert seqs(reader.poll()) == [0, 1]
    with open(path, "r+b") as fh:  # copy-truncate, and the trainer wrote more than before in between
        fh.truncate(0)
        fh.write(restarted_start("a", 2) + line("a", 2) + line("a", 3) + line("a", 4))
    got = seqs(reader.poll())
    assert got[-3:] == [2, 3, 4] and got.count(0) == 0


def test_latest_progress_keeps_only_the_last_of_consecutive_progress_records(tmp_path):
    path = tmp_path / "log.jsonl"
    epoch = dict(epoch=1, epochs=3, train_loss=0.5, val_loss=0.5, lr=0.001, seconds=1.0, best=True,
                 best_epoch=1, best_val_loss=0.5, metrics={})
    append(path, line("a", 0, "start") + line("a", 1) + line("a", 2) + line("a", 3, "epoch", **epoch)
           + line("a", 4) + line("a", 5))
    reader = LogReader(path, latest_progress=True)
    assert seqs(reader.poll()) == [0, 2, 3, 5]
    append(path, line("a", 6) + line("a", 7))
    assert seqs(reader.poll()) == [7]  # each poll yields the latest progress it read
    assert seqs(read_log(path)[0]) == list(range(8))  # by default every record
    assert seqs(read_log(path, latest_progress=True)[0]) == [0, 2, 3, 7]
