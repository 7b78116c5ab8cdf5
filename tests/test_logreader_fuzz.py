"""Fuzzing the log reader: valid records delivered in random byte chunks, with garbage lines, torn writes,
records whose seq is out of order or repeated, truncations, replacements and copies of the same run mixed in.
The reader must yield exactly the valid complete records of the current run, in order, once, and never
raise."""

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.logreader import LogReader, NewRun
from shared.records import encode

EXAMPLES = int(os.environ.get("STLAR_FUZZ_EXAMPLES", "150"))

op = st.one_of(
    st.tuples(st.just("record"), st.lists(st.integers(1, 400), max_size=3)),
    st.tuples(st.just("garbage"), st.binary(max_size=80).filter(lambda b: b"\n" not in b)),
    st.tuples(st.just("truncate"), st.lists(st.integers(1, 400), max_size=3)),
    st.tuples(st.just("replace"), st.lists(st.integers(1, 400), max_size=3)),
    st.tuples(st.just("poll"), st.just([])),
    st.tuples(st.just("odd"), st.integers(1, 12)),  # a record with any seq: read like any other
    st.tuples(st.just("copy"), st.just([])),  # the same run copied to a new file: nothing read twice
)


class Consumer:
    """What a viewer does with the reader's output: reset on NewRun, keep records."""

    def __init__(self, path):
        self.reader = LogReader(path)
        self.records = []

    def poll(self):
        for item in self.reader.poll():
            if isinstance(item, NewRun):
                self.records = []
            else:
                self.records.append(item)


def record(run_id, seq, rtype=None):
    rtype = rtype or ("start" if seq == 0 else "progress")
    rec = {"type": rtype, "run_id": run_id, "seq": seq, "time": float(seq)}
    if rtype == "start":
        rec.update(schema=1, config={"note": "x" * (seq % 7)}, epochs=9)
    else:
        rec.update(epoch=1, batch=seq, batches=99, train_loss=seq / 10, elapsed=0.5)
    return encode(rec)


def write_in_chunks(path, data, cuts, consumer):
    """Append `data` in pieces split at `cuts`, polling between pieces (torn writes seen by the reader)."""
    points = sorted({c % len(data) for c in cuts} - {0})
    start = 0
    for point in points + [len(data)]:
        with open(path, "ab") as fh:
            fh.write(data[start:point])
        start = point
        if point != len(data):
            consumer.poll()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, max_size=40))
def test_reader_yields_exactly_the_current_runs_valid_records(ops):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "training_log.jsonl"
        consumer = Consumer(path)
        run, seq, expected = 0, 0, []

        def new_run():
            nonlocal run, seq, expected
            run, seq, expected = run + 1, 0, []

        def append_record(cuts):
            nonlocal seq
            data = record(f"run{run:04d}", seq)
            expected.append(data)
            seq += 1
            write_in_chunks(path, data, cuts, consumer)

        for kind, arg in ops:
            if kind == "record":
                append_record(arg)
            elif kind == "garbage":
                write_in_chunks(path, bytes(arg) + b"\n", [], consumer)
            elif kind == "truncate":
                with open(path, "wb"):
                    pass
                new_run()
                append_record(arg)
            elif kind == "replace":
                other = Path(tmp) / "new.jsonl"
                other.write_bytes(b"")
                os.replace(other, path)
                new_run()
                append_record(arg)
            elif kind == "odd" and seq == 0:  # a run begins with its start record
                append_record([])
            elif kind == "odd":
                data = record(f"run{run:04d}", arg, "progress")
                expected.append(data)
                write_in_chunks(path, data, [], consumer)
            elif kind == "copy":
                other = Path(tmp) / "copy.jsonl"
                other.write_bytes(path.read_bytes() if path.exists() else b"")
                os.replace(other, path)
            else:
                consumer.poll()
        consumer.poll()
        got = [encode(r) for r in consumer.records]
        assert got == expected
