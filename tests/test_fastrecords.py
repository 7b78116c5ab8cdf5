"""The reader's fast path: the common lines read exactly as the slow path reads them; anything else declines."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.fastrecords import fast_decode
from shared.records import RecordError, decode, encode

EPOCH = {"type": "epoch", "run_id": "r1", "seq": 3, "time": 1700000000.25, "epoch": 2, "epochs": 10,
         "train_loss": 0.41, "val_loss": None, "lr": 0.001, "seconds": 2.5, "best": True, "best_epoch": 2,
         "best_val_loss": 0.45, "metrics": {"val_accuracy": 0.9, "val_auroc": None}}
PROGRESS = {"type": "progress", "run_id": "r1", "seq": 4, "time": 1700000001.0, "epoch": 3, "batch": 5,
            "batches": 25, "train_loss": 0.4, "elapsed": 2.0, "phase": "train"}
VAL_PROGRESS = {**PROGRESS, "phase": "val", "val_batch": 2, "val_batches": 7}
BARE_PROGRESS = {k: v for k, v in PROGRESS.items() if k != "phase"}


def compact(record) -> bytes:
    """A line as our writer lays it out (no spaces), so the fast path is really tried."""
    return json.dumps(record, separators=(",", ":")).encode()


@pytest.mark.parametrize("record", [EPOCH, PROGRESS, VAL_PROGRESS, BARE_PROGRESS, {**EPOCH, "pid": 7, "host": "h"},
                                    {**EPOCH, "time": 17, "seconds": 3, "metrics": {}}])
def test_writer_lines_read_as_the_slow_path_reads_them(record):
    line = encode(record)
    got = fast_decode(line)
    assert got == decode(line) == record
    assert list(got) == list(record)  # same keys in the same order
    assert [type(v) for v in got.values()] == [type(v) for v in decode(line).values()]  # ints stay ints


@pytest.mark.parametrize("line", [
    encode({**EPOCH, "extra": 1}),  # extra field: the slow path keeps it
    encode({**EPOCH, "type": "start"}),
    encode({**EPOCH, "type": "something_new"}),
    encode({k: v for k, v in EPOCH.items() if k != "lr"}),  # missing field
    encode({**EPOCH, "epoch": True}),  # a bool is not an int
    encode({**EPOCH, "seq": -1}),
    encode({**EPOCH, "metrics": {"val_accuracy": "high"}}),
    encode({**PROGRESS, "batch": 1.5}),
    compact(EPOCH).replace(b'"train_loss":0.41', b'"train_loss":NaN'),
    compact(EPOCH).replace(b'"train_loss":0.41', b'"train_loss":1e400'),
    compact(EPOCH).replace(b'"train_loss":0.41', b'"train_loss":99999999999999999999999'),
    compact(EPOCH).replace(b'"epoch":2', b'"epoch":99999999999999999999999'),
    compact(EPOCH).replace(b'"r1"', b'"\\ud800"'),
    b'{"type":"epoch","run_id":"\xff"}',
    compact({"run_id": "r1", **EPOCH}),  # type not first: another writer's layout, the slow path reads it
    json.dumps(EPOCH).encode(),  # spaces after the separators: likewise
    b"[1, 2]",
    b"",
])
def test_anything_else_declines_to_the_slow_path(line):
    assert fast_decode(line) is None


NUMBERS = st.one_of(st.none(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
                    st.booleans(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(base=st.sampled_from([EPOCH, VAL_PROGRESS]), field=st.sampled_from(sorted(set(EPOCH) | set(VAL_PROGRESS))),
       value=NUMBERS)
def test_a_changed_field_reads_the_same_or_declines(base, field, value):
    line = compact({**base, field: value})
    got = fast_decode(line)
    if got is None:
        return
    assert got == decode(line)
    assert [type(v) for v in got.values()] == [type(v) for v in decode(line).values()]


def test_the_slow_path_still_refuses_what_the_fast_path_declines():
    with pytest.raises(RecordError):
        decode(encode({**EPOCH, "epoch": True}))
