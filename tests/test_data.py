"""Tests of the training data: manifest validation (trainer/manifest.py), segment loading, z-scoring and padding
(trainer/segments.py) and the loader (trainer/batches.py), through their public names in trainer.data."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared.errors import InputError
from trainer.data import SegmentSet, load_manifest, make_loader, pad_batch, zscore


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def save(path: Path, arr) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A folder with three segments (lengths 70, 100, 300) and a manifest naming them relative to it."""
    rng = np.random.default_rng(0)
    for i, n in enumerate([70, 100, 300]):
        save(tmp_path / "segs" / f"seg_{i}.npy", (5 + 3 * rng.standard_normal(n)).astype(np.float32))
    write_csv(
        tmp_path / "manifest.csv",
        "segment_path,label,band_label,duration_ms\n"
        "segs/seg_0.npy,1,ripple,14.6\n"
        "segs/seg_1.npy,0,,20.8\n"
        "segs/seg_2.npy,1.0,fast ripple,62.5\n",
    )
    return tmp_path


def load_error(manifest: Path, cwd: Path | None = None) -> str:
    """Return the message of the InputError that loading `manifest` raises; check it is one line."""
    with pytest.raises(InputError) as info:
        load_manifest(manifest, cwd=cwd)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def manifest_with_segment(tmp_path: Path, arr=None, *, raw: bytes | None = None) -> Path:
    """A manifest whose only row (line 2) names seg.npy, saved from `arr` or written as `raw` bytes."""
    seg = tmp_path / "seg.npy"
    if raw is not None:
        seg.write_bytes(raw)
    else:
        save(seg, arr)
    return write_csv(tmp_path / "m.csv", "segment_path,label\nseg.npy,1\n")


# --------------------------------------------------------------------------------------------------
# Happy path


def test_loads_zscored_float32_segments_and_labels(good: Path) -> None:
    data = load_manifest(good / "manifest.csv", cwd=good / "elsewhere")
    assert len(data) == 3
    assert data.n_positive == 2
    assert data.labels.dtype == np.float32
    assert data.labels.tolist() == [1.0, 0.0, 1.0]
    assert [len(s) for s in data.segments] == [70, 100, 300]
    for seg in data.segments:
        assert seg.dtype == np.float32 and seg.ndim == 1
        assert abs(float(seg.mean())) < 1e-5
        assert float(seg.std()) == pytest.approx(1.0, abs=1e-4)
    assert data.manifest == (good / "manifest.csv").resolve()
    assert data.paths[0] == (good / "segs" / "seg_0.npy").resolve()
    assert data.warnings == []


@pytest.mark.parametrize("label, expected", [("1", 1.0), ("0", 0.0), ("1.0", 1.0), ("0.0", 0.0), (" 1 ", 1.0)])
def test_accepted_label_spellings(tmp_path: Path, label: str, expected: float) -> None:
    save(tmp_path / "a.npy", np.arange(10.0))
    write_csv(tmp_path / "m.csv", f"segment_path,label\na.npy,{label}\n")
    assert load_manifest(tmp_path / "m.csv").labels.tolist() == [expected]


def test_integer_segments_and_utf8_bom_header_are_accepted(tmp_path: Path) -> None:
    save(tmp_path / "a.npy", np.arange(10, dtype=np.int16))
    (tmp_path / "m.csv").write_bytes("\ufeffsegment_path,label\r\na.npy,0\r\n".encode("utf-8"))
    data = load_manifest(tmp_path / "m.csv")
    assert data.segments[0].dtype == np.float32 and len(data) == 1


def test_empty_labels_are_skipped_with_one_counted_warning(good: Path) -> None:
    write_csv(
        good / "m.csv",
        "segment_path,label\nsegs/seg_0.npy,1\nmissing_a.npy,\nsegs/seg_1.npy,0\nmissing_b.npy, \n",
    )
    data = load_manifest(good / "m.csv")
    assert len(data) == 2
    assert len(data.warnings) == 1
    warning = data.warnings[0]
    assert warning.startswith("m.csv: 2 row(s) with an empty label skipped")
    assert "lines 3, 5" in warning


