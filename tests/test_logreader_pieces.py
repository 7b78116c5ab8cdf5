"""The reader decodes runs of plain epoch/progress lines a piece at a time (one msgspec call per piece): it must
yield exactly what reading the same bytes line by line yields, warnings and line numbers included, whatever
odd line sits among them."""

import json

import pytest

from shared.logreader import LogReader
from shared.records import encode

MAX_LINE = 4096  # small pieces: many of them in a short log, and lines near the limit are cheap to make


def epoch(seq, run_id="r", **extra):
    return {"type": "epoch", "run_id": run_id, "seq": seq, "time": float(seq), "epoch": seq, "epochs": 999,
            "train_loss": 0.5, "val_loss": 0.6 if seq % 5 else None, "lr": 1e-3, "seconds": 2, "best": False,
            "best_epoch": 1, "best_val_loss": 0.6, "metrics": {"val_accuracy": 0.5}, **extra}


def progress(seq, run_id="r"):
    return {"type": "progress", "run_id": run_id, "seq": seq, "time": float(seq), "epoch": seq, "batch": 1,
            "batches": 9, "train_loss": 0.4, "elapsed": 1.0}


START = {"type": "start", "run_id": "r", "seq": 0, "time": 0.0, "schema": 1, "config": {}, "epochs": 999}


def log_lines(n=600):
    return [encode(START)] + [encode(epoch(s) if s % 3 else progress(s)) for s in range(1, n)]


ODD = {
    "blank line": b"\n",
    "spaces only": b"   \n",
    "two records on one line": encode(epoch(301))[:-1] + encode(epoch(302)),
    "a record over two lines": encode(epoch(301)).replace(b',"metrics":', b',\n"metrics":'),
    "spaced layout": json.dumps(epoch(301)).encode() + b"\n",
    "keys in another order": json.dumps({"seq": 301, **epoch(301)}, separators=(",", ":")).encode() + b"\n",
    "windows line end": encode(epoch(301))[:-1] + b"\r\n",
    "garbage": b"{not json\n",
    "an extra field": encode(epoch(301, note="x")),
    "an unknown type": encode({"type": "gpu_stats", "run_id": "r", "seq": 301, "time": 1.0}),
    "seq jump": encode(epoch(9999)),
    "seq repeated": encode(epoch(200)),
    "another run": encode(epoch(301, run_id="other")),
    "over the line limit": encode(epoch(301, host="h" * MAX_LINE)),
    "exactly at the line limit": encode(epoch(301, host="h" * (MAX_LINE - len(encode(epoch(301, host=""))) + 1))),
}


def read(data: bytes, tmp_path, pieces: bool, **options):
    (tmp_path / str(pieces)).mkdir(exist_ok=True)
    log = tmp_path / str(pieces) / "log.jsonl"
    log.write_bytes(data)
    reader = LogReader(log, max_line_bytes=MAX_LINE, **options)
    if not pieces:
        reader._piece = lambda piece, out: False  # every line through the per-line path
    items = reader.poll(final=True)
    flat = [r for item in items for r in (item.records() if hasattr(item, "records") else (item,))]
    return flat, reader.warnings


@pytest.mark.parametrize("odd", sorted(ODD))
@pytest.mark.parametrize("options", [{}, {"latest_progress": True}])
def test_an_odd_line_among_plain_ones_reads_as_line_by_line(tmp_path, odd, options):
    lines = log_lines()
    lines.insert(301, ODD[odd])
    data = b"".join(lines)
    assert read(data, tmp_path, True, **options) == read(data, tmp_path, False, **options)


def test_plain_lines_are_read_a_piece_at_a_time_with_their_line_numbers(tmp_path):
    lines = log_lines(3000)
    lines.append(b"{oops\n")
    data = b"".join(lines)
    log = tmp_path / "log.jsonl"
    log.write_bytes(data)
    reader = LogReader(log, max_line_bytes=MAX_LINE)
    calls = []
    piece = reader._piece
    reader._piece = lambda p, out: calls.append(piece(p, out)) or calls[-1]
    items = reader.poll()
    assert len(items) == 3000 and calls.count(True) > 10  # the first piece (with the start) goes line by line
    assert len(reader.warnings) == 1 and reader.warnings[0].startswith("log.jsonl line 3001: skipped (not valid JSON")
