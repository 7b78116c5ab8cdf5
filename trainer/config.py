"""The options of `stlar-dl train-dl`: their defaults (STLAR's), and checks that turn bad values into one line.

Pure and light: no torch import, so a bad option is refused before the training stack loads.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from shared.errors import InputError
from shared.lr_options import DEFAULT_SCHEDULE, SCHEDULES
from shared.lr_options import LR_FACTOR as SCHEDULE_FACTOR
from shared.lr_options import MIN_LR as SCHEDULE_MIN_LR
from shared.model_types import MODEL_NAMES, UNSUPPORTED_TYPES, choices
from shared.rundir import DEFAULT_RUN_DIR

# Defaults, compatible with STLAR's train-dl.
EPOCHS = 15  # full passes over the training set, >= 1
BATCH_SIZE = 64  # segments per optimiser step, >= 1
LR = 1e-3  # Adam learning rate, >= 0 (0 trains nothing: useful to test early stopping)
WEIGHT_DECAY = 1e-4  # Adam L2 penalty, >= 0
NUM_WORKERS = 2  # data-loader worker processes, >= 0 (0 = load in the training process)
MODEL_TYPE = 2  # STLAR's numbers: 1 Simple 1-D CNN, 2 ResNet-1D, 3 InceptionTime, 4 HFO Transformer, 5 Spectrogram 2-D CNN
FS = 4800.0  # the segments' sampling rate, Hz (> 0): recorded in the config and the export (STLAR's default)
PATIENCE = 5  # early stop after this many epochs without a new best val loss, >= 0
MIN_DELTA = 0.0  # a new best must beat the old best val loss by more than this (loss units), >= 0
DEVICE = "auto"  # auto (cuda if available, else cpu), cpu, cuda or cuda:N
SEED = 42  # seeds torch, numpy, random and the shuffling; same seed + data + CPU = same losses
THREADS = 0  # torch's CPU threads, >= 0; 0 = torch's default (one per core, or OMP_NUM_THREADS if set)
LR_SCHEDULE = DEFAULT_SCHEDULE  # none or plateau (see shared/lr_schedule.py)
LR_FACTOR = SCHEDULE_FACTOR  # plateau schedule: multiply the lr by this, 0 < factor < 1
MIN_LR = SCHEDULE_MIN_LR  # plateau schedule: never below this, >= 0
# The longest segment accepted, in samples (>= 1): every batch is padded to its longest segment, so one
# 10-million-sample file among 300-sample ones would make every batch it is in 30,000x bigger (out of memory).
# 100,000 samples are 21 s at 4800 Hz; HFO segments are 15-200 ms.
MAX_SAMPLES = 100_000

DEVICE_CHOICES = ("auto", "cpu", "cuda")
_CUDA_INDEX = re.compile(r"cuda:\d+")


@dataclass(frozen=True)
class TrainConfig:
    """Every train-dl option, as the user gave it. The field order is the start record's `config` order."""

    train: str
    val: str
    epochs: int = EPOCHS
    batch_size: int = BATCH_SIZE
    lr: float = LR
    weight_decay: float = WEIGHT_DECAY
    out_dir: str = DEFAULT_RUN_DIR
    num_workers: int = NUM_WORKERS
    model_type: int = MODEL_TYPE
    fs: float = FS
    patience: int = PATIENCE
    min_delta: float = MIN_DELTA
    no_plot: bool = False
    gui: bool = False
    device: str = DEVICE
    seed: int = SEED
    threads: int = THREADS
    lr_schedule: str = LR_SCHEDULE
    lr_factor: float = LR_FACTOR
    min_lr: float = MIN_LR
    max_samples: int = MAX_SAMPLES

    def __post_init__(self) -> None:
        # Paths are kept as strings exactly as typed: they are printed back and logged as given.
        for name in ("train", "val", "out_dir"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))

    def as_record(self) -> dict[str, Any]:
        """The options as a JSON-ready dict (the start record's `config`, the checkpoint's `config`)."""
        return asdict(self)

    def validate(self) -> TrainConfig:
        """Return self if every option is in range, else raise InputError naming the option and the fix.

        The model type is checked by `check_model_type`.
        """
        _int_at_least("--epochs", self.epochs, 1, "train for at least one epoch")
        _int_at_least("--batch-size", self.batch_size, 1, "use at least 1 segment per batch (e.g. 64)")
        _int_at_least("--num-workers", self.num_workers, 0, "use 0 to load data in the training process")
        _int_at_least("--patience", self.patience, 0, "use 0 to turn early stopping off")
        _int_at_least("--seed", self.seed, 0, "use a non-negative integer such as 42")
        _int_at_least("--threads", self.threads, 0, "use 0 for torch's default (one thread per core)")
        _int_at_least("--max-samples", self.max_samples, 1, f"the longest segment to accept, e.g. {MAX_SAMPLES}")
        _finite_at_least("--lr", self.lr, "the learning rate must be >= 0 (e.g. 1e-3)")
        _finite_at_least("--weight-decay", self.weight_decay, "weight decay must be >= 0 (e.g. 1e-4; 0 = none)")
        _finite_at_least("--min-delta", self.min_delta, "the minimum improvement must be >= 0 (loss units)")
        _finite_at_least("--fs", self.fs, "the sampling rate must be a positive number of Hz (e.g. 4800)")
        if self.fs == 0:
            raise InputError(f"--fs {self.fs}: the sampling rate must be a positive number of Hz (e.g. 4800)")
        if self.lr_schedule not in SCHEDULES:
            raise InputError(f"--lr-schedule {self.lr_schedule}: unknown schedule; choose none or plateau")
        _finite_at_least("--lr-factor", self.lr_factor, "the factor must be between 0 and 1 (e.g. 0.5)")
        if not 0 < self.lr_factor < 1:
            raise InputError(f"--lr-factor {self.lr_factor}: the factor must be between 0 and 1 (e.g. 0.5: halve)")
        _finite_at_least("--min-lr", self.min_lr, "the smallest lr must be >= 0 (e.g. 1e-6)")
        check_device(self.device)
        for name, value in (("--train", self.train), ("--val", self.val), ("--out-dir", self.out_dir)):
            if not str(value).strip():
                raise InputError(f"{name}: empty path; give a file or folder name")
        return self


