"""Tests of trainer/models.py: both model types, any segment length, unknown types."""

from __future__ import annotations

import pytest
import torch

from shared.errors import InputError
from trainer.models import MODEL_TYPES, build_model


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("model_type", sorted(MODEL_TYPES))
@pytest.mark.parametrize("length", [16, 70, 600])
def test_forward_gives_one_logit_per_segment(model_type: int, length: int) -> None:
    model = build_model(model_type)
    x = torch.randn(5, 1, length)
    out = model(x)
    assert out.shape == (5,) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    out.sum().backward()  # trainable end to end
    model.eval()
    with torch.no_grad():
        assert model(x[:1]).shape == (1,)


@pytest.mark.parametrize("model_type", sorted(MODEL_TYPES))
def test_a_batch_of_one_short_segment_trains(model_type: int) -> None:
    # The ResNet's last stage sees length 3 for 70 samples: BatchNorm still has 3 values per channel.
    model = build_model(model_type).train()
    assert model(torch.randn(1, 1, 70)).shape == (1,)


@pytest.mark.parametrize("model_type", sorted(MODEL_TYPES))
def test_models_stay_small(model_type: int) -> None:
    n_params = sum(p.numel() for p in build_model(model_type).parameters())
    assert n_params < 1_000_000


def test_model_types_are_named() -> None:
    assert MODEL_TYPES == {1: "simple 1-D CNN", 2: "ResNet-1D"}


def test_resnet_has_four_stages_of_growing_width() -> None:
    model = build_model(2)
    widths = [stage[0].conv2.out_channels for stage in model.stages]
    assert widths == [32, 64, 128, 256]


@pytest.mark.parametrize("model_type", [0, 3, -1])
def test_unknown_model_type(model_type: int) -> None:
    with pytest.raises(InputError) as info:
        build_model(model_type)
    assert str(info.value) == (
        f"--model-type {model_type}: unknown model type; choose 1 (simple 1-D CNN) or 2 (ResNet-1D)"
    )