def test_a_single_class_set_loads_with_a_warning(good: Path) -> None:
    write_csv(good / "m.csv", "segment_path,label\nsegs/seg_0.npy,1\nsegs/seg_2.npy,1\n")
    data = load_manifest(good / "m.csv")
    assert data.warnings == ["m.csv: all 2 labelled rows are 1 (HFO); a classifier needs examples of both classes"]


# --------------------------------------------------------------------------------------------------
# Path resolution


def test_relative_path_prefers_the_manifest_folder(tmp_path: Path) -> None:
    mdir, cwd = tmp_path / "m", tmp_path / "cwd"
    save(mdir / "seg.npy", np.arange(5.0))
    save(cwd / "seg.npy", np.arange(7.0))
    write_csv(mdir / "m.csv", "segment_path,label\nseg.npy,1\n")
    data = load_manifest(mdir / "m.csv", cwd=cwd)
    assert len(data.segments[0]) == 5
    assert data.paths[0] == (mdir / "seg.npy").resolve()


def test_relative_path_falls_back_to_the_working_directory(tmp_path: Path) -> None:
    mdir, cwd = tmp_path / "m", tmp_path / "cwd"
    mdir.mkdir()
    save(cwd / "data" / "seg.npy", np.arange(7.0))
    write_csv(mdir / "m.csv", "segment_path,label\ndata/seg.npy,1\n")
    assert len(load_manifest(mdir / "m.csv", cwd=cwd).segments[0]) == 7


def test_cwd_defaults_to_the_process_working_directory(tmp_path: Path, monkeypatch) -> None:
    mdir, cwd = tmp_path / "m", tmp_path / "cwd"
    mdir.mkdir()
    save(cwd / "seg.npy", np.arange(7.0))
    write_csv(mdir / "m.csv", "segment_path,label\nseg.npy,1\n")
    monkeypatch.chdir(cwd)
    assert len(load_manifest(mdir / "m.csv")) == 1


def test_absolute_segment_path(tmp_path: Path) -> None:
    seg = save(tmp_path / "elsewhere" / "seg.npy", np.arange(7.0))
    write_csv(tmp_path / "m.csv", f"segment_path,label\n{seg},1\n")
    assert load_manifest(tmp_path / "m.csv").paths == [seg]


def test_missing_segment_names_line_file_and_both_places_looked(tmp_path: Path) -> None:
    mdir, cwd = tmp_path / "m", tmp_path / "cwd"
    mdir.mkdir()
    cwd.mkdir()
    save(mdir / "seg_00001.npy", np.arange(5.0))
    write_csv(mdir / "manifest_train.csv", "segment_path,label\nseg_00001.npy,1\nseg_00017.npy,0\n")
    message = load_error(mdir / "manifest_train.csv", cwd=cwd)
    assert message.startswith("manifest_train.csv line 3: segment file seg_00017.npy not found (looked in ")
    assert f"{mdir.resolve()}/ (the manifest's folder)" in message
    assert f"{cwd.resolve()}/ (the working directory)" in message


def test_missing_segment_when_cwd_is_the_manifest_folder_names_it_once(tmp_path: Path) -> None:
    write_csv(tmp_path / "m.csv", "segment_path,label\nnope.npy,1\n")
    message = load_error(tmp_path / "m.csv", cwd=tmp_path)
    assert "(the manifest's folder, also the working directory)" in message


def test_missing_absolute_segment(tmp_path: Path) -> None:
    write_csv(tmp_path / "m.csv", f"segment_path,label\n{tmp_path / 'nope.npy'},1\n")
    assert load_error(tmp_path / "m.csv") == f"m.csv line 2: segment file {tmp_path / 'nope.npy'} not found"


# --------------------------------------------------------------------------------------------------
# Manifest errors


