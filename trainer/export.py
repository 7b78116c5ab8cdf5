"""`stlar-dl export`: a checkpoint as TorchScript (what STLAR's DL detection loads) and, optionally, ONNX.

Contract:
- The exported model takes `(batch, 1, length)` float32 windows, each z-scored on its own and zero-padded
  on the right, for any batch size and any length the model type accepts (`shared.model_types.MIN_SAMPLES`;
  the ONNX file of type 4 up to 5005 samples, see `ONNX_MAX_SAMPLES`), and returns logits `(batch, 1)`, as
  STLAR's own exported models do; P(HFO) = sigmoid(logits.squeeze(-1)).
- Every file is written to a temporary name, loaded back, and checked: on random z-scored, padded batches
  of several sizes and lengths its probabilities must equal the checkpoint model's within `TOLERANCE`.
  Only then is it renamed into place; a failed check raises ExportError and leaves nothing behind.
- A small JSON beside each file carries what a detector needs besides the weights: the decision threshold
  (the one training chose, if it chose one; otherwise 0.5, said so), the sampling rate, the input contract.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from shared.atomic import atomic_path, write_json
from shared.errors import ExportError, InputError
from shared.model_types import MIN_SAMPLES, model_name
from shared.rundir import CHECKPOINT_NAME, METRICS_NAME
from shared.version import __version__
from trainer.checkpoint import load_checkpoint
from trainer.early_checkpoints import early_layout, model_from_state
from trainer.export_check import TOLERANCE, check_batches, describe, max_prob_diff
from trainer.export_onnx import ONNX_HINT, ONNX_MAX_SAMPLES, onnx_available, onnx_predictor, write_onnx

DEFAULT_TS_NAME = "model_torchscript.pt"  # beside best.pt when --ts is not given


class StlarOutput(nn.Module):
    """The model with STLAR's output shape, `(batch, 1)`: its detector's `logits.squeeze(-1)` then gives
    `(batch,)` for every batch size, a batch of one included."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).unsqueeze(-1)


@dataclass
class ExportResult:
    """What `export` wrote and how well each file reproduced the checkpoint."""

    checkpoint: Path
    files: list[Path] = field(default_factory=list)  # model files, then their JSON
    checks: dict[str, float] = field(default_factory=dict)  # format -> max |P diff|
    check_inputs: str = ""  # the check's inputs, in words
    threshold: float = 0.5
    threshold_source: str = ""


def resolve_checkpoint(target: str | Path) -> Path:
    """`RUN_DIR` -> `RUN_DIR/best.pt`; a file is taken as it is. Raises InputError if there is none."""
    path = Path(target).expanduser()
    if path.is_dir():
        path = path / CHECKPOINT_NAME
        if not path.exists():
            raise InputError(f"{target}: no {CHECKPOINT_NAME} in this folder; pass a run dir that finished at "
                             "least one epoch, or the checkpoint file itself")
    elif not path.exists():
        raise InputError(f"{target}: no such run dir or checkpoint file; check the path")
    return path


def export(target: str | Path, ts: str | Path | None = None, onnx: str | Path | None = None,
           example_len: int = 2000, say: Callable[[str], None] = print) -> ExportResult:
    """Export the checkpoint `target` (a run dir or a `best.pt`) as TorchScript at `ts` (default beside
    the checkpoint) and, if `onnx` is given, as ONNX; check each; write their JSON. See the module doc."""
    ckpt_path = resolve_checkpoint(target)
    if onnx is not None and not onnx_available():
        raise InputError(f"--onnx {onnx}: ONNX export needs the optional extra: {ONNX_HINT}")
    data = load_checkpoint(ckpt_path)
    model_type = data["model_type"]
    model = model_from_state(model_type, data["model_state"], source=f"checkpoint {ckpt_path}").eval()
    min_len = MIN_SAMPLES.get(model_type, 1)
    if isinstance(example_len, bool) or not isinstance(example_len, int) or example_len < min_len:
        raise InputError(f"--example-len {example_len}: must be an integer >= {min_len}, the shortest input of "
                         f"{model_name(model_type)}")
    ts_path = Path(ts) if ts is not None else ckpt_path.parent / DEFAULT_TS_NAME
    outputs = [p for p in (ts_path, None if onnx is None else Path(onnx)) if p is not None]
    for out in outputs:
        if out.is_dir():
            raise InputError(f"{out}: is a folder; name the file to write")
        if out.resolve() == ckpt_path.resolve():
            raise InputError(f"{out}: is the checkpoint itself; choose another file name")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{out}: cannot create its folder ({exc.strerror or exc}); choose another place") from None

    threshold, source = decision_threshold(data, ckpt_path)
    result = ExportResult(checkpoint=ckpt_path, threshold=threshold, threshold_source=source)
    wrapped = StlarOutput(model).eval()
    jobs = [(ts_path, "TorchScript", lambda tmp: torch.jit.script(wrapped).save(str(tmp)), _torchscript_predictor,
             None)]
    if onnx is not None:
        jobs.append((Path(onnx), "ONNX", lambda tmp: write_onnx(wrapped, model_type, tmp, example_len, min_len),
                     onnx_predictor, ONNX_MAX_SAMPLES.get(model_type)))
    for out, fmt, write, predictor, max_len in jobs:
        _write_checked(out, fmt, write, predictor, model, min_len, max_len, example_len, result, say)
        # Each file's JSON right after the file: a later failure (ONNX) leaves a complete TorchScript export.
        json_path = metadata_path(out, [job[0] for job in jobs])
        try:
            write_json(json_path, export_metadata(data, ckpt_path, out, result, model_type, min_len))
        except OSError as exc:
            raise ExportError(f"{json_path}: cannot write it ({exc.strerror or exc})") from None
        result.files.append(json_path)
    return result


