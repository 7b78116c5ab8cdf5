"""One `stlar-dl train-dl` run, from options to outputs.

Order matters:
1. Validate everything that can be validated without writing: the options, both manifests and every
   segment, the device, the model type. A mistake here raises InputError and the run dir is untouched.
2. Prepare the run dir: create, prove writable, lock, archive an earlier run, remove a stale STOP.
3. Write the start record, start the viewer if asked, and run the loop with Ctrl-C/SIGTERM handled.
4. Whatever ended the loop (finished, early stop, stop file, signal, divergence, an exception), write the
   end record, training_metrics.json, training_params.json and the curves, then print the end block and
   the diagnostic report. An exception is re-raised after that, so the CLI reports it.

torch is imported inside `train_dl`, so importing this module (for `stlar-dl --help`) stays cheap.
"""

from __future__ import annotations

import math
import os
import platform
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.console import banner, diagnostic_report, end_block
from shared.decision import decision_lines, decision_of
from shared.diagnostics import Settings
from shared.errors import InputError, LogWriteError, RunDirError, StlarError
from shared.history import History
from shared.logwriter import LogWriter
from shared.model_types import MIN_SAMPLES, model_name
from shared.records import END, SCHEMA_VERSION, START
from shared.rundir import CHECKPOINT_NAME, CURVES_NAME, LOG_NAME, METRICS_NAME, PARAMS_NAME
from shared.version import __version__
from trainer.config import TrainConfig, check_model_type, resolve_device
from trainer.console import Printer
from trainer.interrupt import Interrupts, exit_code_for, shield_workers
from trainer.launch_viewer import launch_viewer
from trainer.outputs import write_curves, write_metrics, write_params
from trainer.run_dir import prepare_run_dir
from trainer.stop_poll import StopPoll

