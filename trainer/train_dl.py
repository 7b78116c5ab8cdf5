"""One `stlar-dl train-dl` run, from options to outputs.

Order matters:
1. Validate everything that can be validated without writing: the options, both manifests and every
   segment, the device, the model type (trainer.run_inputs). A mistake here raises InputError and the run
   dir is untouched. Then build the model, optimiser and loaders (trainer.run_setup).
2. Prepare the run dir: create, prove writable, lock, archive an earlier run, remove a stale STOP.
3. Write the start record, start the viewer if asked, and run the loop with Ctrl-C/SIGTERM handled.
4. Whatever ended the loop (finished, early stop, stop file, signal, divergence, an exception), write the
   end record, training_metrics.json, training_params.json and the curves, then print the end block and
   the diagnostic report. An exception is re-raised after that, so the CLI reports it.

torch is imported inside `train_dl`, so importing this module (for `stlar-dl --help`) stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.console import banner
from shared.errors import LogWriteError, StlarError
from shared.history import History
from shared.logwriter import LogWriter
from shared.records import END, EPOCH, RESUME, START
from shared.rundir import CHECKPOINT_NAME, RunDir
from trainer.config import TrainConfig
from trainer.console import Printer, QuietPrinter
from trainer.distributed import Place, Solo, agreed, join, place_from_env
from trainer.finish import finish_run, shown_path
from trainer.interrupt import Interrupts, exit_code_for
from trainer.launch_viewer import launch_viewer
from trainer.resume import cut_torn_tail, last_dict, resume_fields, resume_lines, save_last
from trainer.run_dir import prepare_run_dir
from trainer.run_inputs import validate_inputs
from trainer.run_intro import intro_lines, start_fields
from trainer.run_setup import build_training, seed_everything, set_threads  # noqa: F401 (callers use them from here)
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


def train_dl(
    cfg: TrainConfig,
    printer: Printer | None = None,
    *,
    open_log: Callable[..., LogWriter] = LogWriter,
    launch: Callable[..., tuple[Any, str]] = launch_viewer,
    cwd: Path | None = None,
    resume: str | None = None,
    given: frozenset[str] = frozenset(),
    env: Mapping[str, str] = os.environ,
) -> RunOutcome:
    """Train as `cfg` says; return the outcome. Raises StlarError for bad input or an unusable run dir
    (nothing written), LogWriteError if the log cannot be appended to, and re-raises any other exception
    after the run's end record and outputs are written.

    `resume` ("auto" or a run dir) continues a run (trainer.resume); `given` names the options given on the
    command line, which then replace the run's own. Under torchrun (`env` holds WORLD_SIZE > 1) this is one
    process of a data-parallel job; rank 0 alone writes and prints (trainer.distributed)."""
    place = place_from_env(env)
    printer = (printer or Printer()) if place.main else QuietPrinter()
    try:
        comm = join(place, cfg.device)
    except StlarError as exc:
        exc.quiet = not place.main  # every process refuses the same options: rank 0 says it once
        raise
    try:
        return _train(cfg, printer, comm, place, open_log, launch, cwd, resume, given)
    finally:
        comm.close()


def _train(cfg: TrainConfig, printer: Printer, comm: Solo, place: Place, open_log: Callable[..., LogWriter],
           launch: Callable[..., tuple[Any, str]], cwd: Path | None, resume: str | None,
           given: frozenset[str]) -> RunOutcome:
    g = printer.glyphs

    # ---- 1. validate everything before writing anything, then build what trains -------------------------
    inputs = validate_inputs(cfg, comm, place, cwd, resume, given)
    cfg, point, device = inputs.cfg, inputs.point, inputs.device
    train_set, val_set = inputs.train_set, inputs.val_set

    from trainer.checkpoint import save_checkpoint
    from trainer.loop import LoopIO, train_loop
    from trainer.models import MODEL_TYPES

    training = build_training(inputs, place, given)
    model, trained, optimizer, state = training.model, training.trained, training.optimizer, training.state
    train_loader, val_loader, n_params = training.train_loader, training.val_loader, training.n_params

    # ---- 2. the run dir (rank 0's) ------------------------------------------------------------------------
    out = cfg.out_dir
    rd = RunDir(Path(out))
    writer: LogWriter | None = None
    with contextlib.ExitStack() as stack:
        with agreed(comm):
            if place.main:
                prepared = stack.enter_context(prepare_run_dir(Path(out), display=out, resume=point is not None))
                if point is None:
                    writer = open_log(rd.log)
                else:
                    cut_torn_tail(rd.log)
                    writer = open_log(rd.log, run_id=point.run_id, seq=point.next_seq)
                stack.callback(writer.close)
                # The log deleted or rotated mid-run: the writer starts it again with a copy of the run's start
                # record (a resumed run's is in its log) and the console says so, once each time.
                writer.on_restart = lambda message: printer.line(f"{g.warn} {message}")
                if point is not None:
                    writer.start = next((r for r in point.records if r.get("type") == START), None)
        run_id = comm.broadcast(writer.run_id if writer is not None else None)
        history = History()
        if point is not None:
            history.extend(point.records)

        def write_record(rtype: str, **fields: Any) -> dict[str, Any]:
            if writer is None:  # not rank 0
                return {}
            if point is not None and rtype == EPOCH:
                # A resumed trainer is another process than the start record names: its epochs say which, so
                # a reader of the log's last records alone (stlar-dl stop) can tell whether it still runs.
                fields.update(pid=os.getpid(), host=socket.gethostname())
            record = writer.write(rtype, **fields)
            history.add(record)
            return record

        printer.lines(intro_lines(cfg, train_set, val_set, MODEL_TYPES[cfg.model_type], n_params, device, place,
                                  g.warn))
        for note in prepared.notes if place.main else ():
            printer.line(note)
        if point is not None:
            printer.lines(resume_lines(point, cfg))

        stop = StopPoll(rd.stop, run_id, on_foreign=printer.line)
        interrupts = Interrupts()
        error: BaseException | None = None
        log_ok = True
        try:
            with interrupts:
                try:
                    where = {"device": str(device), "host": socket.gethostname(), "pid": os.getpid(),
                             "world_size": place.world_size}
                    with interrupts.critical():
                        if point is None:
                            write_record(START, **start_fields(cfg, train_set, val_set, MODEL_TYPES[cfg.model_type],
                                                               n_params, train_loader, val_loader, place), **where)
                        else:
                            write_record(RESUME, **resume_fields(point, cfg), **where)
                    if cfg.gui and place.main:
                        viewer, line = launch(rd.path, shown=out)  # never waited on: see launch_viewer
                        printer.line(line if viewer is not None else f"{g.warn} {line}")
                    printer.line()
                    printer.lines([*banner("Resuming training..." if point else "Starting training..."), ""])
                    config_record = cfg.as_record()

                    def keep_last(epoch: int) -> None:
                        if writer is not None:
                            save_last(rd.last, last_dict(
                                model=model, optimizer=optimizer, loop_state=state, epoch=epoch, run_id=run_id,
                                seq=writer.seq, config=config_record, loader=train_loader.loader,
                                world_size=place.world_size, schedule=state.schedule))

                    sampler = train_loader.loader.sampler
                    io = LoopIO(
                        write_record=write_record,
                        # config["threshold"]: the saved epoch's F1-maximising decision threshold (None
                        # when validation had no positives), so a detector can be set from best.pt alone.
                        save_checkpoint=lambda epoch, val_loss: save_checkpoint(
                            rd.checkpoint, model, cfg.model_type, epoch, val_loss,
                            dict(config_record, threshold=state.threshold))
                        if place.main else None,
                        stop_requested=stop.poll if place.main else (lambda: False),
                        read_stop=stop.read,
                        interrupt_requested=interrupts,
                        critical=interrupts.critical,
                        printer=printer,
                        checkpoint_shown=shown_path(out, CHECKPOINT_NAME),
                        save_last=keep_last,
                        epoch_started=getattr(sampler, "set_epoch", lambda epoch: None),
                        comm=comm,
                    )
                    train_loop(trained, optimizer, train_loader, val_loader, epochs=cfg.epochs,
                               patience=cfg.patience, min_delta=cfg.min_delta, io=io, device=device, state=state,
                               first_epoch=point.epoch + 1 if point else 1, schedule=state.schedule)
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
                # ---- 4. whatever happened: end record, outputs, report (rank 0) -------------------------------
                interrupts.mute()
                reason = state.reason or "failed"
                # The best epoch is the one best.pt holds: a save that failed (disk full) or was cut short
                # must not be reported as the best.
                best_epoch, best_val = state.saved or (None, None)
                if log_ok and place.main:
                    try:
                        write_record(END, reason=reason, epochs_run=state.epochs_run, best_epoch=best_epoch,
                                     best_val_loss=best_val, message=state.message)
                    except LogWriteError as exc:
                        error = error or exc
                if place.main:
                    output_error = finish_run(cfg, printer, history, reason, state.message, best_epoch, best_val)
                    error = error or output_error
        finally:
            train_loader.close()  # stops its workers now: see ShieldedLoader.close
            val_loader.close()

    if error is not None:
        raise error
    signal_name = interrupts.requested or (state.stop_request or {}).get("signal")
    exit_code = exit_code_for(signal_name) if reason == "interrupted" else EXIT_CODES.get(reason, 1)
    return RunOutcome(run_id=run_id, reason=reason, message=state.message, epochs_run=state.epochs_run,
                      best_epoch=best_epoch, best_val_loss=best_val, run_dir=Path(out), exit_code=exit_code)
