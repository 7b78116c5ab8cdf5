"""`stlar-dl export`: TorchScript that STLAR's detector loads, checked against the checkpoint; ONNX when the
extra is installed; the decision threshold in a JSON beside each file; one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from early_checkpoints import fill_state, layout
from shared.errors import ExportError
from shared.model_types import MIN_SAMPLES
from stlar_dl.cli import main
from trainer import export as export_module
from trainer.checkpoint import save_checkpoint
from trainer.data import pad_batch, zscore
from trainer.export import export
from trainer.export_check import check_batches
from trainer.export_onnx import ONNX_HINT, onnx_available
from trainer.models import build_model

# torch 2.10+ calls torch.jit.load deprecated; it is exactly what STLAR's detector runs.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")


def trained_like(model_type: int) -> torch.nn.Module:
    """A model with deterministic, non-trivial weights (running statistics included), in eval mode."""
    model = build_model(model_type)
    keys = [[k, list(v.shape), str(v.dtype)] for k, v in model.state_dict().items()]
    model.load_state_dict(fill_state(keys, seed=model_type))
    return model.eval()


def write_run(run_dir, model_type: int = 2, **config) -> torch.nn.Module:
    run_dir.mkdir(parents=True, exist_ok=True)
    model = trained_like(model_type)
    save_checkpoint(run_dir / "best.pt", model, model_type, epoch=3, val_loss=0.31,
                    config={"model_type": model_type, "fs": 4800.0, **config})
    return model


def detector_probs(ts_module, windows: list[np.ndarray]) -> np.ndarray:
    """What STLAR's DL detection does: z-score each window, pad, (B, 1, L), sigmoid(logits.squeeze(-1))."""
    x = torch.from_numpy(pad_batch([zscore(w) for w in windows])).unsqueeze(1)
    with torch.no_grad():
        return torch.sigmoid(ts_module(x).squeeze(-1)).numpy()


@pytest.mark.parametrize("model_type", [1, 2, 3, 4, 5])
def test_torchscript_loads_and_equals_the_checkpoint_for_any_batch_and_length(tmp_path, model_type):
    model = write_run(tmp_path / "run", model_type)
    lines = []
    result = export(tmp_path / "run", say=lines.append)
    ts_path = tmp_path / "run" / "model_torchscript.pt"
    assert result.files == [ts_path, tmp_path / "run" / "model_torchscript.json"]
    assert len(lines) == 1 and lines[0].startswith(f"Wrote TorchScript to {ts_path}; check: max |P(HFO) difference|")

    loaded = torch.jit.load(str(ts_path))
    rng = np.random.default_rng(model_type)
    shortest = MIN_SAMPLES[model_type]
    for batch, longest in ((1, shortest), (4, 400), (2, 5006)):  # 5006: past type 4's position encoding
        windows = [rng.standard_normal(longest)] + [rng.standard_normal(int(rng.integers(shortest, longest + 1)))
                                                    for _ in range(batch - 1)]
        got = detector_probs(loaded, windows)
        x = torch.from_numpy(pad_batch([zscore(w) for w in windows])).unsqueeze(1)
        with torch.no_grad():
            want = torch.sigmoid(model(x)).numpy()
        assert got.shape == (batch,)  # a batch of one too: the export returns (B, 1) as STLAR's models do
        assert np.max(np.abs(got - want)) <= 1e-5


def test_the_json_carries_threshold_fs_and_the_input_contract(tmp_path):
    write_run(tmp_path / "run", 5)
    export(tmp_path / "run", ts=tmp_path / "out" / "hfo.pt", say=lambda line: None)
    meta = json.loads((tmp_path / "out" / "hfo.json").read_text())
    assert (meta["format"], meta["file"], meta["model_type"], meta["model_name"]) == (
        "TorchScript", "hfo.pt", 5, "Spectrogram 2-D CNN")
    assert meta["threshold"] == 0.5 and meta["threshold_source"].startswith("not chosen")
    assert meta["fs"] == 4800.0 and meta["input"]["min_length"] == 96
    assert meta["check"]["max_abs_prob_diff"] <= 1e-5 and meta["check"]["tolerance"] == 1e-5
    assert (meta["epoch"], meta["val_loss"], meta["stlar_build_model_loads_checkpoint"]) == (3, 0.31, True)


def test_a_threshold_chosen_in_training_travels(tmp_path):
    write_run(tmp_path / "run", 1, threshold=0.37)
    result = export(tmp_path / "run" / "best.pt", say=lambda line: None)
    meta = json.loads((tmp_path / "run" / "model_torchscript.json").read_text())
    assert result.threshold == meta["threshold"] == 0.37
    assert meta["threshold_source"] == "chosen in training: maximises F1 on the validation set at epoch 3"


