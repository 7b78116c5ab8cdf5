"""The training runs the trainer figures share: `train-dl` itself, the same training with the run-dir protocol
off, and a plain PyTorch loop over the same tensors. Demo data and `stlar-dl demo`'s settings throughout.

Protocol on: `trainer.train_dl.train_dl(cfg)` in this process, exactly what `stlar-dl train-dl` runs after
parsing its options: log with fsync, stop-file poll before every batch, best.pt on each new best, the
diagnostic report, metrics, params and the curves PNG. Protocol off: the same setup steps (manifests, torch
threads, seeds, model, optimiser, loaders), then `trainer.loop.train_loop` with a `LoopIO` whose
`write_record` and `save_checkpoint` do nothing and whose stop poll is the default `False`; no run dir, no
report, no outputs. Both print the loop's console lines to a StringIO. Same seed: the same losses, which
`same_losses` checks.
"""

from __future__ import annotations

import functools
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path

from shared.logreader import read_log
from shared.records import EPOCH, START
from shared.rundir import RunDir


@dataclass
class Trained:
    seconds: float  # wall time of the whole run, from options to outputs
    val_loss: list[float]  # per epoch
    epoch_rates: list[float]  # training segments per second of each epoch (train + validation pass)
    epoch_period: float = math.nan  # seconds from the first epoch record to the last, per epoch: all per-epoch costs


def _period(times: list[float]) -> float:
    return (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else math.nan


def demo_config(data_dir: Path, out_dir: Path, epochs: int | None):
    from trainer.config import TrainConfig
    from trainer.demo import DEMO_EPOCHS, DEMO_MODEL_TYPE, DEMO_NUM_WORKERS

    return TrainConfig(train=str(data_dir / "manifest_train.csv"), val=str(data_dir / "manifest_val.csv"),
                       out_dir=str(out_dir), epochs=epochs or DEMO_EPOCHS, model_type=DEMO_MODEL_TYPE,
                       num_workers=DEMO_NUM_WORKERS)


def write_demo(data_dir: Path, n: int) -> None:
    from trainer.demo import DEMO_SEED
    from trainer.demo_data import write_demo_data

    write_demo_data(data_dir, n=n, seed=DEMO_SEED)


def _silent_printer():
    from trainer.console import Printer

    return Printer(io.StringIO(), tty=False)


def with_protocol(cfg) -> Trained:
    from trainer.train_dl import train_dl

    t0 = time.perf_counter()
    outcome = train_dl(cfg, _silent_printer())
    seconds = time.perf_counter() - t0
    if outcome.reason not in ("completed", "early_stopped"):
        raise RuntimeError(f"train-dl ended {outcome.reason}: {outcome.message}")
    records, _ = read_log(RunDir(cfg.out_dir).log)
    n_train = next(r["n_train"] for r in records if r["type"] == START)
    epochs = [r for r in records if r["type"] == EPOCH]
    return Trained(seconds, [r["val_loss"] for r in epochs], [n_train / r["seconds"] for r in epochs],
                   _period([r["time"] for r in epochs]))


@functools.lru_cache(maxsize=1)
def default_threads() -> int:
    """torch's own thread count in this process: call before any training changes it (train_pairs does)."""
    import torch

    return torch.get_num_threads()


def _setup(cfg):
    """train_dl's setup steps, in its order, without the run dir."""
    import torch

    from trainer import train_dl as td
    from trainer.data import load_manifest, make_loader
    from trainer.models import build_model

    train_set, val_set = load_manifest(cfg.train), load_manifest(cfg.val)
    # The plain loop and protocol-off sides use torch's default threads (or cfg.threads), set explicitly: an
    # older train-dl (a --baseline tree) sets its own count process-wide, which must not leak into them.
    torch.set_num_threads(getattr(cfg, "threads", 0) or default_threads())
    td.seed_everything(cfg.seed)
    model = build_model(cfg.model_type)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_loader = make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed, num_workers=cfg.num_workers)
    val_loader = make_loader(val_set, cfg.batch_size, shuffle=False, seed=cfg.seed, num_workers=cfg.num_workers)
    return model, optimizer, train_loader, val_loader, len(train_set)


def without_protocol(cfg) -> Trained:
    from trainer.loop import LoopIO, train_loop

    t0 = time.perf_counter()
    model, optimizer, train_loader, val_loader, n_train = _setup(cfg)
    epoch_times: list[float] = []
    stamps: list[float] = []

    def write_record(rtype, **fields):  # no log: only what the figures need from an epoch, no I/O
        if rtype == EPOCH:
            epoch_times.append(fields["seconds"])
            stamps.append(time.time())

    loop_io = LoopIO(write_record=write_record, save_checkpoint=lambda epoch, val_loss: None,
                     printer=_silent_printer())
    state = train_loop(model, optimizer, train_loader, val_loader, epochs=cfg.epochs, patience=cfg.patience,
                       min_delta=cfg.min_delta, io=loop_io, device="cpu")
    seconds = time.perf_counter() - t0
    return Trained(seconds, list(state.val_loss), [n_train / s for s in epoch_times], _period(stamps))


def plain_loop(cfg, epochs: int) -> Trained:
    """The same model, optimiser and batches in a bare PyTorch loop: one epoch's batches materialised once."""
    import torch
    from torch import nn

    model, optimizer, train_loader, val_loader, _n = _setup(cfg)
    batches, val_batches = list(train_loader), list(val_loader)
    n_train = sum(len(y) for _x, y in batches)
    loss_fn = nn.BCEWithLogitsLoss()
    rates, val_losses = [], []
    t_all = time.perf_counter()
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for x, y in batches:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_batches:
                total += float(loss_fn(model(x), y)) * len(y)
        rates.append(n_train / (time.perf_counter() - t0))
        val_losses.append(total / sum(len(y) for _x, y in val_batches))
    return Trained(time.perf_counter() - t_all, val_losses, rates)


def same_losses(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9) for x, y in zip(a, b))
