"""The training loop: epochs of train and validation batches, early stopping, checkpoints, termination.

One loop in commented phases, read top to bottom (nanoGPT's shape). Everything it says to the world goes
through `LoopIO`, which the caller builds: `write_record` appends to the log, `save_checkpoint` writes
best.pt, `stop_requested`/`read_stop` poll the stop file, `interrupt_requested` polls Ctrl-C/SIGTERM, the
printer prints. A test can run three tiny epochs against lists.

Contract:
- Writes `progress` records within an epoch at most every `PROGRESS_EVERY_S` seconds (time-based), after
  a batch ends, in training and in validation. So the log hears from a live trainer at least every
  PROGRESS_EVERY_S + (one batch's time) seconds; the promised 30 s holds while a batch takes under 28 s.
  A single batch longer than that cannot be heartbeated from this thread, and the viewer must then rely
  on the pid/host in the start record to tell a slow trainer from a dead one.
- Polls the stop file and the interrupt flag before every training and validation batch and after each
  epoch. On the first request it prints a line, writes a `stop_requested` record at once, finishes the
  epoch (all its batches, validation, checkpoint) and ends with reason `stopped` or `interrupted`.
- A non-finite training loss ends the run at once (reason `diverged`), without an optimiser step on it:
  the epoch is recorded with a null train loss and no validation. A non-finite val loss also diverges.
- Returns the final `LoopState`; if an exception escapes (a second Ctrl-C, a log write failing), the
  `state` passed in still says how far the run got, for the end record.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from typing import Any, ContextManager

import numpy as np
import torch
from torch import nn

from shared.console import epoch_line, new_best_line
from shared.diagnostics import EarlyStopping, fmt_num
from shared.records import EPOCH, PROGRESS, STOP_REQUESTED
from trainer.console import ListPrinter, Printer
from trainer.interrupt import describe
from trainer.metrics import accuracy, auroc
from trainer.threshold import sigmoid, threshold_metrics

PROGRESS_EVERY_S = 2.0  # at most one progress record per this many seconds (and one per batch at most)


@dataclass
class LoopIO:
    """The loop's whole outside world. Defaults make a silent loop that never stops early."""

    write_record: Callable[..., Any]  # write_record(rtype, **fields): append one record to the log
    save_checkpoint: Callable[[int, float], None]  # (epoch, val_loss): save the model as the new best
    stop_requested: Callable[[], bool] = lambda: False  # the stop file's cheap poll (a stat)
    read_stop: Callable[[], dict | None] = lambda: None  # the stop file's content, read once on first sight
    interrupt_requested: Callable[[], str | None] = lambda: None  # "SIGINT"/"SIGTERM" after a first signal
    critical: Callable[[], ContextManager[Any]] = contextlib.nullcontext  # defers a hard abort around writes
    printer: Printer = field(default_factory=ListPrinter)
    clock: Callable[[], float] = time.monotonic  # durations and the progress throttle
    wall_clock: Callable[[], float] = time.time  # `requested_at` of a signal's stop request
    checkpoint_shown: str = "best.pt"  # the checkpoint path as the user would type it


@dataclass
class LoopState:
    """How far the run got; filled in as it goes, so it is meaningful after an exception too."""

    epoch: int = 0  # the epoch in progress (or the last one started)
    epochs_run: int = 0  # epochs that got an epoch record
    train_loss: list[float] = field(default_factory=list)  # per recorded epoch, NaN if non-finite
    val_loss: list[float] = field(default_factory=list)
    stop_cause: str | None = None  # "stopped" or "interrupted" once a stop was seen
    stop_request: dict | None = None  # what the stop_requested record carried
    reason: str | None = None  # an END_REASONS value once the loop has ended
    message: str = ""
    signal_noted: bool = False  # a signal after a stop-file stop was acknowledged
    early: EarlyStopping = field(default_factory=EarlyStopping)
    saved: tuple[int, float] | None = None  # (epoch, val loss) of the weights best.pt holds, once saved
    threshold: float | None = None  # the F1-maximising decision threshold of the epoch being saved as best


