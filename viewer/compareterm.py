"""`stlar-dl compare --no-window`: the compare table in the terminal, kept current while runs are live.

On a terminal the table is rewritten in place (cursor up, clear) at most once a second; into a pipe or a
file a new table is printed when one changed, at most every PIPE_SECONDS, so a log of it stays readable.
Ends, with the final table, when no run is live any more (as `watch --no-window` ends with its run).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

from shared.safetext import printable
from viewer.optdiff import differing, label
from viewer.runset import RunSet
from viewer.runsummary import UNSETTLED, VAL_LOSS
from viewer.runtable import compare_cells, compare_headers, render

TTY_SECONDS = 1.0  # a terminal's table is rewritten at most this often
PIPE_SECONDS = 10.0  # a pipe gets a new table at most this often (and a last one at the end)


def table_lines(runset: RunSet, metric: str, now: float) -> tuple[list[str], bool]:
    """The compare table of `runset` at `now`, and whether any run may still change."""
    runs = runset.runs
    if not runs:
        roots = ", ".join(str(r) for r in runset.roots)
        return [f"No runs under {roots} yet (a run is a folder with a training_log.jsonl); waiting"], True
    summaries = [run.summary(now) for run in runs]
    options = differing([s.config for s in summaries if s.run_id is not None])
    rows = [compare_cells(s, label(s.config, options, s.run_id or str(s.path)), metric, run.history)
            for run, s in zip(runs, summaries)]
    unsettled = any(s.status in UNSETTLED for s in summaries)
    return render(compare_headers(metric), rows), unsettled


def compare_terminal(runset: RunSet, out: TextIO = sys.stdout, *, metric: str = VAL_LOSS,
                     clock: Callable[[], float] = time.time, tick: float = TTY_SECONDS) -> int:
    """Print the table, update it while runs are live; return 0 when none is (Ctrl-C also returns 0)."""
    tty = bool(getattr(out, "isatty", lambda: False)())
    every = TTY_SECONDS if tty else PIPE_SECONDS
    shown: list[str] = []
    last_print = last_table = -float("inf")
    try:
        while True:
            changed = runset.poll()
            # The table is worked out once a second (the statuses age), and at a change only when it may be
            # printed at once: not at every file event of ten busy runs.
            if not shown or clock() - last_table >= tick or (changed and clock() - last_print >= every):
                lines, unsettled = table_lines(runset, metric, clock())
                if tty:  # a wrapped line would throw off the cursor-up that rewrites the table in place
                    width = shutil.get_terminal_size().columns - 1
                    lines = [line if len(line) <= width else line[:width - 1] + "…" for line in lines]
                last_table = clock()
                if lines != shown and (not unsettled or clock() - last_print >= every or not shown):
                    if tty and shown:
                        out.write(f"\x1b[{len(shown)}F\x1b[J")  # back to the old table's first line, clear below
                    elif shown:
                        out.write("\n")
                    out.write(printable("\n".join(lines)) + "\n")  # run ids and paths come from outside
                    out.flush()
                    shown, last_print = lines, clock()
                if not unsettled:
                    return 0
            runset.wait(tick)
    except KeyboardInterrupt:
        out.write("\nDetached; training continues\n")
        out.flush()
        return 0
