"""What a train-dl run says about itself as it starts: the console's opening lines and the start record."""

from __future__ import annotations

import platform
from typing import Any

from shared.records import SCHEMA_VERSION
from shared.version import __version__
from trainer.config import TrainConfig
from trainer.distributed import Place
from trainer.segments import SegmentSet


def intro_lines(cfg: TrainConfig, train_set: SegmentSet, val_set: SegmentSet, model_name: str, n_params: int,
                device: str, place: Place, warn: str) -> list[str]:
    """The data, the model, the run dir and the data's warnings, before the run's first record."""
    lines = []
    for name, data, manifest in (("Train", train_set, cfg.train), ("Val", val_set, cfg.val)):
        lines.append(f"{name + ':':<6} {len(data)} segments ({data.n_positive} HFO) from {manifest}")
    on = f"{place.world_size} processes ({device.split(':')[0]}, torchrun)" if place.distributed else device
    lines.append(f"Model: {model_name} (type {cfg.model_type}, {n_params:,} parameters) on {on} | seed {cfg.seed}")
    lines.append(f"Run dir: {cfg.out_dir} | watch it live with: stlar-dl watch {cfg.out_dir}")
    lines.extend(f"{warn} {warning}" for warning in (*train_set.warnings, *val_set.warnings))
    return lines


def start_fields(cfg: TrainConfig, train_set: SegmentSet, val_set: SegmentSet, model_name: str, n_params: int,
                 train_loader: Any, val_loader: Any, place: Place) -> dict[str, Any]:
    """The start record's fields, but where the run trains (device, host, pid, world size)."""
    import torch

    fields = dict(
        schema=SCHEMA_VERSION, config=cfg.as_record(), epochs=cfg.epochs,
        n_train=len(train_set), n_val=len(val_set), n_train_positive=train_set.n_positive,
        n_val_positive=val_set.n_positive, model=model_name, parameters=n_params,
        threads=torch.get_num_threads(), batches=len(train_loader), val_batches=len(val_loader),
        warnings=[*train_set.warnings, *val_set.warnings],
        versions={"python": platform.python_version(), "torch": torch.__version__, "stlar-dl": __version__},
    )
    if place.distributed:  # `batches` and `val_batches` are then rank 0's share
        from trainer.shards import per_process_batch

        fields["batch_size_per_process"] = per_process_batch(cfg.batch_size, place.world_size)
    return fields