def test_missing_manifest(tmp_path: Path) -> None:
    assert load_error(tmp_path / "nope.csv") == f"manifest {tmp_path / 'nope.csv'}: file not found; check the path"


def test_missing_relative_manifest_is_named_by_its_full_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert str(tmp_path / "nope.csv") in load_error(Path("nope.csv"))


def test_folder_given_as_manifest(tmp_path: Path) -> None:
    assert "is a folder; pass the manifest CSV file inside it" in load_error(tmp_path)


def test_binary_file_given_as_manifest(tmp_path: Path) -> None:
    seg = save(tmp_path / "seg.npy", np.arange(5.0))
    message = load_error(seg)
    assert str(seg) in message and "binary file" in message


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_non_utf8_manifest(tmp_path: Path, bom: bytes) -> None:
    (tmp_path / "m.csv").write_bytes(bom + "segment_path,label\ncafé.npy,1\n".encode("latin-1"))
    message = load_error(tmp_path / "m.csv")
    assert "not UTF-8 text (byte 0xe9 on line 2)" in message and "save the CSV as UTF-8" in message


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_empty_manifest(tmp_path: Path, text: str) -> None:
    write_csv(tmp_path / "m.csv", text)
    assert load_error(tmp_path / "m.csv").startswith("m.csv: file is empty;")


def test_missing_columns_lists_the_columns_found(tmp_path: Path) -> None:
    write_csv(tmp_path / "m.csv", "path,label,state\na.npy,1,awake\n")
    message = load_error(tmp_path / "m.csv")
    assert message.startswith("m.csv line 1: missing column(s) segment_path (found: 'path', 'label', 'state')")


def test_headerless_manifest_is_reported_as_missing_columns(tmp_path: Path) -> None:
    write_csv(tmp_path / "m.csv", "a.npy,1\n")
    message = load_error(tmp_path / "m.csv")
    assert "missing column(s) segment_path, label (found: 'a.npy', '1')" in message


def test_duplicate_required_column(tmp_path: Path) -> None:
    write_csv(tmp_path / "m.csv", "segment_path,label,label\na.npy,1,0\n")
    assert "column label appears 2 times" in load_error(tmp_path / "m.csv")


def test_header_only(tmp_path: Path) -> None:
    write_csv(tmp_path / "m.csv", "segment_path,label\n")
    assert load_error(tmp_path / "m.csv").startswith("m.csv: no data rows, only the header;")


def test_all_labels_empty(tmp_path: Path) -> None:
    write_csv(tmp_path / "m.csv", "segment_path,label\na.npy,\nb.npy,\n")
    message = load_error(tmp_path / "m.csv")
    assert message.startswith("m.csv: all 2 rows have an empty label, nothing to train on;")


@pytest.mark.parametrize("label", ["2", "yes", "-1", "0.5", "nan", "T", "F", "Truee", "true1", "no", "1 true"])
def test_invalid_label_names_file_line_and_value(tmp_path: Path, label: str) -> None:
    save(tmp_path / "a.npy", np.arange(5.0))
    write_csv(tmp_path / "m.csv", f"segment_path,label\na.npy,1\na.npy,{label}\n")
    assert load_error(tmp_path / "m.csv") == (
        f"m.csv line 3: label {label!r} is not valid; labels must be 0 (not HFO) or 1 (HFO), or False/True"
    )


def test_true_and_false_in_any_case_are_1_and_0(tmp_path: Path) -> None:
    # pandas writes a boolean column as True/False; spreadsheets often as TRUE/FALSE.
    save(tmp_path / "a.npy", np.arange(5.0))
    labels = ["True", "False", "TRUE", "false", " tRuE ", "FALSE", "1", "0.0"]
    write_csv(tmp_path / "m.csv", "segment_path,label\n" + "".join(f"a.npy,{v}\n" for v in labels))
    data = load_manifest(tmp_path / "m.csv")
    assert data.labels.tolist() == [1, 0, 1, 0, 1, 0, 1, 0]
    assert data.lines == [2, 3, 4, 5, 6, 7, 8, 9]


