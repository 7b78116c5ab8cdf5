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
- Under torchrun (`io.comm` a `distributed.Group`) every process runs this loop on its share of the
  batches; the processes agree, at fixed points, on what one process would have decided alone: a
  non-finite loss before each step, the epoch's summed train loss, every validation batch's result, a
  signal any of them got, and rank 0's verdict on how the run goes on. Only rank 0's `io` writes or prints.
- `first_epoch` > 1 continues a resumed run: `state` then holds its early-stopping state and losses so far.
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

from shared.console import epoch_line, new_best_line, stop_line
from shared.early_stopping import EarlyStopping
from shared.number_format import fmt_num
from shared.eta import eta_text
from shared.lr_schedule import PlateauSchedule
from shared.records import EPOCH, PROGRESS, STOP_REQUESTED
from trainer.console import ListPrinter, Printer
from trainer.distributed import Solo, unwrap
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
    save_last: Callable[[int], None] = lambda epoch: None  # after a recorded epoch: keep last.pt for resuming
    epoch_started: Callable[[int], None] = lambda epoch: None  # e.g. the distributed sampler's set_epoch
    comm: Solo = field(default_factory=Solo)  # what the processes of a torchrun job agree on


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
    seconds: list[float] = field(default_factory=list)  # per recorded epoch, as logged (the ETA's input)
    schedule: PlateauSchedule | None = None  # --lr-schedule plateau's state (None: the lr stays)
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
    first_epoch: int = 1,
    schedule: PlateauSchedule | None = None,
) -> LoopState:
    """Train for up to `epochs` epochs; return the state with `reason` and `message` set (see module doc).

    `schedule`: --lr-schedule plateau's policy; after each epoch it may lower the lr of the next one.
    """
    st = state if state is not None else LoopState()
    if first_epoch == 1:
        st.early = EarlyStopping(patience=patience, min_delta=min_delta)
    else:  # a resumed run keeps its best and its wait; a new --patience or --min-delta applies from here
        st.early.patience, st.early.min_delta = patience, min_delta
    comm = io.comm
    if first_epoch == 1 or st.schedule is None:  # a resumed run keeps its restored schedule
        st.schedule = schedule
    schedule = st.schedule
    loss_fn = nn.BCEWithLogitsLoss()
    printer = io.printer
    n_batches = _length(train_loader)
    n_val_batches = _length(val_loader)

    def poll(signal_name: str | None = None) -> None:
        """See a stop file or a first signal (this process's, or `signal_name`); act on the first one
        (line + record), once."""
        signal_name = signal_name or io.interrupt_requested()
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
            printer.line(stop_line(st.stop_request, st.epoch))  # the words every viewer shows for the record
        else:
            return
        with io.critical():
            io.write_record(STOP_REQUESTED, epoch=st.epoch, stop=dict(st.stop_request))

    # The previous epoch, as the viewers see it in the log (a resumed run's last one).
    prev_val: float | None = st.val_loss[-1] if st.val_loss else None
    prev_lr: float | None = None
    for epoch in range(first_epoch, epochs + 1):
        st.epoch = epoch
        io.epoch_started(epoch)
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
            if not comm.all_finite(math.isfinite(value)):  # one process's NaN stops every process's step
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
        loss_sum, seen = comm.sum(loss_sum, seen)  # every process's share of the epoch
        train_loss = loss_sum / seen if seen else math.nan

        # ---- validation phase: loss, accuracy and AUROC on the whole validation set ------------------------
        val_loss = math.nan
        metrics = {"val_accuracy": None, "val_auroc": None, **threshold_metrics(np.empty(0), np.empty(0))}
        if diverged_at is None:
            # The bare model, not its DDP wrapper: processes hold different numbers of val batches, and the
            # wrapper's forward would wait for the others. Every replica first takes rank 0's buffers.
            evaluated = unwrap(model)
            comm.sync_buffers(evaluated)
            evaluated.eval()
            v_sum, v_seen, batches = 0.0, 0, []  # batches: (mean loss, size, logits, labels) of each val batch
            with torch.no_grad():
                for vbatch, (x, y) in enumerate(val_loader, start=1):
                    poll()
                    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                    logits = evaluated(x)
                    batch_loss = float(loss_fn(logits, y).item())
                    v_sum += batch_loss * len(y)
                    v_seen += len(y)
                    batches.append((batch_loss, len(y), logits.detach().float().cpu().numpy(),
                                    y.detach().float().cpu().numpy()))
                    now = io.clock()
                    printer.batch(vbatch, n_val_batches, v_sum / v_seen, phase="val")
                    if now - last_progress >= PROGRESS_EVERY_S:
                        last_progress = now
                        with io.critical():
                            io.write_record(PROGRESS, epoch=epoch, batch=n_batches, batches=n_batches,
                                            train_loss=train_loss, elapsed=now - t0, phase="val",
                                            val_batch=vbatch, val_batches=n_val_batches)
            # All processes' batches in the single-process order, summed the same way: the same numbers.
            batches = comm.gather(batches)
            v_sum, v_seen = 0.0, 0
            for batch_loss, size, _, _ in batches:
                v_sum += batch_loss * size
                v_seen += size
            val_loss = v_sum / v_seen if v_seen else math.nan
            if batches:
                logits_np = np.concatenate([b[2] for b in batches])
                labels_np = np.concatenate([b[3] for b in batches])
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
        lr = float(optimizer.param_groups[0]["lr"])  # the lr this epoch trained with
        seconds = io.clock() - t0
        with io.critical():
            io.write_record(
                EPOCH, epoch=epoch, epochs=epochs, train_loss=train_loss, val_loss=val_loss,
                lr=lr, seconds=seconds, best=is_best,
                best_epoch=st.early.best_epoch, best_val_loss=best_val, metrics=metrics,
            )
        st.epochs_run = epoch
        st.train_loss.append(train_loss)
        st.val_loss.append(val_loss)
        # ---- lr schedule: the next epoch's learning rate (before last.pt, which keeps the schedule's state) --
        new_lr = schedule.step(epoch, val_loss, lr, epochs) if schedule is not None else None
        if new_lr is not None:
            for group in optimizer.param_groups:
                group["lr"] = new_lr
        if diverged_at is None and math.isfinite(val_loss):  # a resume starts from an epoch it can train on
            with io.critical():
                io.save_last(epoch)
        st.seconds.append(seconds)
        shown = {"epoch": epoch, "epochs": epochs, "train_loss": train_loss, "val_loss": val_loss, "lr": lr,
                 "metrics": metrics}
        printer.line(epoch_line(shown, prev_val, printer.glyphs, prev_lr, eta_text(st.seconds, epoch, epochs)))
        if is_best:
            printer.line(new_best_line(io.checkpoint_shown, printer.glyphs))
        if new_lr is not None:
            printer.line(f"  lr lowered {fmt_num(lr)} {printer.glyphs.arrow} {fmt_num(new_lr)} for epoch {epoch + 1} "
                         f"(--lr-schedule plateau: {schedule.rule.best_text()})")  # type: ignore[union-attr]
        prev_val, prev_lr = val_loss, lr  # the previous epoch, as the viewers see it in the log
        # A stop that arrived while the epoch was being recorded still ends the run here, and so does a
        # signal that another process of a torchrun job got.
        poll(comm.signals(io.interrupt_requested()))

        # ---- termination conditions: rank 0's verdict is every process's ---------------------------------------
        reason, message, line = comm.decide(_verdict(st, epoch, diverged_at, val_loss, should_stop, lr, patience))
        if line:
            printer.line(line.replace("{warn}", printer.glyphs.warn))
        if reason:
            st.reason, st.message = reason, message
            break

    else:
        st.reason, st.message = "completed", f"Trained all {epochs} epochs"
    return st