def metadata_path(out: Path, outputs: list[Path]) -> Path:
    """`model.pt` -> `model.json`; `model.onnx` -> `model.onnx.json` when a `model.pt` beside it takes `model.json`."""
    plain = out.with_suffix(".json")
    taken = [o for o in outputs if o != out and o.with_suffix(".json") == plain]
    return out.with_name(out.name + ".json") if taken and out.suffix.lower() == ".onnx" else plain


def decision_threshold(data: dict[str, Any], ckpt_path: Path) -> tuple[float, str]:
    """The decision threshold training chose and where it comes from, or 0.5 and "not chosen"."""
    value = (data.get("config") or {}).get("threshold")
    if _probability(value):
        return float(value), f"chosen in training: maximises F1 on the validation set at epoch {data.get('epoch')}"
    metrics_path = ckpt_path.parent / METRICS_NAME
    with contextlib.suppress(OSError, ValueError, AttributeError):
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        # Only the metrics of the run that wrote this checkpoint: same best epoch.
        if _probability(metrics.get("threshold")) and metrics.get("best_epoch") == data.get("epoch"):
            return float(metrics["threshold"]), (f"chosen in training: maximises F1 on the validation set at epoch "
                                                 f"{data.get('epoch')} ({METRICS_NAME})")
    return 0.5, "not chosen: the checkpoint records no threshold; 0.5 is a default, not a tuned value"


def export_metadata(data: dict[str, Any], ckpt_path: Path, out: Path, result: ExportResult, model_type: int,
                    min_len: int) -> dict[str, Any]:
    """The JSON written beside an exported file."""
    config = data.get("config") or {}
    onnx = out.suffix.lower() == ".onnx"
    max_len = ONNX_MAX_SAMPLES.get(model_type) if onnx else None
    stlar_layout = not early_layout(model_type, data["model_state"]) or model_type != 1
    return {
        "format": "ONNX" if onnx else "TorchScript",
        "file": out.name,
        "model_type": model_type,
        "model_name": model_name(model_type),
        "threshold": result.threshold,
        "threshold_source": result.threshold_source,
        "fs": config.get("fs"),
        "input": {
            "shape": "(batch, 1, length), float32",
            "min_length": min_len,
            "max_length": max_len,
            "preprocessing": "z-score each window on its own (mean 0, std 1), zero-pad on the right to the "
                             "batch's longest",
        },
        "output": "logits of shape (batch, 1); P(HFO) = sigmoid(logits.squeeze(-1))",
        "check": {"max_abs_prob_diff": result.checks.get("ONNX" if onnx else "TorchScript"),
                  "tolerance": TOLERANCE, "inputs": result.check_inputs},
        "checkpoint": str(ckpt_path),
        "epoch": data.get("epoch"),
        "val_loss": data.get("val_loss"),
        "stlar_build_model_loads_checkpoint": stlar_layout,
        "stlar_dl_version": __version__,
    }


# ---- writing and checking ------------------------------------------------------------------------------


def _write_checked(path: Path, fmt: str, write: Callable[[Path], None], predictor: Callable[[Path], Any],
                   model: nn.Module, min_len: int, max_len: int | None, example_len: int, result: ExportResult,
                   say: Callable[[str], None]) -> None:
    """Write with `write` to a temporary file, load it with `predictor`, check it, then rename it to `path`."""
    try:
        with atomic_path(path) as tmp:
            try:
                with _quiet():
                    write(tmp)
            except Exception as exc:  # noqa: BLE001 - exporters raise many types
                raise ExportError(f"{path}: {fmt} export failed ({' '.join(str(exc).split())[:300]})") from None
            predict = predictor(tmp)
            batches = check_batches(min_len, max_len, example_len)
            diff = max_prob_diff(model, predict, batches)
            result.check_inputs = describe(batches)
            if not diff <= TOLERANCE:
                raise ExportError(f"{path}: the {fmt} model's probabilities differ from the checkpoint's by up to "
                                  f"{diff:.2e} (allowed {TOLERANCE:.0e}); nothing written")
    except OSError as exc:
        raise ExportError(f"{path}: cannot write it ({exc.strerror or exc}); check the folder and free space") from None
    result.checks[fmt] = diff
    result.files.append(path)
    say(f"Wrote {fmt} to {path}; check: max |P(HFO) difference| {diff:.1e} <= {TOLERANCE:.0e} against the "
        f"checkpoint on {result.check_inputs}")


def _torchscript_predictor(path: Path) -> Callable[[torch.Tensor], np.ndarray]:
    with warnings.catch_warnings():  # torch 2.10+ calls TorchScript deprecated; STLAR's detector loads it
        # DeprecationWarning in some torch releases, FutureWarning in others: match the message, not the class.
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+.* is deprecated")
        loaded = torch.jit.load(str(path), map_location="cpu").eval()

    def predict(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return loaded(x).numpy()
    return predict


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress chatter and deprecation warnings; our own line says what happened."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(None):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _probability(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0