def test_a_threshold_in_the_metrics_of_the_same_run_travels(tmp_path):
    write_run(tmp_path / "run", 1)
    metrics = tmp_path / "run" / "training_metrics.json"
    metrics.write_text(json.dumps({"best_epoch": 3, "threshold": 0.62}))
    assert export(tmp_path / "run", say=lambda line: None).threshold == 0.62
    metrics.write_text(json.dumps({"best_epoch": 9, "threshold": 0.62}))  # another run's metrics
    assert export(tmp_path / "run", say=lambda line: None).threshold == 0.5


def test_an_early_checkpoint_exports_too(tmp_path):
    torch.save({"model_state": fill_state(layout()["1"]["keys"]), "model_type": 1, "epoch": 2, "val_loss": 0.4,
                "config": {}}, tmp_path / "best.pt")
    export(tmp_path / "best.pt", say=lambda line: None)
    meta = json.loads((tmp_path / "model_torchscript.json").read_text())
    assert meta["stlar_build_model_loads_checkpoint"] is False and meta["fs"] is None
    loaded = torch.jit.load(str(tmp_path / "model_torchscript.pt"))
    assert loaded(torch.randn(2, 1, 300)).shape == (2, 1)


def test_a_failed_check_leaves_nothing(tmp_path, monkeypatch):
    write_run(tmp_path / "run", 1)
    real = export_module._torchscript_predictor
    monkeypatch.setattr(export_module, "_torchscript_predictor",
                        lambda path: (lambda x, p=real(path): p(x) + 0.01))  # off by a little
    with pytest.raises(ExportError, match=r"probabilities differ from the checkpoint's by up to .* nothing written"):
        export(tmp_path / "run", say=lambda line: None)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.pt"]


def test_check_batches_cover_batch_sizes_and_lengths():
    batches = check_batches(min_len=96, max_len=None, example_len=2000)
    assert [tuple(b.shape) for b in batches] == [(1, 1, 96), (2, 1, 2000), (5, 1, 97), (2, 1, 1001), (1, 1, 5000)]
    assert all(b.dtype == torch.float32 for b in batches)
    assert [b.shape[-1] for b in check_batches(6, 5005, 9000)] == [6, 5000, 97, 1001, 5000]


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_the_command_prints_the_check_and_the_threshold(tmp_path, capsys):
    write_run(tmp_path / "run", 1)
    code, out, err = run_cli(["export", str(tmp_path / "run"), "--ts", str(tmp_path / "stlar" / "hfo.pt")], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"Wrote TorchScript to {tmp_path / 'stlar' / 'hfo.pt'}; check: max |P(HFO) difference|")
    assert lines[1:] == [f"Wrote {tmp_path / 'stlar' / 'hfo.json'}",
                         "Decision threshold: 0.5 (not chosen: the checkpoint records no threshold; 0.5 is a "
                         "default, not a tuned value)"]


@pytest.mark.parametrize("argv, needle", [
    (["export", "{tmp}/nowhere"], "{tmp}/nowhere: no such run dir or checkpoint file"),
    (["export", "{tmp}"], "{tmp}: no best.pt in this folder"),
    (["export", "{tmp}/run", "--example-len", "50"], "--example-len 50: must be an integer >= 96"),
    (["export", "{tmp}/run", "--ts", "{tmp}/run/best.pt"], "is the checkpoint itself"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    write_run(tmp_path / "run", 5)
    code, out, err = run_cli([a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert needle.format(tmp=tmp_path) in err
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.pt"]


def test_onnx_without_the_extra_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    write_run(tmp_path / "run", 1)
    monkeypatch.setattr(export_module, "onnx_available", lambda: False)
    code, out, err = run_cli(["export", str(tmp_path / "run"), "--onnx", str(tmp_path / "m.onnx")], capsys)
    assert code == 2 and out == ""
    assert err == f"Error: --onnx {tmp_path / 'm.onnx'}: ONNX export needs the optional extra: {ONNX_HINT}\n"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.pt"]  # nothing written, not even TorchScript


@pytest.mark.skipif(not onnx_available(), reason="the onnx extra is not installed (pip install 'stlar-dl[onnx]')")
@pytest.mark.parametrize("model_type", [2, 5])
def test_onnx_runs_with_dynamic_batch_and_length(tmp_path, model_type):
    import onnxruntime

    model = write_run(tmp_path / "run", model_type)
    export(tmp_path / "run", ts=tmp_path / "m.pt", onnx=tmp_path / "m.onnx", say=lambda line: None)
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for batch, length in ((1, 96), (4, 1234), (3, 5000)):
        x = torch.randn(batch, 1, length)
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        with torch.no_grad():
            assert np.abs(got[:, 0] - model(x).numpy()).max() <= 1e-4
    assert json.loads((tmp_path / "m.onnx.json").read_text())["format"] == "ONNX"
    assert json.loads((tmp_path / "m.json").read_text())["format"] == "TorchScript"


def test_help_names_the_extra(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli(["export", "--help"], capsys)
    assert code == 0
    assert "needs the onnx extra: pip install 'stlar-dl[onnx]'." in out  # not eaten as markup
    assert "RUN_DIR|CHECKPOINT" in out and "--example-len" in out
