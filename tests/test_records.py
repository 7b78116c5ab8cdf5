"""The record schema: validation, strict-JSON encoding, decoding."""

import json
import math

import pytest

from shared.records import EPOCH, RecordError, decode, encode, validate


def epoch_record(**over):
    rec = {
        "type": EPOCH, "run_id": "r1", "seq": 1, "time": 1.5, "epoch": 1, "epochs": 3, "train_loss": 0.6,
        "val_loss": 0.7, "lr": 1e-3, "seconds": 2.0, "best": True, "best_epoch": 1, "best_val_loss": 0.7,
        "metrics": {"val_accuracy": 0.5},
    }
    rec.update(over)
    return rec


def test_encode_is_one_strict_json_line_with_nulls_for_non_finite():
    line = encode(epoch_record(train_loss=math.nan, val_loss=math.inf, metrics={"val_auroc": -math.inf}))
    assert line.endswith(b"\n") and line.count(b"\n") == 1

    def reject(token):
        raise AssertionError(f"non-strict token {token}")

    obj = json.loads(line, parse_constant=reject)
    assert obj["train_loss"] is None and obj["val_loss"] is None and obj["metrics"]["val_auroc"] is None


def test_encode_keeps_unicode_and_numpy_scalars():
    np = pytest.importorskip("numpy")
    line = encode(epoch_record(train_loss=np.float32(0.25), metrics={"n": np.int64(3)}, note="Δ ✓"))
    obj = json.loads(line)
    assert obj["train_loss"] == 0.25 and obj["metrics"]["n"] == 3 and obj["note"] == "Δ ✓"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seq": "1"}, "'seq' must be int"),
        ({"seq": -1}, "'seq' must be >= 0"),
        ({"seq": True}, "'seq' must be int"),
        ({"train_loss": "0.5"}, "'train_loss' must be number or null"),
        ({"best": 1}, "'best' must be bool"),
        ({"metrics": []}, "'metrics' must be object"),
        ({"metrics": {"acc": "high"}}, "metrics['acc']"),
        ({"epoch": None}, "'epoch' must be int"),
    ],
)
def test_validate_names_the_bad_field(change, message):
    with pytest.raises(RecordError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate(epoch_record(**change))


def test_missing_field_is_named():
    rec = epoch_record()
    del rec["val_loss"]
    with pytest.raises(RecordError, match="missing field 'val_loss'"):
        validate(rec)


def test_unknown_type_needs_only_common_fields():
    assert validate({"type": "gpu_stats", "run_id": "r", "seq": 0, "time": 1, "temp": 70})["temp"] == 70


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]", b'{"type": "epoch"}', b"\xff\xfe{}", b"[" * 100_000])
def test_decode_rejects_with_record_error(line):
    with pytest.raises(RecordError):
        decode(line)


def test_decode_reads_foreign_nan_tokens_as_null():
    line = encode(epoch_record()).replace(b'"train_loss":0.6', b'"train_loss":NaN')
    assert decode(line)["train_loss"] is None
