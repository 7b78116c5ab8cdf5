"""The reader's fast path: epoch and progress lines parsed and checked in C (msgspec typed decoding).

A long log is almost all epoch and progress records in exactly the shape our writer gives them. msgspec
decodes such a line straight into a Struct of the right types (chosen by how the line starts: our writer
puts `type` first), which checks every field as it parses: about a third of the time of parsing to a dict and checking the fields in Python.

`fast_decode(line)` returns the record as the same dict `shared.records.decode` gives, or None when the line
is anything else (`fast_parse` + `to_record` do the same in two steps, so a reader can skip building dicts
for records it will drop): another record type, an extra or missing field, a wrong type, a number no field of ours
can hold (a non-finite float, an integer beyond 64 bits), bad JSON or UTF-8. None sends the line down the
slow path (`decode`), which keeps unknown types and extra fields and names what is wrong, so the fast path
never changes what a line reads as; it only makes the common lines cheap.
"""

from __future__ import annotations

from typing import Annotated, Optional, Union

import msgspec

from shared.records import Record

# Integers as JSON gives them, within 64 bits: beyond that the slow path reads them as null (see records).
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Num = Union[Int, float]  # an int stays an int, exactly as the slow path's parser keeps it
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
_UNSET = msgspec.UNSET


class _Epoch(msgspec.Struct, tag_field="type", tag="epoch", forbid_unknown_fields=True, gc=False):
    # `type` is the tag (one decoder takes either record type); the other fields in the writer's order: the
    # dict built from it has the same key order as the writer's line.
    run_id: str
    seq: Seq
    time: Num
    epoch: Int
    epochs: Int
    train_loss: Optional[Num]
    val_loss: Optional[Num]
    lr: Optional[Num]
    seconds: Num
    best: bool
    best_epoch: Optional[Int]
    best_val_loss: Optional[Num]
    metrics: dict[str, Optional[Num]]
    # Written by a resumed trainer (another process than the start record names); absent keys stay absent.
    pid: Union[Int, msgspec.UnsetType] = _UNSET
    host: Union[str, msgspec.UnsetType] = _UNSET


class _Progress(msgspec.Struct, tag_field="type", tag="progress", forbid_unknown_fields=True, gc=False):
    run_id: str
    seq: Seq
    time: Num
    epoch: Int
    batch: Int
    batches: Int
    train_loss: Optional[Num]
    elapsed: Num
    # Written by the trainer in its validation phase; absent keys stay absent in the dict.
    phase: Union[str, msgspec.UnsetType] = _UNSET
    val_batch: Union[Int, msgspec.UnsetType] = _UNSET
    val_batches: Union[Int, msgspec.UnsetType] = _UNSET


_OPTIONAL = ("phase", "val_batch", "val_batches")
_EPOCH_OPTIONAL = ("pid", "host")
# Our writer puts `type` first: a line that starts otherwise (another writer's key order or spacing) is not
# fast-path material, so the fast path never changes the key order a line reads with.
_LINE_START = b'{"type":"'
_decoder = msgspec.json.Decoder(Union[_Epoch, _Progress])
_decode = _decoder.decode
_decode_array = msgspec.json.Decoder(list[Union[_Epoch, _Progress]]).decode
_asdict = msgspec.structs.asdict
_Error = (msgspec.DecodeError, msgspec.ValidationError)


def fast_parse(line: bytes) -> _Epoch | _Progress | None:
    """The checked record on `line` as a Struct (attributes `seq`, `run_id`; see `to_record`), or None when
    it is not an epoch or progress record of exactly the known shape."""
    if not line.startswith(_LINE_START):
        return None
    try:
        return _decode(line)
    except _Error:
        return None


def parse_lines(piece: bytes) -> list[_Epoch | _Progress] | None:
    """The records of `piece` (whole lines, each ending with a newline) as Structs, one per line, decoded in
    one call; None unless every line is an epoch or progress record of exactly the known shape.

    The lines are decoded as the elements of one JSON array (newlines made commas), which holds exactly
    when each line is one JSON value: a blank line, two objects on one line or an object spread over two
    lines is malformed there. Where a line lays its keys out otherwise than our writer, its dict has the
    same keys and values as the slow path's, in the writer's order. The caller bounds the length of each line.
    """
    body = piece.replace(b"\n", b",")
    try:
        return _decode_array(b"".join((b"[", memoryview(body)[:-1], b"]")))
    except _Error:
        return None


def is_progress(obj: _Epoch | _Progress) -> bool:
    return type(obj) is _Progress


def is_epoch(obj: _Epoch | _Progress) -> bool:
    return type(obj) is _Epoch


def to_record(obj: _Epoch | _Progress) -> Record:
    """The record dict of a parsed Struct: the keys and values `shared.records.decode` gives, in line order."""
    if type(obj) is _Epoch:
        record = {"type": "epoch"}
        record.update(_asdict(obj))
        if obj.pid is _UNSET or obj.host is _UNSET:
            for name in _EPOCH_OPTIONAL:
                if record[name] is _UNSET:
                    del record[name]
        return record
    record = {"type": "progress"}
    record.update(_asdict(obj))
    for name in _OPTIONAL:
        if record[name] is _UNSET:
            del record[name]
    return record


class EpochBlock:
    """Consecutive epoch records of one run, in file order, as the reader's fast path parsed them.

    A reader in `epoch_blocks` mode yields one of these in place of a run of epoch records, for consumers
    that fold epochs into a History column by column (`History.extend`): building a dict per record and
    folding it again was about half the time of attaching to a 100,000-epoch log. `records()` gives the
    dicts a reader yields otherwise, for the few epochs a consumer shows one by one.
    """

    __slots__ = ("structs",)

    def __init__(self, structs: list[_Epoch]) -> None:
        self.structs = structs

    def __len__(self) -> int:
        return len(self.structs)

    def __repr__(self) -> str:
        return f"EpochBlock({len(self.structs)} epochs)"

    def records(self) -> list[Record]:
        return [to_record(obj) for obj in self.structs]

    def split(self, n: int) -> tuple[EpochBlock, EpochBlock]:
        """The first `n` epochs and the rest."""
        return EpochBlock(self.structs[:n]), EpochBlock(self.structs[n:])

    def last_best(self) -> int | None:
        """The epoch of the last record that says `best`, or None."""
        for obj in reversed(self.structs):
            if obj.best:
                return obj.epoch
        return None


def fast_decode(line: bytes) -> Record | None:
    """The record on `line` if it is an epoch or progress record of exactly the known shape, else None."""
    obj = fast_parse(line)
    return None if obj is None else to_record(obj)
