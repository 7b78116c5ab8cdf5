"""`stlar-dl compare [DIR...]`: runs overlaid, named by the options that differ, live while they train.

`--png` reads every log once, writes the figure and exits; `--no-window` prints the table and updates it
while runs are live; otherwise a window (the terminal table where no window can be opened).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from shared.errors import InputError
from viewer.discover import root_arg
from viewer.paths import png_arg
from viewer.runset import RunSet
from viewer.runsummary import TRAIN_LOSS, VAL_LOSS


def available_metrics(runset: RunSet) -> list[str]:
    """What `--metric` can show for these runs: both losses and every metric some run logs."""
    names: dict[str, None] = {VAL_LOSS: None, TRAIN_LOSS: None}
    for run in runset.runs:
        names.update(dict.fromkeys(sorted(run.history.metrics)))
    return list(names)


def check_metric(metric: str, runset: RunSet) -> None:
    """InputError naming the choices when no run logs `metric` (runs with no epoch yet cannot tell)."""
    if metric in (VAL_LOSS, TRAIN_LOSS) or not any(run.history.n_epochs for run in runset.runs):
        return
    choices = available_metrics(runset)
    if metric not in choices:
        raise InputError(f"--metric {metric}: no run here logs it; choose one of {', '.join(choices)}")


def title_for(dirs: Sequence[Path]) -> str:
    where = ", ".join(str(d) for d in dirs)
    return f"stlar-dl compare {where}"


def compare(dirs: Sequence[Path], *, png: Path | None = None, no_window: bool = False, metric: str = VAL_LOSS,
            poll: bool = False, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
            clock: Callable[[], float] = time.time) -> int:
    """Compare the runs under `dirs`; return the exit code."""
    roots = [root_arg(d) for d in dirs]
    png = png_arg(png) if png is not None else None

    def warn(text: str) -> None:
        print(f"Warning: {text}", file=err, flush=True)

    if png is not None:
        from viewer.compareview import save_compare_png

        with RunSet(roots, live=False, on_warning=warn) as runset:
            if not runset.runs:
                raise InputError(f"{', '.join(str(d) for d in dirs)}: no runs here (a run is a folder with a "
                                 f"training_log.jsonl); pass the folder given to train-dl --out-dir or one above it")
            check_metric(metric, runset)
            try:
                save_compare_png(runset.runs, png, clock(), metric, title_for(dirs))
            except OSError as exc:
                raise InputError(f"--png {png}: cannot write it ({exc.strerror or exc}); free disk space or "
                                 "pick another file") from None
            n = len(runset.runs)
        print(f"Wrote {png} ({n} run{'s' if n != 1 else ''})", file=out, flush=True)
        return 0

    with RunSet(roots, live=True, poll=poll, on_warning=warn) as runset:
        check_metric(metric, runset)
        if not no_window:
            from viewer.gui import NoDisplay, open_figure

            try:
                fig = open_figure(title_for(dirs))
            except NoDisplay as exc:
                print(f"No window: {exc}; showing the table in the terminal instead (--no-window)", file=err,
                      flush=True)
            else:
                from viewer.comparewindow import CompareWindow, show_compare

                show_compare(CompareWindow(fig, runset, metric=metric, title=title_for(dirs), clock=clock))
                return 0
        from viewer.compareterm import compare_terminal

        return compare_terminal(runset, out, metric=metric, clock=clock)
