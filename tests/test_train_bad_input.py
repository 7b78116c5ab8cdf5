"""Every bad input to train-dl: one line on stderr naming the problem and the fix, exit 2, no traceback,
and nothing written in the run dir (everything is validated before the run dir is touched)."""

from __future__ import annotations

import filelock
import numpy as np
import pytest

from stlar_dl.cli import main
from trainer_helpers import run_stlar


def write_segments(folder, n=6):
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        np.save(folder / f"s{i}.npy", np.sin(np.arange(100) * (i + 1) / 7.0).astype(np.float32))
        rows.append(f"s{i}.npy,{i % 2}")
    return rows


def manifest(path, header="segment_path,label", rows=()):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path):
    rows = write_segments(tmp_path / "d")
    return {"dir": tmp_path / "d", "rows": rows, "good": manifest(tmp_path / "d" / "good.csv", rows=rows),
            "out": tmp_path / "models"}


def bad_manifest(name, text=None, data_bytes=None, segment=None):
    """A case: a bad --train manifest written into the data folder (optionally with one bad segment)."""
    def make(d):
        path = d["dir"] / name
        if segment is not None:
            np.save(d["dir"] / "bad.npy", segment[0], allow_pickle=segment[1])
        if data_bytes is not None:
            path.write_bytes(data_bytes)
        elif text is not None:
            path.write_text(text, encoding="utf-8")
        return ["--train", str(path)]
    return make


CASES = {
    "missing manifest": (lambda d: ["--train", str(d["dir"] / "nope.csv")], "nope.csv: file not found"),
    "a folder as manifest": (lambda d: ["--train", str(d["dir"])], "is a folder; pass the manifest CSV file"),
    "a binary file as manifest": (bad_manifest("b.csv", data_bytes=b"\x93NUMPY\x00\x00binary"), "binary file"),
    "missing columns": (bad_manifest("m.csv", text="path,lab\ns0.npy,1\n"),
                        "missing column(s) segment_path, label (found: 'path', 'lab')"),
    "header only": (bad_manifest("h.csv", text="segment_path,label\n"), "no data rows, only the header"),
    "label 2": (bad_manifest("l2.csv", text="segment_path,label\ns0.npy,2\n"),
                "l2.csv line 2: label '2' is not valid; labels must be 0 (not HFO) or 1 (HFO), or False/True"),
    "label yes": (bad_manifest("ly.csv", text="segment_path,label\ns0.npy,yes\n"), "label 'yes' is not valid"),
    "no labelled rows": (bad_manifest("e.csv", text="segment_path,label\ns0.npy,\ns1.npy,\n"),
                         "all 2 rows have an empty label"),
    "missing segment": (bad_manifest("ms.csv", text="segment_path,label\nmissing.npy,1\n"),
                        "segment file missing.npy not found (looked in"),
    "pickled segment": (bad_manifest("p.csv", text="segment_path,label\nbad.npy,1\n",
                                     segment=(np.array([1.0, "a"], dtype=object), True)),
                        "pickled Python objects"),
    "2-D segment": (bad_manifest("2d.csv", text="segment_path,label\nbad.npy,1\n",
                                 segment=(np.zeros((4, 10), np.float32), False)), "is 2-D with shape (4, 10)"),
    "empty segment": (bad_manifest("em.csv", text="segment_path,label\nbad.npy,1\n",
                                   segment=(np.zeros(0, np.float32), False)), "is empty (0 samples)"),
    "non-finite samples": (bad_manifest("nf.csv", text="segment_path,label\nbad.npy,1\n",
                                        segment=(np.array([0.0, np.nan, 1.0], np.float32), False)),
                           "1 non-finite sample(s) (NaN/inf), first at index 1"),
    "segment over --max-samples": (
        lambda d: bad_manifest("long.csv", text="segment_path,label\nbad.npy,1\n",
                               segment=(np.zeros(1000, np.float32), False))(d) + ["--max-samples", "500"],
        "long.csv line 2: segment "),  # ... "has 1,000 samples, more than --max-samples 500"
    "backslash path": (bad_manifest("bs.csv", text="segment_path,label\nsegments\\x.npy,1\n"),
                       "the path has backslashes, which are no folder separators on this system: write it with /"),
    "--epochs 0": (lambda d: ["--epochs", "0"], "--epochs 0: must be an integer >= 1"),
    "--lr -1": (lambda d: ["--lr", "-1"], "--lr -1.0: the learning rate must be >= 0"),
    "--batch-size 0": (lambda d: ["--batch-size", "0"], "--batch-size 0: must be an integer >= 1"),
    "unknown --model-type": (lambda d: ["--model-type", "0"],
                             "--model-type 0: unknown model type; choose one of 1 (Simple 1-D CNN), 2 (ResNet-1D), "
                             "3 (InceptionTime), 4 (HFO Transformer), 5 (Spectrogram 2-D CNN)"),
    "--model-type 6": (lambda d: ["--model-type", "6"], "--model-type 6: type 6 (2-D CNN on CWT scalograms) is not "
                       "supported by stlar-dl"),
    "--use-cwt": (lambda d: ["--use-cwt"], "--use-cwt: CWT scalogram input (STLAR's model type 6) is not supported"),
    "--debug-cwt": (lambda d: ["--debug-cwt"], "--debug-cwt: CWT scalogram input (STLAR's model type 6) is not "
                    "supported"),
    "--fs 0": (lambda d: ["--fs", "0"], "--fs 0.0: the sampling rate must be a positive number of Hz"),
    "type 5 and a short segment": (
        lambda d: bad_manifest("short.csv", text="segment_path,label\ns0.npy,1\nbad.npy,0\ns1.npy,0\n",
                               segment=(np.arange(95, dtype=np.float32), False))(d) + ["--model-type", "5"],
        "short.csv line 3: segment "),
    "unknown --device": (lambda d: ["--device", "gpu"], "--device gpu: unknown device"),
    "--device cuda without CUDA": (lambda d: ["--device", "cuda"], "--device cuda: CUDA is not available"),
}


