"""torch's side of a train-dl run before its first epoch: threads, seeds, model, optimiser, loaders, and a
resumed run's state put back.

Everything here is built after the inputs are validated and before the run dir is touched; the order
(threads, seeds, then the model's initial weights, then the loaders) is what makes a seed give the same run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from shared.lr_schedule import schedule_of
from trainer.distributed import Place
from trainer.interrupt import ShieldedLoader, shield_workers
from trainer.resume import restore
from trainer.run_inputs import RunInputs
from trainer.shards import loaders


@dataclass
class Training:
    """The objects a run trains with. `trained` is `model`, or its DDP wrapper under torchrun."""

    model: Any
    trained: Any
    optimizer: Any
    train_loader: ShieldedLoader
    val_loader: ShieldedLoader
    state: Any  # trainer.loop.LoopState
    n_params: int


def seed_everything(seed: int) -> None:
    """Seed python's random, numpy and torch (CPU and CUDA). The loaders take the seed separately."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads(threads: int) -> None:
    """Give torch `threads` CPU threads for training; 0 keeps torch's default.

    torch's default is one thread per core (or OMP_NUM_THREADS, which torch reads at import). On the 2-core
    dev machine that trains the demo 1.3-1.6x faster than one thread, alone or next to a live viewer
    (benchmarks/RESULTS.md); only when other processes keep the cores fully busy do OpenMP threads that
    spin-wait for each other make fewer threads faster, which is what `--threads` is for.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)


def build_training(inputs: RunInputs, place: Place, given: frozenset[str]) -> Training:
    """The model, optimiser and loaders of the run `inputs` describe; a resume's state restored into them."""
    import torch

    from trainer.loop import LoopState
    from trainer.models import build_model

    cfg, point, device = inputs.cfg, inputs.point, inputs.device
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    model = build_model(cfg.model_type).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_loader, val_loader = (shield_workers(loader)
                                for loader in loaders(cfg, inputs.train_set, inputs.val_set, place))
    n_params = sum(p.numel() for p in model.parameters())
    state = LoopState(schedule=schedule_of(cfg.as_record()))
    if point is not None:
        restore(point, model=model, optimizer=optimizer, loop_state=state, loader=train_loader.loader, cfg=cfg)
        schedule_state = point.last.get("schedule_state")
        if state.schedule is not None and schedule_state:
            state.schedule.load_state_dict(schedule_state)
            if "lr" not in given and state.schedule.cuts:  # continue at the lr the schedule had reached
                for group in optimizer.param_groups:
                    group["lr"] = state.schedule.cuts[-1].new
    trained = model
    if place.distributed:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, device_ids=[device] if device.startswith("cuda") else None)
    return Training(model=model, trained=trained, optimizer=optimizer, train_loader=train_loader,
                    val_loader=val_loader, state=state, n_params=n_params)
