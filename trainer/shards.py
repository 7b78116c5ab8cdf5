"""The data each process of a torchrun job sees: its share of the training batches and of the validation batches.

Training: a `DistributedSampler` seeded with `--seed` deals a permutation that depends on the seed and the
epoch only (`set_epoch`), padded by repeating a few samples so every rank gets the same number of batches
(DDP needs every rank to take part in every step). `--batch-size` stays the batch of one optimiser step: each
of N processes takes ceil(batch_size / N) segments of it.

Validation: the single-process loader's batches (the same `--batch-size`, in order) are dealt round-robin:
rank r evaluates batches r, r+N, r+2N ... Each segment therefore shares its batch (and so its zero padding)
with exactly the segments it shares it with in one process, every segment is evaluated once, and gathering
the results in dealt order (`Group.gather`) gives back the single process's sequence of batches: the same
val loss, accuracy and AUROC, to the last bit on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from trainer.batches import _SegmentDataset, _seed_worker, collate_segments
from trainer.segments import SegmentSet
from trainer.distributed import Place


def per_process_batch(batch_size: int, world_size: int) -> int:
    """Segments each process takes of one `--batch-size` step (the step then holds N x this many)."""
    return max(1, math.ceil(batch_size / world_size))


class DealtBatches:
    """Batch sampler: the sequential batches of `n` items, every `world_size`-th one starting at `rank`."""

    def __init__(self, n: int, batch_size: int, rank: int, world_size: int) -> None:
        self.n, self.batch_size, self.rank, self.world_size = n, batch_size, rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        for start in range(self.rank * self.batch_size, self.n, self.world_size * self.batch_size):
            yield list(range(start, min(start + self.batch_size, self.n)))

    def __len__(self) -> int:
        batches = math.ceil(self.n / self.batch_size)
        return max(0, math.ceil((batches - self.rank) / self.world_size))


def train_loader(data: SegmentSet, batch_size: int, seed: int, num_workers: int, place: Place) -> Any:
    """This process's training loader; call `loader.sampler.set_epoch(epoch)` before each epoch."""
    import torch

    dataset = _SegmentDataset(data)
    sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=place.world_size, rank=place.rank,
                                                  shuffle=True, seed=seed)
    per_rank = per_process_batch(batch_size, place.world_size)
    # As in make_loader: a trailing batch of one segment cannot be batch-normalised. Every rank holds the
    # same number of samples, so all drop it or none does.
    drop_last = len(sampler) > 1 and len(sampler) % per_rank == 1
    return torch.utils.data.DataLoader(
        dataset, batch_size=per_rank, sampler=sampler, drop_last=drop_last, collate_fn=collate_segments,
        num_workers=num_workers, generator=torch.Generator().manual_seed(seed),
        worker_init_fn=_seed_worker if num_workers > 0 else None, persistent_workers=num_workers > 0)


def val_loader(data: SegmentSet, batch_size: int, num_workers: int, place: Place) -> Any:
    """This process's validation loader: its dealt share of the sequential batches."""
    import torch

    dataset = _SegmentDataset(data)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=DealtBatches(len(dataset), batch_size, place.rank, place.world_size),
        collate_fn=collate_segments, num_workers=num_workers,
        worker_init_fn=_seed_worker if num_workers > 0 else None, persistent_workers=num_workers > 0)


def loaders(cfg: Any, train_set: SegmentSet, val_set: SegmentSet, place: Place) -> tuple[Any, Any]:
    """train-dl's training and validation loaders in this process: its share of them under torchrun."""
    if place.distributed:
        train = train_loader(train_set, cfg.batch_size, cfg.seed, cfg.num_workers, place)
        val = val_loader(val_set, cfg.batch_size, cfg.num_workers, place)
    else:
        from trainer.batches import make_loader

        train = make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed, num_workers=cfg.num_workers)
        val = make_loader(val_set, cfg.batch_size, shuffle=False, seed=cfg.seed, num_workers=cfg.num_workers)
    return train, val
