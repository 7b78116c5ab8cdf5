"""Checkpoints from before the models took STLAR's layout still load and predict what they predicted."""

from __future__ import annotations

import pytest
import torch

from early_checkpoints import fill_state, fixed_input, layout
from model_fixtures import stlar_layouts
from shared.errors import InputError
from trainer.checkpoint import load_model, save_checkpoint
from trainer.early_checkpoints import EarlySimpleCNN1d, early_layout, upgrade_state
from trainer.models import ResNet1D, build_model


def _write_early(path, model_type: int) -> None:
    keys = layout()[str(model_type)]["keys"]
    torch.save({"model_state": fill_state(keys), "model_type": model_type, "epoch": 4, "val_loss": 0.3,
                "config": {"model_type": model_type}}, path)


@pytest.mark.parametrize("model_type, cls", [(1, EarlySimpleCNN1d), (2, ResNet1D)])
def test_an_early_checkpoint_predicts_what_it_predicted(tmp_path, model_type, cls):
    path = tmp_path / "archive" / "20261201-101500_abc" / "best.pt"
    path.parent.mkdir(parents=True)
    _write_early(path, model_type)
    model = load_model(path)
    assert isinstance(model, cls) and not model.training
    with torch.no_grad():
        logits = model(fixed_input())
    # The logits the earlier code gave with these weights (written by that code into the fixture).
    assert logits.tolist() == pytest.approx(layout()[str(model_type)]["logits"], abs=1e-5)


def test_an_early_resnet_state_becomes_stlars_layout():
    early = fill_state(layout()["2"]["keys"])
    assert early_layout(2, early)
    state = upgrade_state(2, early)
    assert [(k, list(v.shape)) for k, v in state.items()] == stlar_layouts()[2]["keys"]
    assert not early_layout(2, state)
    # Renamed, not copied or changed: the same tensors under the new names.
    assert state["initial.0.weight"] is early["stem.0.0.weight"]
    assert state["layer2.downsample.1.running_var"] is early["stages.1.0.shortcut.1.running_var"]
    assert state["fc.bias"] is early["head.bias"]


def test_todays_states_pass_through_unchanged():
    for model_type in (1, 2, 3, 4, 5):
        state = build_model(model_type).state_dict()
        assert upgrade_state(model_type, state) is state


def test_an_early_simple_cnn_cannot_be_converted():
    with pytest.raises(InputError, match="different network from STLAR's type 1"):
        upgrade_state(1, fill_state(layout()["1"]["keys"]))


def test_a_state_of_another_type_is_one_clear_error(tmp_path):
    path = tmp_path / "best.pt"
    save_checkpoint(path, build_model(5), 5, epoch=1, val_loss=0.5, config={})
    data = torch.load(path, weights_only=True)
    data["model_type"] = 1
    torch.save(data, path)
    with pytest.raises(InputError) as info:
        load_model(path)
    assert str(info.value) == (
        f"checkpoint {path}: its model_state does not fit model type 1 (Simple 1-D CNN): missing head.bias, "
        "head.weight, net.3.bias, ...; unexpected fc.bias, fc.weight, net.5.bias, ...")


def test_a_state_with_other_shapes_is_one_clear_error(tmp_path):
    path = tmp_path / "best.pt"
    state = build_model(1).state_dict()
    state["net.6.weight"] = torch.zeros(64, 32, 5)
    torch.save({"model_state": state, "model_type": 1}, path)
    with pytest.raises(InputError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"checkpoint {path}: its model_state does not fit model type 1 (Simple 1-D CNN): ")
    assert "net.6.weight" in message and "\n" not in message


@pytest.mark.parametrize("model_type", [9, "2", None])
def test_an_unknown_model_type_in_a_checkpoint(tmp_path, model_type):
    path = tmp_path / "best.pt"
    torch.save({"model_state": build_model(2).state_dict(), "model_type": model_type}, path)
    with pytest.raises(InputError, match=f"checkpoint {path}: model_type .* (is not a model type|1-5)"):
        load_model(path)