def check_model_type(model_type: Any) -> None:
    """Refuse STLAR's type 6 with its reason and any number that is no model type, listing the choices."""
    if model_type in UNSUPPORTED_TYPES and not isinstance(model_type, bool):
        raise InputError(f"--model-type {model_type}: {UNSUPPORTED_TYPES[model_type]}")
    if isinstance(model_type, bool) or model_type not in MODEL_NAMES:
        raise InputError(f"--model-type {model_type}: unknown model type; choose one of {choices()}")


def refuse_cwt(use_cwt: bool, debug_cwt: bool) -> None:
    """STLAR's CWT options feed its type 6, which stlar-dl does not train: say so instead of ignoring them."""
    for flag, given in (("--use-cwt", use_cwt), ("--debug-cwt", debug_cwt)):
        if given:
            raise InputError(f"{flag}: CWT scalogram input (STLAR's model type 6) is not supported by stlar-dl; "
                             "drop the option and train on the raw segments with --model-type 1-5")


def check_device(device: str) -> None:
    if device in DEVICE_CHOICES or _CUDA_INDEX.fullmatch(device):
        return
    raise InputError(f"--device {device}: unknown device; choose auto, cpu, cuda or cuda:N (N = GPU index)")


def resolve_device(device: str, cuda_available: bool, cuda_count: int = 0) -> str:
    """The torch device to train on: `auto` is cuda when available, else cpu. Refuses cuda without CUDA."""
    check_device(device)
    if device == "auto":
        return "cuda" if cuda_available else "cpu"
    if device.startswith("cuda"):
        if not cuda_available:
            raise InputError(
                f"--device {device}: CUDA is not available on this machine (torch without CUDA support or no "
                "GPU); use --device cpu or --device auto"
            )
        if ":" in device and int(device.split(":")[1]) >= cuda_count:
            raise InputError(f"--device {device}: no such GPU; this machine has {cuda_count} (cuda:0 ...)")
    return device


def _int_at_least(name: str, value: Any, low: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{name} {value}: must be an integer >= {low}; {fix}")


def _finite_at_least(name: str, value: Any, fix: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    if not ok:
        raise InputError(f"{name} {value}: {fix}")


OPTION_NAMES = tuple(f.name for f in fields(TrainConfig))
