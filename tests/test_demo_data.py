"""Tests of trainer/demo_data.py: the synthetic data set loads, splits, repeats and can be learnt."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared.errors import InputError
from trainer import demo_data
from trainer.data import load_manifest
from trainer.demo_data import FS_HZ, write_demo_data


def rows(manifest: Path) -> list[dict[str, str]]:
    with open(manifest, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> demo_data.DemoData:
    return write_demo_data(tmp_path_factory.mktemp("demo"), n=60, seed=1)


def test_demo_data_loads_with_load_manifest(demo) -> None:
    train = load_manifest(demo.train_manifest, cwd=Path("/nonexistent"))
    val = load_manifest(demo.val_manifest, cwd=Path("/nonexistent"))
    assert (len(train), len(val)) == (demo.n_train, demo.n_val) == (48, 12)
    assert (train.n_positive, val.n_positive) == (demo.n_train_positive, demo.n_val_positive)
    assert demo.n == 60 and train.warnings == [] and val.warnings == []


def test_manifest_format(demo) -> None:
    with open(demo.train_manifest, encoding="utf-8") as fh:
        assert fh.readline() == "segment_path,label,band_label,duration_ms\n"
    all_rows = rows(demo.train_manifest) + rows(demo.val_manifest)
    assert len({r["segment_path"] for r in all_rows}) == 60, "each segment in exactly one split"
    for r in all_rows:
        assert r["segment_path"].startswith("segments/seg_") and not os.path.isabs(r["segment_path"])
        seg = np.load(demo.out_dir / r["segment_path"], allow_pickle=False)
        assert seg.dtype == np.float32 and seg.ndim == 1
        assert 72 <= len(seg) <= 576
        assert float(r["duration_ms"]) == pytest.approx(1000 * len(seg) / FS_HZ, abs=0.01)
        negatives = {"background", "spike", "step", "slow_wave"}
        assert r["band_label"] in ({"ripple", "fast_ripple"} if r["label"] == "1" else negatives)


def test_classes_are_balanced(demo) -> None:
    assert demo.n_train_positive + demo.n_val_positive == 30


@pytest.mark.parametrize("n, val_fraction", [(10, 0.2), (11, 0.01), (10, 0.99), (101, 0.5)])
def test_both_classes_in_both_splits(tmp_path: Path, n: int, val_fraction: float) -> None:
    d = write_demo_data(tmp_path, n=n, seed=3, val_fraction=val_fraction)
    assert d.n == n
    for manifest in (d.train_manifest, d.val_manifest):
        assert {r["label"] for r in rows(manifest)} == {"0", "1"}


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    def snapshot(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    write_demo_data(tmp_path / "a", n=20, seed=5)
    write_demo_data(tmp_path / "b", n=20, seed=5)
    write_demo_data(tmp_path / "c", n=20, seed=6)
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert snapshot(tmp_path / "a") != snapshot(tmp_path / "c")


def test_rewriting_a_folder_replaces_the_data_set(tmp_path: Path) -> None:
    write_demo_data(tmp_path, n=30, seed=1)
    d = write_demo_data(tmp_path, n=12, seed=2)
    assert len(rows(d.train_manifest)) + len(rows(d.val_manifest)) == 12
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_failure_mid_way_leaves_no_manifest(tmp_path: Path, monkeypatch) -> None:
    write_demo_data(tmp_path, n=20, seed=1)  # an older, complete data set in the same folder
    real_save = np.save
    calls = []

    def failing_save(path, arr):
        calls.append(path)
        if len(calls) == 5:
            raise OSError(28, "No space left on device", str(path))
        real_save(path, arr)

    monkeypatch.setattr(demo_data.np, "save", failing_save)
    with pytest.raises(InputError) as info:
        write_demo_data(tmp_path, n=20, seed=2)
    assert "No space left on device" in str(info.value) and "\n" not in str(info.value)
    # The old manifests would now point at a mix of old and new segments: they must be gone.
    assert not (tmp_path / "manifest_train.csv").exists()
    assert not (tmp_path / "manifest_val.csv").exists()


@pytest.mark.parametrize("n", [9, 0, -5])
def test_too_few_segments(tmp_path: Path, n: int) -> None:
    with pytest.raises(InputError, match=rf"^--n {n}: too few segments for a demo data set; ask for at least 10 "):
        write_demo_data(tmp_path, n=n)


@pytest.mark.parametrize("val_fraction", [0.0, 1.0, -0.1, 1.5])
def test_bad_val_fraction(tmp_path: Path, val_fraction: float) -> None:
    with pytest.raises(InputError, match="must be between 0 and 1"):
        write_demo_data(tmp_path, n=10, val_fraction=val_fraction)


def test_bad_seed(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="^--seed -1: the seed of the demo data must be a non-negative integer"):
        write_demo_data(tmp_path, n=10, seed=-1)


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(InputError) as info:
        write_demo_data(target, n=10)
    message = str(info.value)
    assert message.startswith(f"demo data folder {target}: cannot write") and "\n" not in message
    assert "choose a writable folder" in message


def test_out_dir_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        write_demo_data(tmp_path / "file.txt" / "demo", n=10)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_out_dir_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(InputError, match="Permission denied"):
            write_demo_data(locked, n=10)
    finally:
        locked.chmod(0o700)


def test_permission_denied_is_reported(tmp_path: Path, monkeypatch) -> None:
    # Runs as root too (where a read-only folder is still writable): fail the mkdir itself.
    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(InputError) as info:
        write_demo_data(tmp_path / "demo", n=10)
    assert str(info.value) == (
        f"demo data folder {tmp_path / 'demo'}: cannot write {tmp_path / 'demo' / 'segments'} "
        "(Permission denied); choose a writable folder (not an existing file)"
    )


def test_importing_demo_data_does_not_import_torch() -> None:
    code = "import sys, trainer.demo_data; assert 'torch' not in sys.modules, 'trainer.demo_data imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_small_cnn_learns_the_demo_task(tmp_path: Path) -> None:
    """A few epochs of type 1 on 400 segments beat chance clearly (~0.8 here; the bar is 0.75)."""
    import torch

    from trainer.data import make_loader
    from trainer.models import build_model

    torch.manual_seed(0)
    d = write_demo_data(tmp_path, n=400, seed=0)
    train, val = load_manifest(d.train_manifest), load_manifest(d.val_manifest)
    model = build_model(1)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    train_loader = make_loader(train, batch_size=32, shuffle=True, seed=0, num_workers=0)
    val_loader = make_loader(val, batch_size=256, shuffle=False, seed=0, num_workers=0)
    accuracies = []
    for _ in range(10):
        model.train()
        for x, y in train_loader:
            optimiser.zero_grad()
            loss_fn(model(x), y).backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            correct = sum(((model(x) > 0).float() == y).sum().item() for x, y in val_loader)
        accuracies.append(correct / len(val))
    # Best of the last epochs: one epoch's accuracy on 80 segments jumps by several points.
    assert max(accuracies[-4:]) > 0.75, accuracies