def argv_for(d, extra):
    base = ["train-dl", "--train", str(d["good"]), "--val", str(d["good"]), "--out-dir", str(d["out"]),
            "--model-type", "1", "--num-workers", "0", "--epochs", "1"]
    return base + extra  # later options win


def run_main(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, data, capsys):
    make, needle = CASES[case]
    if case == "--device cuda without CUDA":
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    code, out, err = run_main(argv_for(data, make(data)), capsys)
    assert code == 2
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert needle in err
    assert out == ""
    assert not data["out"].exists()


def test_an_out_dir_that_cannot_be_written(data, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the run dir's parent should be")
    out = blocker / "models"
    code, stdout, err = run_main(argv_for(data, ["--out-dir", str(out)]), capsys)
    assert code == 2 and err.count("\n") == 1 and stdout == ""
    assert err.startswith(f"Error: --out-dir {out}: cannot write there (Not a directory)")
    assert blocker.read_text() == "a file where the run dir's parent should be"


def test_an_out_dir_that_is_a_file(data, tmp_path, capsys):
    (tmp_path / "models").write_text("x")
    code, _, err = run_main(argv_for(data, []), capsys)
    assert code == 2 and "is a file, not a folder" in err and (tmp_path / "models").read_text() == "x"


def test_a_second_trainer_in_the_same_run_dir(data, capsys):
    out = data["out"]
    out.mkdir()
    (out / "best.pt").write_text("the running trainer's checkpoint")
    lock = filelock.FileLock(str(out / ".stlar-dl.lock"), timeout=0)  # what a running trainer holds
    with lock:
        code, stdout, err = run_main(argv_for(data, []), capsys)
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "another trainer is running in this run dir" in err
    assert sorted(p.name for p in out.iterdir()) == [".stlar-dl.lock", "best.pt"]  # nothing archived or written


def test_empty_label_rows_are_skipped_with_one_counting_warning(data, capsys):
    rows = data["rows"] + ["s0.npy,", "s1.npy,"]
    m = manifest(data["dir"] / "with_empty.csv", rows=rows)
    code, out, err = run_main(argv_for(data, ["--train", str(m), "--no-plot"]), capsys)
    assert code == 0, err
    warnings = [line for line in out.splitlines() if "empty label" in line]
    assert len(warnings) == 1 and "2 row(s) with an empty label skipped" in warnings[0]


@pytest.mark.parametrize("extra, needle", [
    (["--train", "nope.csv"], "nope.csv: file not found"),
    (["--model-type", "7"], "--model-type 7: unknown model type"),
    (["--epochs"], "Option '--epochs' requires an argument"),
])
def test_a_real_process_prints_one_line_and_no_traceback(data, tmp_path, extra, needle):
    proc = run_stlar(*argv_for(data, extra), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == "" and not data["out"].exists()


def test_type_5_names_the_shortest_segment(data, capsys):
    lengths = {"s0.npy": 100, "a.npy": 90, "b.npy": 64, "c.npy": 80}
    for name, n in lengths.items():
        np.save(data["dir"] / name, np.sin(np.arange(n) / 3.0).astype(np.float32))
    m = manifest(data["dir"] / "short.csv", rows=[f"{name},{i % 2}" for i, name in enumerate(lengths)])
    code, out, err = run_main(argv_for(data, ["--val", str(m), "--model-type", "5"]), capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err == (f"Error: short.csv line 4: segment {data['dir'] / 'b.npy'} has only 64 samples (the shortest; 3 "
                   "segment(s) have fewer than 96); --model-type 5 (Spectrogram 2-D CNN) needs at least 96 samples "
                   "per segment; choose another --model-type or drop the short segments\n")
    assert not data["out"].exists()