def test_row_with_wrong_field_count(tmp_path: Path) -> None:
    save(tmp_path / "a.npy", np.arange(5.0))
    write_csv(tmp_path / "m.csv", "segment_path,label\na,b.npy,1\n")
    assert load_error(tmp_path / "m.csv").startswith("m.csv line 2: has 3 fields but the header has 2;")


def test_line_numbers_count_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    save(tmp_path / "a.npy", np.arange(5.0))
    write_csv(
        tmp_path / "m.csv",
        'segment_path,label,note\na.npy,1,"two\nlines"\n\na.npy,7,x\n',
    )
    # header = 1, quoted record = 2-3, blank = 4, bad row = 5
    assert load_error(tmp_path / "m.csv").startswith("m.csv line 5: label '7'")


def test_several_bad_rows_are_counted_in_one_line(tmp_path: Path) -> None:
    rows = "".join(f"missing_{i}.npy,1\n" for i in range(10))
    write_csv(tmp_path / "m.csv", "segment_path,label\n" + rows)
    message = load_error(tmp_path / "m.csv", cwd=tmp_path)
    assert message.startswith("m.csv line 2: segment file missing_0.npy not found")
    assert message.endswith("[9 more bad row(s), at lines 3, 4, 5, 6, 7, ...]")


def test_empty_segment_path(tmp_path: Path) -> None:
    write_csv(tmp_path / "m.csv", "segment_path,label\n,1\n")
    message = load_error(tmp_path / "m.csv")
    assert message == "m.csv line 2: segment_path is empty; give the .npy file of this segment"


def test_segment_path_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "seg.npy").mkdir()
    write_csv(tmp_path / "m.csv", "segment_path,label\nseg.npy,1\n")
    assert "segment_path seg.npy is a folder" in load_error(tmp_path / "m.csv")


# --------------------------------------------------------------------------------------------------
# Segment errors: each names the manifest line, the resolved file, the problem and the fix


def segment_error(tmp_path: Path, arr=None, *, raw: bytes | None = None) -> str:
    message = load_error(manifest_with_segment(tmp_path, arr, raw=raw))
    assert message.startswith(f"m.csv line 2: segment {tmp_path / 'seg.npy'}: "), message
    return message


def test_object_dtype_npy_is_refused_for_safety(tmp_path: Path) -> None:
    message = segment_error(tmp_path, np.array([{"a": 1}, None], dtype=object))
    assert "pickled Python objects (object dtype), refused for safety" in message
    assert "save plain float arrays with np.save" in message


def test_plain_pickle_is_refused_for_safety(tmp_path: Path) -> None:
    message = segment_error(tmp_path, raw=pickle.dumps([1.0, 2.0]))
    assert "is a pickle, refused for safety" in message and "np.save" in message


def test_text_file_is_not_a_valid_npy(tmp_path: Path) -> None:
    message = segment_error(tmp_path, raw=b"1.0,2.0,3.0\n")
    assert "not a valid .npy file (no NumPy header)" in message


def test_npz_archive(tmp_path: Path) -> None:
    np.savez(tmp_path / "archive.npz", x=np.arange(5.0))
    raw = (tmp_path / "archive.npz").read_bytes()
    assert "is an .npz archive" in segment_error(tmp_path, raw=raw)


def test_truncated_npy(tmp_path: Path) -> None:
    save(tmp_path / "full.npy", np.arange(100.0))
    raw = (tmp_path / "full.npy").read_bytes()[:-40]
    assert "corrupt or truncated .npy" in segment_error(tmp_path, raw=raw)


def test_two_dimensional_segment_names_its_shape(tmp_path: Path) -> None:
    message = segment_error(tmp_path, np.zeros((2, 300)))
    assert "is 2-D with shape (2, 300); each segment must be 1-D" in message


def test_scalar_segment(tmp_path: Path) -> None:
    assert "is 0-D with shape ()" in segment_error(tmp_path, np.float32(1.0))


