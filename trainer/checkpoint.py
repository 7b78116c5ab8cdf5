"""`best.pt`: the model STLAR's export and inference load, saved atomically on each new best val loss.

Format: a dict `{"model_state", "model_type", "epoch", "val_loss", "config"}` of tensors and plain Python
values only, so it loads with `torch.load(path, weights_only=True)` (no pickled code runs on load).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared.atomic import atomic_path
from shared.errors import InputError, RunDirError
from trainer.early_checkpoints import model_from_state


def checkpoint_dict(model: nn.Module, model_type: int, epoch: int, val_loss: float,
                    config: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's content; tensors are copied to the CPU so a GPU run's file loads anywhere."""
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return {
        "model_state": state,
        "model_type": int(model_type),
        "epoch": int(epoch),
        "val_loss": float(val_loss) if math.isfinite(val_loss) else None,
        "config": _plain(config),
    }


def save_checkpoint(path: str | Path, model: nn.Module, model_type: int, epoch: int, val_loss: float,
                    config: dict[str, Any]) -> None:
    """Write best.pt atomically; RunDirError (the earlier `best.pt` intact) if it cannot be written."""
    save_atomically(checkpoint_dict(model, model_type, epoch, val_loss, config), path, "checkpoint")


def save_atomically(data: dict[str, Any], path: str | Path, what: str) -> None:
    """`torch.save` `data` to `path` atomically: readers and a crash see the previous file or the new one whole.

    Raises RunDirError naming `what` (e.g. "checkpoint"), the path and the cause if the file cannot be written,
    e.g. the disk is full; the previous file, if any, is then intact and no temporary file is left.
    """
    path = Path(path)
    # Serialised in memory, then written as plain bytes: torch's own file writer reports a full disk as
    # "unexpected pos 15808 vs 15704" (a RuntimeError); a plain write says "No space left on device".
    buffer = io.BytesIO()
    torch.save(data, buffer)
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getbuffer())
    except OSError as exc:
        raise RunDirError(
            f"{path}: cannot save the {what} ({exc.strerror or exc}); free disk space or choose another "
            f"--out-dir (the previous {path.name}, if any, is intact)"
        ) from exc


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (`weights_only=True`); raise InputError if it is missing or not ours."""
    path = Path(path)
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise InputError(f"checkpoint {path}: file not found") from None
    except Exception as exc:  # unpickling errors come in many types
        raise InputError(f"checkpoint {path}: cannot load it ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(data, dict) or "model_state" not in data or "model_type" not in data:
        raise InputError(f"checkpoint {path}: not a stlar-dl checkpoint (no model_state/model_type)")
    return data


def load_model(path: str | Path, map_location: str = "cpu") -> nn.Module:
    """The checkpoint's model with its weights, in eval mode, ready to predict logits.

    Checkpoints of every layout this project has written load (see `trainer.early_checkpoints`).
    """
    data = load_checkpoint(path, map_location)
    model_type = data["model_type"]
    if isinstance(model_type, bool) or not isinstance(model_type, int):
        raise InputError(f"checkpoint {path}: model_type {model_type!r} is not a model type number")
    model = model_from_state(model_type, data["model_state"], source=f"checkpoint {path}")
    return model.to(map_location).eval()


def _plain(value: Any) -> Any:
    """Reduce a config to what `weights_only` loading accepts: str, int, float, bool, None, lists, dicts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
