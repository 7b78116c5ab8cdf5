"""The table of runs: its columns, the text of each cell, plain-text rendering and the JSON form.

Pure string building over RunSummary rows. `stlar-dl runs` prints it; `stlar-dl compare` prints the same
rows in the terminal and draws them under its curves, so every view names a run's state the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from shared.history import History
from shared.number_format import fmt_loss
from viewer.optdiff import SHORT_NAMES, label, option_value
from viewer.runsummary import VAL_LOSS, RunSummary, best_point, higher_is_better
from viewer.status import fmt_duration

GAP = "  "  # between columns


def fmt_started(started: float | None) -> str:
    """`2026-12-03 19:40` in local time (what a user reads on their own clock); `—` without a start record."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) if started is not None else "—"


def fmt_epochs(s: RunSummary) -> str:
    return f"{s.epochs_run}/{s.planned}" if s.planned is not None else str(s.epochs_run)


def fmt_best_loss(s: RunSummary) -> str:
    """`0.4123 @ 7`: the best val loss and its epoch."""
    if s.best_epoch is None or s.best_val_loss is None:
        return "—"
    return f"{fmt_loss(s.best_val_loss)} @ {s.best_epoch}"


def fmt_auroc(s: RunSummary) -> str:
    """`0.912`, or `≥0.912` when the log was read at its ends only (the best in the middle is not known)."""
    if s.best_auroc is None:
        return "—"
    return ("" if s.best_auroc_exact else "≥") + f"{s.best_auroc:.3f}"


def fmt_run_duration(s: RunSummary) -> str:
    return fmt_duration(s.duration) if s.duration is not None else "—"


BASE_HEADERS = ("where", "run id", "started", "status", "epochs", "best val loss", "best AUROC", "duration")


def columns(options: Sequence[str]) -> list[str]:
    """The options that get a column: planned epochs are already in the epochs column (`7/30`)."""
    return [name for name in options if name != "epochs"]


def headers(options: Sequence[str]) -> list[str]:
    return [*BASE_HEADERS, *(SHORT_NAMES.get(name, name) for name in columns(options))]


def row(s: RunSummary, options: Sequence[str]) -> list[str]:
    """The cells of one run, in `headers(options)` order."""
    return [str(s.path), s.run_id or "—", fmt_started(s.started), s.status, fmt_epochs(s), fmt_best_loss(s),
            fmt_auroc(s), fmt_run_duration(s), *(option_value(s.config, name) for name in columns(options))]


def render(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart, a rule under the header; trailing spaces trimmed."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]
    lines = [GAP.join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
             GAP.join("-" * w for w in widths)]
    lines += [GAP.join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    return lines


def table(summaries: Sequence[RunSummary], options: Sequence[str]) -> list[str]:
    return render(headers(options), [row(s, options) for s in summaries])


def by_start(summaries: Sequence[RunSummary]) -> list[RunSummary]:
    """Oldest first; runs without a start record (nothing logged yet, unreadable) last, by path."""
    return sorted(summaries, key=lambda s: (s.started is None, s.started or 0.0, str(s.path)))


def as_json(s: RunSummary, options: Sequence[str]) -> dict[str, Any]:
    """One run for `--json`: numbers as numbers (null where unknown), times in Unix seconds like the log."""
    return {
        "path": str(s.path), "run_id": s.run_id, "started": s.started, "status": s.status,
        "status_text": s.status_text, "epochs_run": s.epochs_run, "epochs_planned": s.planned,
        "best_epoch": s.best_epoch, "best_val_loss": s.best_val_loss, "best_val_auroc": s.best_auroc,
        "best_val_auroc_exact": s.best_auroc_exact, "duration_seconds": s.duration, "archived": s.archived,
        "label": label(s.config, options, s.run_id or str(s.path)),
        "options": {name: s.config.get(name) for name in options}, "config": s.config,
    }


def compare_cells(s: RunSummary, run_label: str, metric: str, history: History, where: str | None = None) -> list[str]:
    """A compare table row: the run named by its differing options, then what `runs` says of it (`where`:
    the path as shown, by default the run's path)."""
    best = fmt_best_loss(s)
    if metric == VAL_LOSS:
        extra = fmt_auroc(s)
    else:
        point = best_point(history, metric)
        extra = f"{point[1]:.4g} @ {point[0]}" if point else "—"
    return [run_label, s.status, fmt_epochs(s), best, extra, fmt_run_duration(s), where or str(s.path)]


def compare_headers(metric: str) -> list[str]:
    extra = "best AUROC" if metric == VAL_LOSS else f"{'max' if higher_is_better(metric) else 'min'} {metric}"
    return ["run", "status", "epochs", "best val loss", extra, "duration", "where"]
