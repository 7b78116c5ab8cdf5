"""best.pt (and last.pt's atomic write): STLAR's keys, safe loading with weights_only=True, atomic replacement."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.errors import InputError, RunDirError
from trainer.checkpoint import load_checkpoint, load_model, save_checkpoint
from trainer.models import build_model
from trainer.resume import save_last


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


def _save_best(path, epoch):
    save_checkpoint(path, build_model(1), 1, epoch=epoch, val_loss=0.5, config={})


def _save_last(path, epoch):
    save_last(path, {"format": "stlar-dl last", "epoch": epoch, "model_state": build_model(1).state_dict()})


@pytest.mark.parametrize("save, name, what", [(_save_best, "best.pt", "checkpoint"),
                                              (_save_last, "last.pt", "resume checkpoint")])
def test_a_failed_save_keeps_the_previous_file_and_says_which(tmp_path, monkeypatch, save, name, what):
    path = tmp_path / name
    save(path, 1)
    before = path.read_bytes()

    real_write_bytes = Path.write_bytes

    def disk_full(self, data):  # the checkpoint's bytes reach the disk with one write_bytes
        real_write_bytes(self, b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(RunDirError) as raised:
        save(path, 2)
    assert str(raised.value) == (f"{path}: cannot save the {what} (No space left on device); free disk space or "
                                 f"choose another --out-dir (the previous {name}, if any, is intact)")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


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
