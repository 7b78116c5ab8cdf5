"""`stlar-dl runs DIR...`: every run under the given folders, one line each, sorted by start time."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from shared.safetext import printable
from viewer.discover import find_runs, root_arg
from viewer.optdiff import differing
from viewer.runsummary import RunSummary, summarize_dir
from viewer.runtable import as_json, by_start, table


def list_runs(dirs: Sequence[Path], *, on_warning=None, now: float | None = None) -> list[RunSummary]:
    """The summaries of every run under `dirs`, oldest first. InputError for a DIR that is no folder."""
    roots = [root_arg(d) for d in dirs]
    now = time.time() if now is None else now
    return by_start([summarize_dir(path, now=now) for path in find_runs(roots, on_warning=on_warning)])


def runs_command(dirs: Sequence[Path] | None, *, json_out: bool = False) -> int:
    """`stlar-dl runs [DIR]... [--json]`: `runs` under DIRs, by default the current folder."""
    return runs(dirs or [Path(".")], as_json_lines=json_out)


def runs(dirs: Sequence[Path], *, as_json_lines: bool = False, out: TextIO = sys.stdout,
         err: TextIO = sys.stderr) -> int:
    """Print the runs under `dirs` (a table, or with `as_json_lines` one JSON array); return the exit code."""
    warnings: list[str] = []
    summaries = list_runs(dirs, on_warning=warnings.append)
    options = differing([s.config for s in summaries if s.run_id is not None])
    for text in warnings:
        print(f"Warning: {text}", file=err, flush=True)
    if as_json_lines:
        json.dump([as_json(s, options) for s in summaries], out, ensure_ascii=False, indent=1)
        out.write("\n")
        return 0
    if not summaries:
        where = ", ".join(str(d) for d in dirs)
        print(f"No runs under {where} (a run is a folder with a training_log.jsonl)", file=out, flush=True)
        return 0
    for line in table(summaries, options):
        print(printable(line), file=out)  # run ids and paths come from outside
    n = len(summaries)
    same = "" if options or n < 2 else "; every run has the same options"
    print(f"{n} run{'s' if n != 1 else ''}{same}", file=out, flush=True)
    return 0