DIVERGED_EXIT = 3  # exit status of a run that ended because its loss became non-finite
EXIT_CODES = {"completed": 0, "early_stopped": 0, "stopped": 0, "diverged": DIVERGED_EXIT}


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended. `exit_code`: 0 finished/early-stopped/stopped, 3 diverged, 128+N after signal N."""

    run_id: str
    reason: str
    message: str
    epochs_run: int
    best_epoch: int | None
    best_val_loss: float | None
    run_dir: Path
    exit_code: int


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


def shown_path(out_dir: str, name: str) -> str:
    """A run-dir file as the user would type it: `models/best.pt` for `--out-dir models`."""
    return os.path.join(out_dir, name)


def train_dl(
    cfg: TrainConfig,
    printer: Printer | None = None,
    *,
    open_log: Callable[[Path], LogWriter] = LogWriter,
    launch: Callable[..., tuple[Any, str]] = launch_viewer,
    cwd: Path | None = None,
) -> RunOutcome:
    """Train as `cfg` says; return the outcome. Raises StlarError for bad input or an unusable run dir
    (nothing written), LogWriteError if the log cannot be appended to, and re-raises any other exception
    after the run's end record and outputs are written."""
    printer = printer or Printer()
    g = printer.glyphs
    cfg.validate()
    check_model_type(cfg.model_type)

    # ---- 1. validate everything before writing anything ---------------------------------------------------
    from trainer.data import check_min_length, load_manifest, make_loader

    train_set = load_manifest(cfg.train, cwd=cwd)
    val_set = load_manifest(cfg.val, cwd=cwd)
    if len(train_set) < 2:
        raise InputError(f"--train {cfg.train}: only {len(train_set)} labelled segment; training needs at least 2")

    for data_set in (train_set, val_set):
        check_min_length(data_set, MIN_SAMPLES[cfg.model_type],
                         f"--model-type {cfg.model_type} ({model_name(cfg.model_type)})")
    import torch

    from trainer.checkpoint import save_checkpoint
    from trainer.loop import LoopIO, LoopState, train_loop
    from trainer.models import MODEL_TYPES, build_model

    device = resolve_device(cfg.device, torch.cuda.is_available(), torch.cuda.device_count())
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    model = build_model(cfg.model_type).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_loader = shield_workers(
        make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed, num_workers=cfg.num_workers))
    val_loader = shield_workers(
        make_loader(val_set, cfg.batch_size, shuffle=False, seed=cfg.seed, num_workers=cfg.num_workers))
    n_params = sum(p.numel() for p in model.parameters())

    # ---- 2. the run dir ---------------------------------------------------------------------------------
    out = cfg.out_dir
    prepared = prepare_run_dir(Path(out), display=out)
    with prepared:
        rd = prepared.run_dir
        writer = open_log(rd.log)
        history = History()

        def write_record(rtype: str, **fields: Any) -> dict[str, Any]:
            record = writer.write(rtype, **fields)
            history.add(record)
            return record

        for name, data in (("Train", train_set), ("Val", val_set)):
            manifest = cfg.train if name == "Train" else cfg.val
            printer.line(f"{name + ':':<6} {len(data)} segments ({data.n_positive} HFO) from {manifest}")
        printer.line(f"Model: {MODEL_TYPES[cfg.model_type]} (type {cfg.model_type}, {n_params:,} parameters) "
                     f"on {device} | seed {cfg.seed}")
        printer.line(f"Run dir: {out} | watch it live with: stlar-dl watch {out}")
        for warning in (*train_set.warnings, *val_set.warnings):
            printer.line(f"{g.warn} {warning}")
        for note in prepared.notes:
            printer.line(note)

        stop = StopPoll(rd.stop, writer.run_id, on_foreign=printer.line)
        interrupts = Interrupts()
        state = LoopState()
        error: BaseException | None = None
        log_ok = True
        try:
            with interrupts:
                try:
                    with interrupts.critical():
                        write_record(
                            START, schema=SCHEMA_VERSION, config=cfg.as_record(), epochs=cfg.epochs,
                            n_train=len(train_set), n_val=len(val_set), n_train_positive=train_set.n_positive,
                            n_val_positive=val_set.n_positive, device=str(device), host=socket.gethostname(),
                            pid=os.getpid(), model=MODEL_TYPES[cfg.model_type], parameters=n_params,
                            threads=torch.get_num_threads(),
                            batches=len(train_loader), val_batches=len(val_loader),
                            warnings=[*train_set.warnings, *val_set.warnings],
                            versions={"python": platform.python_version(), "torch": torch.__version__,
                                      "stlar-dl": __version__},
                        )
                    if cfg.gui:
                        viewer, line = launch(rd.path, shown=out)  # never waited on: see launch_viewer
                        printer.line(line if viewer is not None else f"{g.warn} {line}")
                    printer.line()
                    printer.lines([*banner("Starting training..."), ""])
                    config_record = cfg.as_record()
                    io = LoopIO(
                        write_record=write_record,
                        # config["threshold"]: the saved epoch's F1-maximising decision threshold (None
                        # when validation had no positives), so a detector can be set from best.pt alone.
                        save_checkpoint=lambda epoch, val_loss: save_checkpoint(
                            rd.checkpoint, model, cfg.model_type, epoch, val_loss,
                            dict(config_record, threshold=state.threshold)),
                        stop_requested=stop.poll,
                        read_stop=stop.read,
                        interrupt_requested=interrupts,
                        critical=interrupts.critical,
                        printer=printer,
                        checkpoint_shown=shown_path(out, CHECKPOINT_NAME),
                    )
                    train_loop(model, optimizer, train_loader, val_loader, epochs=cfg.epochs,
                               patience=cfg.patience, min_delta=cfg.min_delta, io=io, device=device, state=state)
                except KeyboardInterrupt:
                    sig = interrupts.requested or "SIGINT"
                    state.reason = "interrupted"
                    state.message = (f"Aborted mid-epoch {state.epoch} by a second {sig}; epochs finished: "
                                     f"{state.epochs_run}")
                except LogWriteError as exc:
                    log_ok, error = False, exc
                    state.reason, state.message = "failed", str(exc)
                except BaseException as exc:  # noqa: BLE001 - recorded as `failed`, then re-raised below
                    error = exc
                    state.reason = "failed"
                    state.message = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
                finally:
                    printer.close()
                # ---- 4. whatever happened: end record, outputs, report ---------------------------------------
                interrupts.mute()
                reason = state.reason or "failed"
                # The best epoch is the one best.pt holds: a save that failed (disk full) or was cut short
                # must not be reported as the best.
                best_epoch, best_val = state.saved or (None, None)
                if log_ok:
                    try:
                        write_record(END, reason=reason, epochs_run=state.epochs_run, best_epoch=best_epoch,
                                     best_val_loss=best_val, message=state.message)
                    except LogWriteError as exc:
                        error = error or exc
                output_error = _finish(cfg, printer, history, reason, state.message, best_epoch, best_val)
                error = error or output_error
        finally:
            train_loader.close()  # stops its workers now: see ShieldedLoader.close
            val_loader.close()
            writer.close()

    if error is not None:
        raise error
    exit_code = exit_code_for(interrupts.requested) if reason == "interrupted" else EXIT_CODES.get(reason, 1)
    return RunOutcome(run_id=writer.run_id, reason=reason, message=state.message, epochs_run=state.epochs_run,
                      best_epoch=best_epoch, best_val_loss=best_val, run_dir=Path(out), exit_code=exit_code)


