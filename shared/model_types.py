"""The model types a user can train, by STLAR's numbers, and the names every surface shows for them.

Pure (no torch), so the viewer, the option checks and the reports name a model without loading the
training stack. The architectures themselves live in `trainer/models.py`.
"""

from __future__ import annotations

# STLAR's `--model-type` numbers and the names shown to users.
MODEL_NAMES = {
    1: "Simple 1-D CNN",
    2: "ResNet-1D",
    3: "InceptionTime",
    4: "HFO Transformer",
    5: "Spectrogram 2-D CNN",
}
# STLAR's type 6 (a 2-D CNN on CWT scalograms): refused with this reason.
UNSUPPORTED_TYPES = {
    6: "type 6 (2-D CNN on CWT scalograms) is not supported by stlar-dl (STLAR itself cannot compute its "
       "input with current scipy); choose 1-5",
}
# Shortest input each type accepts, in samples (measured: tests/test_models.py checks each bound both ways).
# Type 4: its embedding conv needs 6. Type 5: the centred STFT pads 64 samples on each side by reflection
# (more than 64 needed), and its two 2x2 max-pools then need at least 4 frames, 1 + length // 32 >= 4.
MIN_SAMPLES = {1: 1, 2: 1, 3: 1, 4: 6, 5: 96}


def model_name(model_type: object) -> str:
    """The name of a model type for people, e.g. "ResNet-1D"; "model type 7" for one we do not know."""
    name = MODEL_NAMES.get(model_type) if isinstance(model_type, int) else None
    return name or f"model type {model_type}"


def choices() -> str:
    """The accepted types as an error message lists them: "1 (Simple 1-D CNN), 2 (ResNet-1D), ..."."""
    return ", ".join(f"{k} ({v})" for k, v in MODEL_NAMES.items())
