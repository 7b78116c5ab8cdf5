"""The record schema of `training_log.jsonl`: record types, their fields, validation and strict-JSON encoding.

Every record has `type`, `run_id`, `seq` (0, 1, 2 ... within a run, no gaps) and `time` (Unix seconds).
Known types add the fields in `FIELDS`; unknown types are valid records that readers ignore, so a newer
trainer can add record types without breaking an older viewer. Pure logic: no file I/O here.
"""

from __future__ import annotations

import json
import math
import re
from operator import itemgetter
from typing import Any

import orjson

SCHEMA_VERSION = 1

START, EPOCH, PROGRESS, STOP_REQUESTED, END = "start", "epoch", "progress", "stop_requested", "end"
# `resume`: the run goes on in a new trainer process after epoch `epoch` (`train-dl --resume`); epoch records
# after that epoch, if the log holds any (the process died before saving it), are superseded.
RESUME = "resume"
RECORD_TYPES = (START, EPOCH, PROGRESS, STOP_REQUESTED, END, RESUME)

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
    RESUME: {"epoch": _INT, "epochs": _INT, "config": _DICT, "best_epoch": _OPT_INT, "best_val_loss": _OPT_NUM},
}


class RecordError(ValueError):
    """A JSON object that is not a valid record; the message names the field and what is wrong."""


_NONE = type(None)
# Exact types, not isinstance: JSON gives exactly these, and `type(True) is bool` keeps booleans out of ints.
_TYPES: dict[str, frozenset[type]] = {
    _INT: frozenset({int}),
    _NUM: frozenset({int, float}),
    _OPT_NUM: frozenset({int, float, _NONE}),
    _OPT_INT: frozenset({int, _NONE}),
    _STR: frozenset({str}),
    _BOOL: frozenset({bool}),
    _DICT: frozenset({dict}),
    _OPT_DICT: frozenset({dict, _NONE}),
}
_NUMBER_OR_NULL = _TYPES[_OPT_NUM]
_COMMON = tuple((name, _TYPES[kind], kind) for name, kind in COMMON_FIELDS.items())
# Per known type: every field to check, common ones first. Reading a 100,000-epoch log checks 1.4 million
# fields, so this is a flat loop over prepared tuples.
_SPECS = {rtype: _COMMON + tuple((n, _TYPES[k], k) for n, k in spec.items()) for rtype, spec in FIELDS.items()}


_MISSING = object()
_GETTERS = {rtype: itemgetter(*(name for name, _, _ in spec)) for rtype, spec in _SPECS.items()}
_GETTERS[None] = itemgetter(*COMMON_FIELDS)
# Per record type, the type signatures (the type of each field) already seen to be valid. A log holds a
# handful of them, so after the first few lines a record is checked with one tuple build and one lookup.
_GOOD_SIGNATURES: dict[str | None, set[tuple[type, ...]]] = {rtype: set() for rtype in _GETTERS}


def _check_fields(obj: Record, spec: tuple[tuple[str, frozenset[type], str], ...]) -> None:
    for name, allowed, kind in spec:
        value = obj.get(name, _MISSING)
        if value is _MISSING:
            raise RecordError(f"missing field {name!r}")
        if type(value) not in allowed:
            raise RecordError(f"field {name!r} must be {kind}, got {_preview(value)}")


def _preview(value: Any) -> str:
    """The start of a bad value for a message; never recurses into a hostile, deeply nested one."""
    try:
        return json.dumps(value, default=str)[:40]
    except (RecursionError, ValueError):
        return type(value).__name__


MAX_DEPTH = 32  # lists/objects nested deeper than this are not a record (ours nest 2 deep); see too_deep


def brackets(line: bytes | str) -> int:
    """How many `[` and `{` a line holds: a cheap bound on its nesting (`too_deep` is needed only above
    MAX_DEPTH)."""
    if isinstance(line, str):
        return line.count("[") + line.count("{")
    return line.count(b"[") + line.count(b"{")


def too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """True if `obj` nests lists or dicts deeper than `limit`. Iterative: safe on any input.

    Why: a value nested about 1,000 deep parses (orjson allows 1,024 levels) but crashes whatever later
    prints or re-encodes it (str, repr, json.dumps recurse) with RecursionError.
    """
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def validate(obj: Any) -> Record:
    """Return `obj` if it is a valid record, else raise RecordError naming the first bad field.

    Unknown record types only need the common fields. `metrics` of an epoch record must map names to
    numbers or null, since the figure and diagnostics read them as numbers.
    """
    if type(obj) is not dict:
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    rtype = obj.get("type")
    key = rtype if type(rtype) is str and rtype in _SPECS else None
    try:
        signature = tuple(map(type, _GETTERS[key](obj)))
    except KeyError:
        signature = ()
    good = _GOOD_SIGNATURES[key]
    if signature not in good:
        _check_fields(obj, _SPECS[key] if key else _COMMON)
        good.add(signature)
    if obj["seq"] < 0:
        raise RecordError("field 'seq' must be >= 0")
    if key == EPOCH and not _NUMBER_OR_NULL.issuperset(map(type, obj["metrics"].values())):
        bad = next(k for k, v in obj["metrics"].items() if type(v) not in _NUMBER_OR_NULL)
        raise RecordError(f"metrics[{bad!r}] must be number or null")
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


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode(record: Record) -> bytes:
    """One record as one UTF-8 line of strict JSON (no NaN/Infinity tokens), newline included.

    A lone surrogate (how Python decodes a file name with non-UTF-8 bytes, such as a Latin-1 `é`) cannot be
    UTF-8: it is written as U+FFFD, so the line stays valid.
    """
    text = json.dumps(
        finite_or_none(record), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
    )
    return utf8(text + "\n")


def utf8(text: str) -> bytes:
    """`text` as UTF-8, a lone surrogate (undecodable bytes of a file name) written as U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def _lenient_constant(_name: str) -> None:
    # A foreign writer's NaN/Infinity token reads as null: the same meaning our writer gives them.
    return None


def _lenient_float(text: str) -> float | None:
    # `1e400` parses as inf: null, like the tokens above (orjson refuses such a line outright).
    value = float(text)
    return value if math.isfinite(value) else None


def _lenient_int(text: str) -> int | None:
    # Beyond 64 bits no field of ours can hold it, and float() of it would overflow in every reader: null.
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def decode(line: bytes | str) -> Record:
    """Parse and validate one log line (without or with its newline); raise RecordError if it is not a record.

    orjson parses our strict lines about 4x faster than `json`, which is most of the time of attaching to a
    long run; a line it refuses (a foreign writer's NaN token, say) gets the lenient standard parser, which
    also accepts what orjson rightly refuses: a lone surrogate escape (`"\\ud800"`), so that is refused here.
    A value nested deeper than MAX_DEPTH is refused too (see `too_deep`).
    """
    lenient = False
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        obj, lenient = _lenient_loads(line), True
    if brackets(line) > MAX_DEPTH and too_deep(obj):
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels")
    if lenient:
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError("holds a lone surrogate escape (\\ud800-\\udfff without its pair): not text") from None
    return validate(obj)


def _lenient_loads(line: bytes | str) -> Any:
    try:
        # Decode explicitly: json.loads would guess UTF-16/32 from the first bytes of a corrupt line.
        text = line.decode("utf-8") if isinstance(line, (bytes, bytearray)) else line
        return json.loads(text, parse_constant=_lenient_constant, parse_float=_lenient_float,
                          parse_int=_lenient_int)
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise RecordError("JSON nested too deeply") from None
    except ValueError as exc:
        raise RecordError(f"not valid JSON ({exc})") from None
