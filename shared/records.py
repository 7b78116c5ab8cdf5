"""The record schema of `training_log.jsonl`: record types, their fields, validation and strict-JSON encoding.

Every record has `type`, `run_id`, `seq` (0, 1, 2 ... within a run, no gaps) and `time` (Unix seconds).
Known types add the fields in `FIELDS`; unknown types are valid records that readers ignore, so a newer
trainer can add record types without breaking an older viewer. Pure logic: no file I/O here.
"""

from __future__ import annotations

import json
import math
from typing import Any

SCHEMA_VERSION = 1

START, EPOCH, PROGRESS, STOP_REQUESTED, END = "start", "epoch", "progress", "stop_requested", "end"
RECORD_TYPES = (START, EPOCH, PROGRESS, STOP_REQUESTED, END)

END_REASONS = ("completed", "early_stopped", "stopped", "diverged", "interrupted", "failed")

Record = dict[str, Any]

_INT, _NUM, _OPT_NUM, _OPT_INT, _STR, _BOOL, _DICT, _OPT_DICT = (
    "int", "number", "number or null", "int or null", "string", "bool", "object", "object or null",
)

COMMON_FIELDS = {"type": _STR, "run_id": _STR, "seq": _INT, "time": _NUM}

# Required fields per known type. Writers may add more; readers keep extra fields untouched.
FIELDS: dict[str, dict[str, str]] = {
    START: {"schema": _INT, "config": _DICT, "epochs": _INT},
    EPOCH: {
        "epoch": _INT, "epochs": _INT, "train_loss": _OPT_NUM, "val_loss": _OPT_NUM, "lr": _OPT_NUM,
        "seconds": _NUM, "best": _BOOL, "best_epoch": _OPT_INT, "best_val_loss": _OPT_NUM, "metrics": _DICT,
    },
    PROGRESS: {"epoch": _INT, "batch": _INT, "batches": _INT, "train_loss": _OPT_NUM, "elapsed": _NUM},
    STOP_REQUESTED: {"epoch": _INT, "stop": _OPT_DICT},
    END: {"reason": _STR, "epochs_run": _INT, "best_epoch": _OPT_INT, "best_val_loss": _OPT_NUM, "message": _STR},
}


class RecordError(ValueError):
    """A JSON object that is not a valid record; the message names the field and what is wrong."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_CHECKS = {
    _INT: _is_int,
    _NUM: _is_num,
    _OPT_NUM: lambda v: v is None or _is_num(v),
    _OPT_INT: lambda v: v is None or _is_int(v),
    _STR: lambda v: isinstance(v, str),
    _BOOL: lambda v: isinstance(v, bool),
    _DICT: lambda v: isinstance(v, dict),
    _OPT_DICT: lambda v: v is None or isinstance(v, dict),
}


def validate(obj: Any) -> Record:
    """Return `obj` if it is a valid record, else raise RecordError naming the first bad field.

    Unknown record types only need the common fields. `metrics` of an epoch record must map names to
    numbers or null, since the figure and diagnostics read them as numbers.
    """
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    rtype = obj.get("type")
    spec = FIELDS.get(rtype, {}) if isinstance(rtype, str) else {}
    for fields in (COMMON_FIELDS, spec):
        for name, kind in fields.items():
            if name not in obj:
                raise RecordError(f"missing field {name!r}")
            if not _CHECKS[kind](obj[name]):
                raise RecordError(f"field {name!r} must be {kind}, got {json.dumps(obj[name])[:40]}")
    if obj["seq"] < 0:
        raise RecordError("field 'seq' must be >= 0")
    if rtype == EPOCH:
        for key, value in obj["metrics"].items():
            if not (value is None or _is_num(value)):
                raise RecordError(f"metrics[{key!r}] must be number or null")
    return obj


def finite_or_none(value: Any) -> Any:
    """Replace non-finite floats with None, recursively, so the log stays strict RFC 8259 JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, paths: anything with a natural JSON form.
    if hasattr(value, "item") and callable(value.item):
        return finite_or_none(value.item())
    if hasattr(value, "tolist"):
        return finite_or_none(value.tolist())
    return str(value)


def encode(record: Record) -> bytes:
    """One record as one UTF-8 line of strict JSON (no NaN/Infinity tokens), newline included."""
    text = json.dumps(
        finite_or_none(record), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
    )
    return (text + "\n").encode("utf-8")


def _lenient_constant(_name: str) -> None:
    # A foreign writer's NaN/Infinity token reads as null: the same meaning our writer gives them.
    return None


def decode(line: bytes | str) -> Record:
    """Parse and validate one log line (without or with its newline); raise RecordError if it is not a record."""
    try:
        # Decode explicitly: json.loads would guess UTF-16/32 from the first bytes of a corrupt line.
        text = line.decode("utf-8") if isinstance(line, (bytes, bytearray)) else line
        obj = json.loads(text, parse_constant=_lenient_constant)
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise RecordError("JSON nested too deeply") from None
    except ValueError as exc:
        raise RecordError(f"not valid JSON ({exc})") from None
    return validate(obj)