def _finish(cfg: TrainConfig, printer: Printer, history: History, reason: str, message: str,
            best_epoch: int | None, best_val: float | None) -> StlarError | None:
    """Write metrics, params and curves and print the end of the console block; return a write error."""
    g, out, rd = printer.glyphs, cfg.out_dir, Path(cfg.out_dir)
    printer.lines(end_block(reason, best_epoch, best_val, decision_lines(decision_of(history)),
                            history.metrics_at(best_epoch)))
    if reason in ("failed", "interrupted", "stopped") and message:
        printer.line(message)
    printer.line()
    failure: StlarError | None = None
    if not cfg.no_plot and not history.n_epochs:
        printer.line(f"{g.note} No training curves: no epoch finished")  # an empty figure would say nothing
    elif not cfg.no_plot:
        printer.line("Generating training visualizations...")
        warning = write_curves(rd / CURVES_NAME, history)
        if warning:
            printer.line(f"{g.warn} {warning}")
        else:
            printer.line(f"{g.ok} Saved training curves to {shown_path(out, CURVES_NAME)}")
    # Metrics before params: if only one can be written, it is the one STLAR's tools read.
    for name, write in ((METRICS_NAME, lambda p: write_metrics(p, history, reason)),
                        (PARAMS_NAME, lambda p: write_params(p, history, reason, message))):
        try:
            write(rd / name)
        except Exception as exc:  # noqa: BLE001 - one failed file must not cost the run the others
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
            failure = failure or RunDirError(f"{shown_path(out, name)}: cannot write it ({why}); "
                                             "free disk space; the log and best.pt are kept")
            printer.line(f"{g.warn} could not write {shown_path(out, name)} ({why})")
            continue
        if name == METRICS_NAME:
            printer.line(f"{g.ok} Saved training metrics to {shown_path(out, name)}")
    printer.line()
    settings = Settings.from_config(cfg.as_record())
    train = [v if math.isfinite(v) else math.nan for v in history.train_loss]
    printer.lines(diagnostic_report(train, list(history.val_loss), settings, g, history.epochs))
    if not os.path.exists(rd / LOG_NAME):  # pragma: no cover - only if the folder vanished under us
        printer.line(f"{g.warn} the training log {shown_path(out, LOG_NAME)} is missing")
    return failure
