"""The README's promises that are code: its pandas and jq examples read a real log as shown."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.logwriter import LogWriter

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def fenced(lang: str, must_contain: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)
    matching = [b for b in blocks if must_contain in b]
    assert matching, f"README has no {lang} block containing {must_contain!r}"
    return matching[0]


@pytest.fixture
def run_in_models(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    with LogWriter(tmp_path / "models" / "training_log.jsonl", run_id="readme") as w:
        w.write("start", schema=1, config={"lr": 1e-3}, epochs=3)
        for e, (t, v) in enumerate([(0.6, 0.65), (0.5, float("nan")), (0.4, 0.45)], start=1):
            w.write("progress", epoch=e, batch=1, batches=2, train_loss=t, elapsed=0.1)
            w.write("epoch", epoch=e, epochs=3, train_loss=t, val_loss=v, lr=1e-3, seconds=1.0, best=e == 1,
                    best_epoch=1, best_val_loss=0.65, metrics={"val_accuracy": 0.7})
        w.write("end", reason="completed", epochs_run=3, best_epoch=3, best_val_loss=0.45, message="")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_pandas_one_liner(run_in_models):
    scope: dict = {}
    exec(fenced("python", "pd.read_json"), scope)
    epochs = scope["epochs"]
    assert list(epochs["epoch"]) == [1, 2, 3]
    assert list(epochs["train_loss"]) == pytest.approx([0.6, 0.5, 0.4])
    assert epochs["val_loss"].isna().tolist() == [False, True, False]


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_jq_example(run_in_models):
    command = next(line for line in fenced("bash", "jq ").splitlines() if line.startswith("jq "))
    out = subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["1\t0.6\t0.65", "2\t0.5\t", "3\t0.4\t0.45"]


def test_using_the_model_in_stlar(tmp_path, monkeypatch):
    # The README's Python block runs as shown against a real export of a real checkpoint.
    import torch

    from trainer.checkpoint import save_checkpoint
    from trainer.export import export
    from trainer.models import build_model

    (tmp_path / "models").mkdir()
    save_checkpoint(tmp_path / "models" / "best.pt", build_model(1).eval(), 1, epoch=1, val_loss=0.5, config={})
    export(tmp_path / "models", say=lambda line: None)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(fenced("python", "torch.jit.load"), scope)
    assert scope["probs"].shape == (3,) and scope["threshold"] == 0.5
    assert scope["is_hfo"].dtype == torch.bool
    commands = [line.split("#")[0].split() for line in fenced("bash", "stlar-dl export").splitlines()]
    assert commands[0] == ["stlar-dl", "export", "models"]
