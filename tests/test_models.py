"""Tests of trainer/models.py: STLAR's state-dict layout for types 1-5, any accepted length, pinned logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from early_checkpoints import fill_state
from model_fixtures import pinned_input, pinned_logits, stlar_layouts
from shared.errors import InputError
from shared.model_types import MIN_SAMPLES
from trainer.models import MODEL_TYPES, build_model

TYPES = [1, 2, 3, 4, 5]
STLAR_NOTES = Path(__file__).resolve().parents[2] / "shared" / "stlar-models.md"  # beside the clone, if there


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def _filled(model_type: int) -> torch.nn.Module:
    """A model with the deterministic weights the pinned logits were computed with, in eval mode."""
    model = build_model(model_type)
    keys = [[k, list(v.shape), str(v.dtype)] for k, v in model.state_dict().items()]
    model.load_state_dict(fill_state(keys, seed=model_type))
    return model.eval()


@pytest.mark.parametrize("model_type", TYPES)
def test_state_dict_is_stlars(model_type: int) -> None:
    expected = stlar_layouts()[model_type]
    model = build_model(model_type)
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == expected["keys"]  # names, shapes and order
    assert len(ours) == expected["n_keys"]
    assert sum(p.numel() for p in model.parameters()) == expected["n_params"]


@pytest.mark.skipif(not STLAR_NOTES.exists(), reason=f"{STLAR_NOTES} is not beside this clone")
def test_the_copied_layout_matches_the_notes() -> None:
    assert stlar_layouts(STLAR_NOTES.read_text().split("## State-dict keys and shapes")[1]) == stlar_layouts()


@pytest.mark.parametrize("model_type", TYPES)
def test_pinned_logits(model_type: int) -> None:
    # Checked once against STLAR's own model.py with the same weights (identical logits): any later change
    # of a forward, a padding or a layer order moves these numbers.
    with torch.no_grad():
        logits = _filled(model_type)(pinned_input())
    assert logits.shape == (3,)
    assert logits.tolist() == pytest.approx(pinned_logits()[model_type], abs=1e-5)


@pytest.mark.parametrize("model_type", TYPES)
def test_forward_runs_on_every_length_stlar_segments_have(model_type: int) -> None:
    model = _filled(model_type)
    lengths = sorted(n for n in {MIN_SAMPLES[model_type], 65, 97, 333, 2001, 5000}
                     if n >= MIN_SAMPLES[model_type])
    with torch.no_grad():
        for length in lengths:
            for batch in (1, 2):
                out = model(torch.randn(batch, 1, length))
                assert out.shape == (batch,) and torch.isfinite(out).all(), (length, batch)


@pytest.mark.parametrize("model_type", TYPES)
def test_training_mode_backpropagates(model_type: int) -> None:
    model = build_model(model_type).train()
    out = model(torch.randn(3, 1, 150))
    assert out.shape == (3,)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("model_type", TYPES)
def test_min_samples_is_the_exact_bound(model_type: int) -> None:
    model = build_model(model_type).eval()
    shortest = MIN_SAMPLES[model_type]
    with torch.no_grad():
        assert model(torch.randn(2, 1, shortest)).shape == (2,)
        if shortest > 1:
            with pytest.raises(RuntimeError):
                model(torch.randn(2, 1, shortest - 1))


def test_the_transformer_adds_its_position_encoding_up_to_1000_steps() -> None:
    model = _filled(4)
    with torch.no_grad():
        for length, added in ((5000, True), (5005, True), (5006, False)):  # 1000 steps = 5005 samples
            steps = (length + 4 - 10) // 5 + 1
            assert (steps <= 1000) == added
            x = torch.randn(1, 1, length)
            base = model(x)
            model.pos_encoder.add_(1.0)
            moved = model(x)
            model.pos_encoder.sub_(1.0)
            assert (not torch.allclose(base, moved)) == added


def test_model_types_are_named() -> None:
    assert MODEL_TYPES == {1: "Simple 1-D CNN", 2: "ResNet-1D", 3: "InceptionTime", 4: "HFO Transformer",
                           5: "Spectrogram 2-D CNN"}


def test_type_6_is_refused_with_the_reason() -> None:
    with pytest.raises(InputError, match=r"--model-type 6: type 6 \(2-D CNN on CWT scalograms\) is not supported"):
        build_model(6)


@pytest.mark.parametrize("model_type", [0, 7, -1, True])
def test_unknown_model_type(model_type: int) -> None:
    with pytest.raises(InputError) as info:
        build_model(model_type)
    assert str(info.value) == (
        f"--model-type {model_type}: unknown model type; choose one of 1 (Simple 1-D CNN), 2 (ResNet-1D), "
        "3 (InceptionTime), 4 (HFO Transformer), 5 (Spectrogram 2-D CNN)"
    )


def test_every_surface_names_models_from_one_table() -> None:
    # The viewer's words (shared.names) and the trainer's (shared.model_types) are the same table.
    from shared import model_types, names

    assert names.MODEL_NAMES is model_types.MODEL_NAMES
    assert [names.model_name(t) for t in (1, 3, 5)] == ["Simple 1-D CNN", "InceptionTime", "Spectrogram 2-D CNN"]
