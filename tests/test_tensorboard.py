"""`stlar-dl tensorboard`: event files read back with TensorBoard's EventAccumulator hold every value of the log."""

from __future__ import annotations

import io
import sys
import threading

import numpy as np
import pytest

from fake_run import Epochs, start_fields
from procs import run
from shared.logreader import read_log
from shared.logwriter import LogWriter
from shared.rundir import RunDir
from viewer.tensorboard import run_folder_name, tensorboard


def write_log(run_dir, n, end=True, lrs=None):
    run_dir.mkdir(parents=True, exist_ok=True)
    book, records = Epochs(n), []
    with LogWriter(RunDir(run_dir).log) as w:
        records.append(w.write("start", **start_fields(n)))
        for e in range(1, n + 1):
            fields = book.fields(e, 0.7 - 0.03 * e, None if e == 2 else 0.75 - 0.02 * e)  # a null val loss
            fields["lr"] = (lrs or [1e-3] * n)[e - 1]
            fields["metrics"].update(val_f1=0.5 + 0.01 * e, val_threshold=0.4, val_tp=3 + e)
            records.append(w.write("epoch", **fields))
        if end:
            records.append(w.write("end", **book.end_fields("completed", n)))
    return records


def accumulated(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value, e.wall_time) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def expected(records):
    out = {}
    for r in records:
        if r["type"] != "epoch":
            continue
        values = {"loss/train": r["train_loss"], "loss/val": r["val_loss"], "lr": r["lr"],
                  **{f"metrics/{k}": v for k, v in r["metrics"].items()}}
        for tag, v in values.items():
            if v is not None:
                out.setdefault(tag, []).append((r["epoch"], float(np.float32(v)), r["time"]))
    return out


def test_every_value_of_the_log_reads_back(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    a = write_log(tmp_path / "a", 6, lrs=[1e-3] * 3 + [5e-4] * 3)
    b = write_log(tmp_path / "b", 3)
    out = io.StringIO()
    assert tensorboard([tmp_path / "a", tmp_path / "b"], tmp_path / "tb", out=out) == 0
    for records in (a, b):
        folder = tmp_path / "tb" / run_folder_name(records[0]["time"], records[0]["run_id"])
        got = accumulated(folder)
        want = expected(records)
        assert set(got) == set(want) >= {"loss/train", "loss/val", "lr", "metrics/val_accuracy", "metrics/val_f1"}
        for tag in want:
            assert [(s, v) for s, v, _ in got[tag]] == [(s, v) for s, v, _ in want[tag]], tag
            assert [t for _, _, t in got[tag]] == pytest.approx([t for _, _, t in want[tag]])
        assert 2 not in [s for s, _, _ in got["loss/val"]]  # epoch 2's val loss is null in the log
    # Run again: the run's folder is rewritten, not doubled.
    tensorboard([tmp_path / "b"], tmp_path / "tb", out=io.StringIO())
    folder = tmp_path / "tb" / run_folder_name(b[0]["time"], b[0]["run_id"])
    assert len(list(folder.iterdir())) == 1 and len(accumulated(folder)["loss/train"]) == 3


def test_folders_sort_by_start_time():
    assert run_folder_name(1_700_000_000, "zzz") < run_folder_name(1_700_000_060, "aaa")


def test_follow_writes_until_the_run_ends(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    run_dir = tmp_path / "live"
    write_log(run_dir, 2, end=False)
    done = threading.Event()
    result = {}

    def follow():
        result["code"] = tensorboard([run_dir], tmp_path / "tb", follow=True, out=io.StringIO())
        done.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert not done.wait(0.5)  # still following: the run has no end record
    logged, _ = read_log(RunDir(run_dir).log)
    with open(RunDir(run_dir).log, "a", encoding="utf-8") as fh:
        fh.write('{"type":"end","run_id":"%s","seq":%d,"time":1.0,"reason":"completed","epochs_run":2,'
                 '"best_epoch":1,"best_val_loss":0.73,"message":""}\n' % (logged[0]["run_id"], len(logged)))
    assert done.wait(30), "tensorboard --follow did not end with the run"
    assert result["code"] == 0
    folder = tmp_path / "tb" / run_folder_name(logged[0]["time"], logged[0]["run_id"])
    assert [s for s, _, _ in accumulated(folder)["loss/train"]] == [1, 2]


def test_without_tensorboard_the_command_says_how_to_get_it(tmp_path):
    write_log(tmp_path / "a", 2)
    hide = "import sys; sys.modules['tensorboard'] = None\n"
    done = run([sys.executable, "-c", hide + "from stlar_dl.cli import main; main()", "tensorboard",
                str(tmp_path / "a"), "--logdir", str(tmp_path / "tb")])
    assert done.returncode == 2
    assert done.stderr.strip().endswith("install it with: pip install 'stlar-dl[tensorboard]'")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "tb").exists()
