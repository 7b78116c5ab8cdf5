"""ONNX export for `stlar-dl export --onnx`: dynamic batch and length, checked with onnxruntime.

Needs the optional extra (`pip install 'stlar-dl[onnx]'`): onnx, onnxscript (torch's exporter) and
onnxruntime (the check). Imported only when --onnx is given.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

ONNX_OPSET = 17
ONNX_HINT = "pip install 'stlar-dl[onnx]' (onnx, onnxscript and onnxruntime)"
# Type 4 adds its position encoding up to 1000 steps (5005 samples). ONNX keeps no shape-dependent branch
# here, so its graph is exported, and checked, for lengths up to there.
ONNX_MAX_SAMPLES = {4: 5005}


def onnx_available() -> bool:
    """True if the onnx extra is installed."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def write_onnx(wrapped: nn.Module, model_type: int, path: Path, example_len: int, min_len: int) -> None:
    """Export with dynamic batch and length. Types 1-3 go through the TorchScript-based exporter (it keeps
    their lengths symbolic); 4 and 5 through torch.export (the other cannot export 5's complex STFT, and
    4's attention reshapes only trace symbolically there). The example batch has 2 windows: torch.export
    fixes any dimension that is 1 in the example."""
    example = torch.randn(2, 1, max(example_len, min_len))
    if model_type in (1, 2, 3):
        torch.onnx.export(wrapped, (example,), str(path), input_names=["input"], output_names=["logits"],
                          opset_version=ONNX_OPSET, dynamo=False,
                          dynamic_axes={"input": {0: "batch", 2: "length"}, "logits": {0: "batch"}})
        return
    max_len = ONNX_MAX_SAMPLES.get(model_type)
    example = example[..., :max_len] if max_len else example
    batch = torch.export.Dim("batch", min=1)
    length = torch.export.Dim("length", min=min_len, **({"max": max_len} if max_len else {}))
    program = torch.onnx.export(wrapped, (example,), None, input_names=["input"], output_names=["logits"],
                                dynamic_shapes={"x": {0: batch, 2: length}}, dynamo=True, verbose=False)
    program.save(str(path))


def onnx_predictor(path: Path) -> Callable[[torch.Tensor], np.ndarray]:
    """A function from a batch to the ONNX file's logits, run by onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x.numpy()})[0]