def test_empty_segment(tmp_path: Path) -> None:
    assert "is empty (0 samples)" in segment_error(tmp_path, np.zeros(0, dtype=np.float32))


@pytest.mark.parametrize(
    "arr, dtype_name",
    [
        (np.array(["a", "b"]), "<U1"),
        (np.array([True, False]), "bool"),
        (np.array([1 + 2j, 3j]), "complex128"),
    ],
)
def test_non_numeric_dtype(tmp_path: Path, arr, dtype_name: str) -> None:
    assert f"non-numeric dtype {dtype_name}" in segment_error(tmp_path, arr)


def test_non_finite_samples_are_counted_and_located(tmp_path: Path) -> None:
    arr = np.arange(20.0)
    arr[[12, 15]] = np.nan
    arr[17] = np.inf
    message = segment_error(tmp_path, arr)
    assert "3 non-finite sample(s) (NaN/inf), first at index 12" in message


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="longdouble is float64 here")
def test_a_value_finite_only_in_its_own_dtype_is_refused_as_non_finite(tmp_path: Path) -> None:
    arr = np.ones(50, dtype=np.longdouble)
    arr[7] = np.longdouble("1e400")  # finite as a longdouble; inf in the float64 the segment is scaled in
    message = segment_error(tmp_path, arr)
    assert "1 non-finite sample(s) (NaN/inf, or beyond the float64 range), first at index 7" in message


def test_a_segment_far_longer_than_the_limit_is_refused_naming_it(tmp_path: Path) -> None:
    save(tmp_path / "short.npy", np.random.default_rng(0).normal(size=300))
    save(tmp_path / "huge.npy", np.zeros(2_000_001, dtype=np.float32))
    manifest = write_csv(tmp_path / "m.csv", "segment_path,label\nshort.npy,1\nhuge.npy,0\n")
    with pytest.raises(InputError) as info:
        load_manifest(manifest, max_samples=100_000)
    assert str(info.value) == (f"m.csv line 3: segment {tmp_path / 'huge.npy'} has 2,000,001 samples, more than "
                               "--max-samples 100,000 (every batch is padded to its longest segment); drop the "
                               "row, cut the segment, or raise --max-samples")
    assert len(load_manifest(manifest, max_samples=3_000_000)) == 2


def test_a_backslash_path_not_found_says_to_use_slashes(tmp_path: Path) -> None:
    if os.sep != "/":
        pytest.skip("backslashes are separators here")
    manifest = write_csv(tmp_path / "m.csv", "segment_path,label\nsegments\\seg_001.npy,1\n")
    assert load_error(manifest) == ("m.csv line 2: segment file segments\\seg_001.npy not found; the path has "
                                    "backslashes, which are no folder separators on this system: write it with "
                                    "/ (e.g. segments/seg_001.npy)")


# --------------------------------------------------------------------------------------------------
# z-scoring and padding


@pytest.mark.parametrize(
    "segment",
    [
        np.full(50, 3.0),
        np.full(333, 0.1, dtype=np.float32),  # float64 mean != value: must not become +-1 noise
        np.zeros(1),
    ],
)
def test_constant_segment_becomes_zeros(segment) -> None:
    out = zscore(segment)
    assert out.dtype == np.float32 and np.array_equal(out, np.zeros(len(segment)))


@pytest.mark.parametrize(
    "segment",
    [
        np.array([0.0, 1.0]),
        np.arange(100, dtype=np.int32),
        np.array([1e300, -1e300, 5e299]),  # squares would overflow float64
        np.array([1e-30, 2e-30, 3e-30], dtype=np.float32),
    ],
)
def test_zscore_gives_mean_zero_std_one(segment) -> None:
    out = zscore(segment)
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    assert abs(float(out.mean())) < 1e-6 and float(out.std()) == pytest.approx(1.0, abs=1e-5)