def train_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    val_loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    epochs: int,
    patience: int,
    min_delta: float,
    io: LoopIO,
    device: str | torch.device = "cpu",
    state: LoopState | None = None,
) -> LoopState:
    """Train for up to `epochs` epochs; return the state with `reason` and `message` set (see module doc)."""
    st = state if state is not None else LoopState()
    st.early = EarlyStopping(patience=patience, min_delta=min_delta)
    loss_fn = nn.BCEWithLogitsLoss()
    printer = io.printer
    n_batches = _length(train_loader)
    n_val_batches = _length(val_loader)

    def poll() -> None:
        """See a stop file or a first signal; act on the first one (line + record), once."""
        signal_name = io.interrupt_requested()
        if st.stop_cause is not None:
            if signal_name and st.stop_cause != "interrupted" and not st.signal_noted:
                st.signal_noted = True
                printer.line(f"Already finishing epoch {st.epoch}; {describe(signal_name)[1]}")
            return
        if signal_name:
            happened, abort_hint = describe(signal_name)
            st.stop_cause = "interrupted"
            st.stop_request = {"requested_at": io.wall_clock(), "by": f"{signal_name} to the trainer",
                               "run_id": None, "signal": signal_name}
            printer.line(f"{happened} - finishing epoch {st.epoch}; {abort_hint}")
        elif io.stop_requested():
            st.stop_cause = "stopped"
            st.stop_request = io.read_stop() or {}
            printer.line(f"Stop requested - finishing epoch {st.epoch}")
        else:
            return
        with io.critical():
            io.write_record(STOP_REQUESTED, epoch=st.epoch, stop=dict(st.stop_request))

    prev_val: float | None = None
    prev_lr: float | None = None
    for epoch in range(1, epochs + 1):
        st.epoch = epoch
        t0 = last_progress = io.clock()
        printer.epoch_start(epoch, epochs, n_batches)

        # ---- train phase: one pass over the training set --------------------------------------------------
        model.train()
        loss_sum, seen, diverged_at = 0.0, 0, None
        for batch, (x, y) in enumerate(train_loader, start=1):
            poll()
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            value = float(loss.item())
            if not math.isfinite(value):
                diverged_at = batch  # no step on a non-finite loss: the weights stay as they were
                loss_sum, seen = math.nan, seen + len(y)
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += value * len(y)  # sample-weighted: a short last batch counts for what it holds
            seen += len(y)
            now = io.clock()
            printer.batch(batch, n_batches, loss_sum / seen)
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                with io.critical():
                    io.write_record(PROGRESS, epoch=epoch, batch=batch, batches=n_batches,
                                    train_loss=loss_sum / seen, elapsed=now - t0, phase="train")
        train_loss = loss_sum / seen if seen else math.nan

        # ---- validation phase: loss, accuracy and AUROC on the whole validation set ------------------------
        val_loss = math.nan
        metrics = {"val_accuracy": None, "val_auroc": None, **threshold_metrics(np.empty(0), np.empty(0))}
        if diverged_at is None:
            model.eval()
            v_sum, v_seen, logits_all, labels_all = 0.0, 0, [], []
            with torch.no_grad():
                for vbatch, (x, y) in enumerate(val_loader, start=1):
                    poll()
                    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                    logits = model(x)
                    v_sum += float(loss_fn(logits, y).item()) * len(y)
                    v_seen += len(y)
                    logits_all.append(logits.detach().float().cpu().numpy())
                    labels_all.append(y.detach().float().cpu().numpy())
                    now = io.clock()
                    printer.batch(vbatch, n_val_batches, v_sum / v_seen, phase="val")
                    if now - last_progress >= PROGRESS_EVERY_S:
                        last_progress = now
                        with io.critical():
                            io.write_record(PROGRESS, epoch=epoch, batch=n_batches, batches=n_batches,
                                            train_loss=train_loss, elapsed=now - t0, phase="val",
                                            val_batch=vbatch, val_batches=n_val_batches)
            val_loss = v_sum / v_seen if v_seen else math.nan
            if logits_all:
                logits_np, labels_np = np.concatenate(logits_all), np.concatenate(labels_all)
                metrics = {"val_accuracy": accuracy(logits_np, labels_np), "val_auroc": auroc(logits_np, labels_np),
                           **threshold_metrics(sigmoid(logits_np), labels_np)}
        printer.epoch_end()

        # ---- early stopping bookkeeping and checkpoint ------------------------------------------------------
        is_best, should_stop = st.early.update(epoch, val_loss)
        if is_best:
            st.threshold = metrics.get("val_threshold")  # best.pt's config carries it: see LoopState.threshold
            with io.critical():  # best.pt is on disk before the epoch record says best: true
                io.save_checkpoint(epoch, val_loss)
            st.saved = (epoch, val_loss)

        # ---- log and console --------------------------------------------------------------------------------
        best_val = st.early.best if st.early.best_epoch is not None else None
        with io.critical():
            io.write_record(
                EPOCH, epoch=epoch, epochs=epochs, train_loss=train_loss, val_loss=val_loss,
                lr=float(optimizer.param_groups[0]["lr"]), seconds=io.clock() - t0, best=is_best,
                best_epoch=st.early.best_epoch, best_val_loss=best_val, metrics=metrics,
            )
        st.epochs_run = epoch
        st.train_loss.append(train_loss)
        st.val_loss.append(val_loss)
        lr_now = float(optimizer.param_groups[0]["lr"])
        shown = {"epoch": epoch, "epochs": epochs, "train_loss": train_loss, "val_loss": val_loss, "lr": lr_now,
                 "metrics": metrics}
        printer.line(epoch_line(shown, prev_val, printer.glyphs, prev_lr))
        if is_best:
            printer.line(new_best_line(io.checkpoint_shown, printer.glyphs))
        prev_val, prev_lr = val_loss, lr_now  # the previous epoch, as the viewers see it in the log
        poll()  # a stop that arrived while the epoch was being recorded still ends the run here

        # ---- termination conditions -------------------------------------------------------------------------
        if diverged_at is not None or not math.isfinite(val_loss):
            which = (f"train loss became non-finite at batch {diverged_at} of epoch {epoch}"
                     if diverged_at is not None else f"val loss became non-finite in epoch {epoch}")
            lr = float(optimizer.param_groups[0]["lr"])
            st.reason = "diverged"
            st.message = f"The {which}; lower --lr 10x ({fmt_num(lr)} -> {fmt_num(lr / 10)})"
            printer.line(f"{printer.glyphs.warn} Training diverged: the {which}")
            break
        if st.stop_cause == "stopped":
            by = st.stop_request.get("by") if st.stop_request else None
            st.reason, st.message = "stopped", f"Stop requested{f' by {by}' if by else ''}; finished epoch {epoch}"
            break
        if st.stop_cause == "interrupted":
            sig = st.stop_request.get("signal", "a signal") if st.stop_request else "a signal"
            st.reason, st.message = "interrupted", f"Interrupted by {sig}; finished epoch {epoch}"
            break
        if should_stop:
            epochs_text = f"{st.early.wait} epoch{'' if st.early.wait == 1 else 's'}"
            printer.line(f"{printer.glyphs.warn} Early stopping: No improvement for {epochs_text}")
            st.reason = "early_stopped"
            st.message = f"No new best val loss for {epochs_text} (patience {patience})"
            break
    else:
        st.reason, st.message = "completed", f"Trained all {epochs} epochs"
    return st


def _length(loader: Iterable[Any]) -> int:
    return len(loader) if isinstance(loader, Sized) else 0
