"""best.pt: STLAR's keys, safe loading with weights_only=True, atomic replacement."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.errors import InputError, RunDirError
from trainer.checkpoint import load_checkpoint, load_model, save_checkpoint
from trainer.models import build_model


@pytest.mark.parametrize("model_type", [1, 2])
def test_round_trip_predicts_the_same(tmp_path, model_type):
    torch.manual_seed(0)
    model = build_model(model_type).eval()
    path = tmp_path / "best.pt"
    save_checkpoint(path, model, model_type, epoch=3, val_loss=0.25, config={"lr": 1e-3, "train": "a.csv"})

    data = torch.load(path, map_location="cpu", weights_only=True)
    assert set(data) == {"model_state", "model_type", "epoch", "val_loss", "config"}
    assert (data["model_type"], data["epoch"], data["val_loss"]) == (model_type, 3, 0.25)
    assert data["config"] == {"lr": 1e-3, "train": "a.csv"}

    x = torch.randn(4, 1, 200)
    loaded = load_model(path)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x))
        assert loaded(x).shape == (4,)


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = build_model(1)
    path = tmp_path / "best.pt"
    save_checkpoint(path, model, 1, epoch=1, val_loss=0.5, config={})
    before = path.read_bytes()

    real_write_bytes = Path.write_bytes

    def disk_full(self, data):  # the checkpoint's bytes reach the disk with one write_bytes
        real_write_bytes(self, b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(RunDirError, match="No space left on device.*previous best.pt, if any, is intact"):
        save_checkpoint(path, model, 1, epoch=2, val_loss=0.4, config={})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]  # no temporary file left behind


def test_non_finite_val_loss_is_stored_as_none(tmp_path):
    save_checkpoint(tmp_path / "best.pt", build_model(1), 1, epoch=1, val_loss=float("nan"), config={})
    assert load_checkpoint(tmp_path / "best.pt")["val_loss"] is None


@pytest.mark.parametrize("content, needle", [(None, "file not found"), (b"not a checkpoint", "cannot load it")])
def test_bad_checkpoints_are_input_errors(tmp_path, content, needle):
    path = tmp_path / "best.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=needle):
        load_checkpoint(path)
