"""`stlar-dl runs`: one line per run, oldest first, only the options that differ, `--json` for scripts."""

from __future__ import annotations

import io
import json

from fake_run import write_run
from procs import STLAR, run
from viewer.runs import runs

T0 = 1_800_000_000.0


def sweep(root):
    for i, (name, epochs, options) in enumerate([
        ("b-late", 3, dict(lr=1e-4, end="early_stopped")),
        ("a-early", 5, dict(lr=1e-3)),
        ("a-early/archive/20270115-080000_x", 2, dict(lr=1e-3, batch_size=32, end=None, pid=2**22 + 7)),
    ]):
        folder = root / name
        folder.mkdir(parents=True)
        ticks = iter(range(1000))
        start = {"b-late": 3, "a-early": 2, "a-early/archive/20270115-080000_x": 1}[name]
        write_run(folder / "training_log.jsonl", epochs, planned=5,
                  clock=lambda s=start: T0 + 1000 * s + next(ticks), **options)
    (root / "not-a-run").mkdir()
    return root


def test_the_table_lists_runs_oldest_first_with_only_the_differing_options(tmp_path):
    out = io.StringIO()
    assert runs([sweep(tmp_path)], out=out) == 0
    lines = out.getvalue().splitlines()
    head = lines[0].split()
    assert head[:3] == ["where", "run", "id"] and head[-2:] == ["lr", "batch"]  # seed, wd, ... are the same
    rows = lines[2:5]
    assert [r.split()[0] for r in rows] == [str(tmp_path / "a-early/archive/20270115-080000_x"),
                                            str(tmp_path / "a-early"), str(tmp_path / "b-late")]
    assert rows[0].split()[4:6] == ["crashed", "2/5"]  # archived without an end record
    assert rows[1].split()[4:6] == ["finished", "5/5"]
    assert "early stopped" in rows[2] and rows[2].split()[-2:] == ["1e-4", "64"]
    assert lines[-1] == "3 runs"


def test_json_has_one_object_per_run_with_numbers_as_numbers(tmp_path):
    out = io.StringIO()
    runs([sweep(tmp_path)], as_json_lines=True, out=out)
    data = json.loads(out.getvalue())
    assert [d["status"] for d in data] == ["crashed", "finished", "early stopped"]
    first = data[0]
    assert first["archived"] is True and first["started"] == T0 + 1000
    assert first["options"] == {"lr": 0.001, "batch_size": 32} and first["label"] == "lr=1e-3, batch=32"
    assert isinstance(data[1]["best_val_loss"], float) and data[1]["best_epoch"] == 5


def test_a_folder_without_runs_says_so_and_a_missing_one_is_an_error(tmp_path):
    done = run(STLAR + ["runs", str(tmp_path)], timeout=60)
    assert done.returncode == 0 and "No runs under" in done.stdout
    done = run(STLAR + ["runs", str(tmp_path / "nope")], timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"Error: {tmp_path / 'nope'}: no such folder; pass a run directory "
                                                f"(train-dl --out-dir) or a folder above it"]
