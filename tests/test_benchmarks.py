"""`python -m benchmarks --quick` still runs end to end and every figure comes out as a number (or is skipped
with a reason). Timings are never asserted: they belong to benchmarks/RESULTS.md, not to a test."""

from __future__ import annotations

import importlib
import json
import os
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIGURES = (  # the table, in the names the benchmarks print
    "attach at scale (first frame)",
    "attach vs TensorBoard (load all points)",
    "update cost vs history",
    "viewer memory (replay --png peak RSS)",
    "replay --png wall time",
    "week-long log: stop, wall",
    "week-long log: stop, peak RSS",
    "week-long log: replay --png, peak RSS",
    "week-long log: watch --no-window, peak RSS",
    "viewer idle CPU, watch --no-window",
    "viewer idle CPU, live window (Tk, Xvfb)",
    "live latency, native file events",
    "live latency, --poll",
    "trainer overhead (train-dl / protocol off)",
    "throughput, train-dl",
    "train-dl / plain loop throughput, default threads",
    "throughput, plain PyTorch loop",
    "runs, ",
    "compare --png, ",
    "live compare of ",
    "throughput, 1 CPU process",
    "throughput, 2 CPU processes (torchrun, gloo)",
)


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def test_quick_benchmarks_produce_every_figure(tmp_path):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out_json), "--markdown", str(out_md)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    report = json.loads(out_json.read_text())
    assert report["mode"] == "quick" and not report["errors"]
    rows = report["rows"]
    for figure in FIGURES:
        assert any(r["figure"].startswith(figure) for r in rows), f"no row for {figure!r}"
    for row in rows:
        if row["skipped"] is not None:
            assert row["verdict"] == "skipped" and row["skipped"].strip()
            continue
        assert row["n"] >= 1 and all(math.isfinite(s) for s in row["samples"]), row
        assert math.isfinite(row["value"]) and row["value"] >= 0, row
        assert row["verdict"] in ("pass", "MISS", "reported"), row
    tensorboard = next(r for r in rows if r["figure"].startswith("attach vs TensorBoard"))
    has_tb = _importable("tensorboard.backend.event_processing.event_accumulator")
    assert (tensorboard["skipped"] is None) == has_tb, tensorboard
    markdown = out_md.read_text()
    assert markdown.count("\n| ") == len(rows) + 1  # header + one line per row
    assert all(r["figure"].replace("|", "\\|") in markdown for r in rows)


def test_without_tensorboard_its_row_is_skipped_with_a_note(tmp_path):
    # CI installs `.[test]` only: a tensorboard that cannot be imported must not break the run.
    stub = tmp_path / "stub" / "tensorboard"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('tensorboard hidden by the test')\n")
    out_json = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stub.parent), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "vs_tensorboard",
                           "--json", str(out_json)], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (row,) = json.loads(out_json.read_text())["rows"]
    assert row["verdict"] == "skipped" and "tensorboard" in row["skipped"]
