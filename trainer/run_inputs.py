"""Step 1 of a train-dl run: everything it needs validated before anything is written.

The options, the run to resume (if any), both manifests and every segment, the model type against the
segments' lengths, and the device. A mistake raises InputError and the run dir is untouched. Under torchrun
every process validates; rank 0 alone reads a run dir to resume and the others receive what it found.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from shared.errors import InputError
from shared.model_types import MIN_SAMPLES, model_name
from trainer.config import TrainConfig, check_model_type, resolve_device
from trainer.distributed import Place, Solo, agreed, device_for
from trainer.resume import ResumePoint, check_data
from trainer.resume import find as find_resume
from trainer.segments import SegmentSet


@dataclass(frozen=True)
class RunInputs:
    """What a run trains on and with: the options (a resume's merged in), its data, its device."""

    cfg: TrainConfig
    point: ResumePoint | None  # the run to continue, None for a new run
    train_set: SegmentSet
    val_set: SegmentSet
    device: str


def validate_inputs(cfg: TrainConfig, comm: Solo, place: Place, cwd: Path | None, resume: str | None,
                    given: frozenset[str]) -> RunInputs:
    """Validate the options, the resume point and the data; raise InputError (nothing written) if any is bad."""
    from trainer.manifest import load_manifest
    from trainer.segments import check_min_length

    point: ResumePoint | None = None
    with agreed(comm):
        if resume and place.main:  # rank 0 reads the run dir; the others learn what it found
            point, cfg = find_resume(resume, cfg, given)
    # The other processes need last.pt and the start record, not the whole log (50 MB after a week).
    light = dataclasses.replace(point, records=[point.start]) if point is not None else None
    received, cfg = comm.broadcast((light, cfg))
    point = point if place.main else received
    with agreed(comm):
        cfg.validate()
        check_model_type(cfg.model_type)
        train_set = load_manifest(cfg.train, cwd=cwd, max_samples=cfg.max_samples)
        val_set = load_manifest(cfg.val, cwd=cwd, max_samples=cfg.max_samples)
        if len(train_set) < 2:
            raise InputError(f"--train {cfg.train}: only {len(train_set)} labelled segment; training needs at "
                             "least 2")
        if point is not None:
            check_data(point, len(train_set), len(val_set))
        import torch

        for data_set in (train_set, val_set):
            check_min_length(data_set, MIN_SAMPLES[cfg.model_type],
                             f"--model-type {cfg.model_type} ({model_name(cfg.model_type)})")
        cuda = torch.cuda.is_available()
        device = resolve_device(device_for(cfg.device, place, cuda), cuda, torch.cuda.device_count())
    return RunInputs(cfg=cfg, point=point, train_set=train_set, val_set=val_set, device=device)
