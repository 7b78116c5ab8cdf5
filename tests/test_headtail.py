"""Reading only a log's head and tail: the start record, the last records, each complete line once."""

from __future__ import annotations

import os

import pytest

from fake_run import write_run
from shared.logreader import read_log
from viewer.headtail import read_head_tail


def test_a_short_log_is_read_whole(tmp_path):
    log = tmp_path / "training_log.jsonl"
    records = write_run(log, 5)
    ends = read_head_tail(log)
    assert ends.whole
    assert ends.records == records


def test_a_long_log_gives_its_start_and_its_last_records(tmp_path):
    log = tmp_path / "training_log.jsonl"
    records = write_run(log, 3000)
    assert log.stat().st_size > 200_000
    ends = read_head_tail(log, head=4096, tail=8192)
    assert not ends.whole
    got = ends.records
    assert got[0] == records[0] and got[0]["type"] == "start"
    assert got[-1] == records[-1] and got[-1]["type"] == "end"
    assert got[-2]["epoch"] == 3000
    seqs = [r["seq"] for r in got]
    assert seqs == sorted(set(seqs))  # in file order, each once
    assert 10 < len(got) < 100  # the middle was not read
    assert ends.skipped == 0  # the lines cut at the window edges are not counted as malformed


def test_a_torn_last_line_is_not_yet_a_record(tmp_path):
    log = tmp_path / "training_log.jsonl"
    records = write_run(log, 3, end=None)
    with open(log, "ab") as fh:
        fh.write(b'{"type":"epoch","run_id":"x"')
    assert read_head_tail(log).records == records


def test_malformed_lines_are_counted_and_skipped(tmp_path):
    log = tmp_path / "training_log.jsonl"
    records = write_run(log, 3)
    with open(log, "ab") as fh:
        fh.write(b"not json\n\xff\xfe\n")
    ends = read_head_tail(log)
    assert ends.records == records
    assert ends.skipped == 2


def test_a_second_run_in_one_log_keeps_the_last_run_like_read_log(tmp_path):
    log = tmp_path / "training_log.jsonl"
    write_run(log, 3)
    second = write_run(log, 2)
    assert read_head_tail(log).records == second == read_log(log)[0]


def test_a_fifo_under_the_log_name_is_refused_not_waited_on(tmp_path):
    log = tmp_path / "training_log.jsonl"
    os.mkfifo(log)
    with pytest.raises(OSError):
        read_head_tail(log)


def test_a_missing_log_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        read_head_tail(tmp_path / "training_log.jsonl")