def test_pad_batch_zero_pads_to_the_longest() -> None:
    out = pad_batch([np.ones(2, np.float32), np.full(4, 2.0, np.float32), np.ones(1, np.float32)])
    assert out.dtype == np.float32
    assert out.tolist() == [[1, 1, 0, 0], [2, 2, 2, 2], [1, 0, 0, 0]]
    assert pad_batch([]).shape == (0, 0)


# --------------------------------------------------------------------------------------------------
# Loader


def tagged_set(n: int) -> SegmentSet:
    """Segment i is constant i (not z-scored, so a batch shows which items it holds), lengths vary."""
    segments = [np.full(3 + i % 5, float(i), dtype=np.float32) for i in range(n)]
    return SegmentSet(segments, (np.arange(n) % 2).astype(np.float32), Path("tagged.csv"))


def order(loader) -> list[list[int]]:
    return [x[:, 0, 0].int().tolist() for x, _ in loader]


def test_loader_yields_padded_float32_batches() -> None:
    data = tagged_set(10)
    batches = list(make_loader(data, batch_size=4, shuffle=False, seed=0, num_workers=0))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 1, 6), (4, 1, 7), (2, 1, 7)]
    x, y = batches[0]
    assert str(x.dtype) == "torch.float32" and str(y.dtype) == "torch.float32"
    assert x[0, 0].tolist() == [0, 0, 0, 0, 0, 0] and x[3, 0].tolist() == [3] * 6
    assert y.tolist() == [0, 1, 0, 1]


def test_loader_batches_live_in_torch_memory_aligned_for_its_kernels() -> None:
    # A batch in numpy's memory (16-byte aligned) made a two-thread training step 6-15 % slower: every batch,
    # in the main process or from workers, is a tensor torch allocated (64-byte aligned), not a numpy view.
    data = tagged_set(40)
    for workers in (0, 2):
        for x, y in make_loader(data, batch_size=3, shuffle=True, seed=1, num_workers=workers):
            assert x.data_ptr() % 64 == 0 and x.is_contiguous()
            assert y.dtype == x.dtype


def test_loader_order_is_deterministic_for_a_seed() -> None:
    data = tagged_set(20)
    a = make_loader(data, 4, shuffle=True, seed=7, num_workers=0)
    b = make_loader(data, 4, shuffle=True, seed=7, num_workers=0)
    epochs_a = [order(a) for _ in range(3)]
    assert epochs_a == [order(b) for _ in range(3)]
    assert epochs_a[0] != epochs_a[1], "each epoch should reshuffle"
    assert sorted(sum(epochs_a[0], [])) == list(range(20))
    assert order(make_loader(data, 4, shuffle=True, seed=8, num_workers=0)) != epochs_a[0]


def test_loader_order_with_workers_matches_the_main_process() -> None:
    # Over several epochs: persistent workers once made epoch 2 on differ (a shared generator).
    data = tagged_set(20)
    in_process, with_workers = make_loader(data, 4, True, 3, 0), make_loader(data, 4, True, 3, num_workers=2)
    expected = [order(in_process) for _ in range(3)]
    assert [order(with_workers) for _ in range(3)] == expected
    assert expected[0] != expected[1]


def test_shuffled_loader_drops_a_trailing_single_sample_batch() -> None:
    # BatchNorm in training mode cannot normalise a batch of one short segment.
    assert [len(b) for b in order(make_loader(tagged_set(9), 4, True, 0, 0))] == [4, 4]
    assert [len(b) for b in order(make_loader(tagged_set(9), 4, False, 0, 0))] == [4, 4, 1]
    assert [len(b) for b in order(make_loader(tagged_set(10), 4, True, 0, 0))] == [4, 4, 2]


@pytest.mark.parametrize("batch_size, workers, fragment", [(0, 0, "--batch-size 0"), (4, -1, "--num-workers -1")])
def test_loader_rejects_bad_options(batch_size: int, workers: int, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        make_loader(tagged_set(4), batch_size, True, 0, workers)


def test_validation_imports_without_torch() -> None:
    code = "import sys, trainer.data; assert 'torch' not in sys.modules, 'trainer.data imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
