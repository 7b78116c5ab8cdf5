"""The end of every train-dl run, whatever ended it: the end block, the curves, metrics and params, the report.

Rank 0 of a torchrun job alone runs it. Each output is written on its own: one that fails (a full disk) is
reported and the others are still written.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from shared.console import diagnostic_report, end_block
from shared.decision import decision_lines, decision_of
from shared.diagnostics import Settings
from shared.errors import RunDirError, StlarError
from shared.history import History
from shared.rundir import CURVES_NAME, LOG_NAME, METRICS_NAME, PARAMS_NAME
from trainer.config import TrainConfig
from trainer.console import Printer
from trainer.outputs import write_curves, write_metrics, write_params


def shown_path(out_dir: str, name: str) -> str:
    """A run-dir file as the user would type it: `models/best.pt` for `--out-dir models`."""
    return os.path.join(out_dir, name)


def finish_run(cfg: TrainConfig, printer: Printer, history: History, reason: str, message: str,
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
    printer.lines(diagnostic_report(train, list(history.val_loss), settings, g, history.epochs, history.lr,
                                    cfg.as_record(), history.planned_epochs))
    if not os.path.exists(rd / LOG_NAME):  # pragma: no cover - only if the folder vanished under us
        printer.line(f"{g.warn} the training log {shown_path(out, LOG_NAME)} is missing")
    return failure