def _verdict(st: LoopState, epoch: int, diverged_at: int | None, val_loss: float, should_stop: bool, lr: float,
             patience: int) -> tuple[str | None, str, str | None]:
    """How the run goes on after `epoch`: (end reason or None to go on, end message, console line or None).

    The console line carries `{warn}` for the printer's warning glyph."""
    if diverged_at is not None or not math.isfinite(val_loss):
        which = (f"train loss became non-finite at batch {diverged_at} of epoch {epoch}"
                 if diverged_at is not None else f"val loss became non-finite in epoch {epoch}")
        return ("diverged", f"The {which}; lower --lr 10x ({fmt_num(lr)} -> {fmt_num(lr / 10)})",
                f"{{warn}} Training diverged: the {which}")
    if st.stop_cause == "stopped":
        by = st.stop_request.get("by") if st.stop_request else None
        return "stopped", f"Stop requested{f' by {by}' if by else ''}; finished epoch {epoch}", None
    if st.stop_cause == "interrupted":
        sig = st.stop_request.get("signal", "a signal") if st.stop_request else "a signal"
        return "interrupted", f"Interrupted by {sig}; finished epoch {epoch}", None
    if should_stop:
        epochs_text = f"{st.early.wait} epoch{'' if st.early.wait == 1 else 's'}"
        return ("early_stopped", f"No new best val loss for {epochs_text} (patience {patience})",
                f"{{warn}} Early stopping: No improvement for {epochs_text}")
    return None, "", None


def _length(loader: Iterable[Any]) -> int:
    return len(loader) if isinstance(loader, Sized) else 0
