"""Viewer memory: peak RSS of `stlar replay RUN --png FILE` on the 100,000-record log (target <= 300 MB).

The whole process as a user runs it (interpreter, imports, reading, the figure, the PNG), peak resident set
from the kernel (wait4's ru_maxrss). Its wall time is reported beside it: attach as a user feels it,
imports included.
"""

from __future__ import annotations

import sys

from benchmarks.context import Context
from benchmarks.procs import run_measured, stlar_cmd
from benchmarks.table import Row


def run(ctx: Context) -> list[Row]:
    figure = "viewer memory (replay --png peak RSS)"
    if not sys.platform.startswith("linux"):
        return [Row(figure, unit="MB", target=("<=", 300.0), skipped="needs Linux (wait4 ru_maxrss in KiB)")]
    run_dir = ctx.big_run()
    rss, wall = [], []
    for i in range(ctx.memory_runs):
        png = ctx.tmp / f"replay_{i}.png"
        done = run_measured(stlar_cmd("replay", str(run_dir), "--png", str(png)), timeout=300, workdir=ctx.tmp)
        if done.returncode != 0 or not png.is_file():
            raise RuntimeError(f"stlar replay --png failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        rss.append(done.max_rss_mb)
        wall.append(done.wall)
    size = ctx.size_note or f"{ctx.big_epochs:,} records"
    return [
        Row(figure, rss, "MB", target=("<=", 300.0), note=size),
        Row("replay --png wall time (process, imports included)", wall, "s", note=size),
    ]
