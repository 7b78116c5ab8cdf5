"""Viewer memory: peak RSS of `stlar-dl replay RUN --png FILE` on the 100,000-record log (target <= 300 MB).

The whole process as a user runs it (interpreter, imports, reading, the figure, the PNG), peak resident set
from the kernel: the VmHWM the process reads as it exits (see `procs` for why not wait4). On Linux the log is
read in a forked child (viewer.read_ahead): its peak is reported on a row of its own. The wall time is
reported beside it: attach as a user feels it, imports included.
"""

from __future__ import annotations

import sys

from benchmarks.context import Context
from benchmarks.procs import read_children_mb, read_hwm_mb, run_measured, stlar_measured_cmd
from benchmarks.table import Row


def run(ctx: Context) -> list[Row]:
    figure = "viewer memory (replay --png peak RSS)"
    if not sys.platform.startswith("linux"):
        return [Row(figure, unit="MB", target=("<=", 300.0), skipped="needs Linux (wait4 ru_maxrss in KiB)")]
    run_dir = ctx.big_run()
    rss, child, wall, cpu = [], [], [], []
    for i in range(ctx.memory_runs):
        png, hwm = ctx.tmp / f"replay_{i}.png", ctx.tmp / f"replay_{i}.hwm"
        done = run_measured(stlar_measured_cmd(hwm, "replay", str(run_dir), "--png", str(png)), timeout=300,
                            workdir=ctx.tmp)
        if done.returncode != 0 or not png.is_file() or not hwm.is_file():
            raise RuntimeError(f"stlar-dl replay --png failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        rss.append(read_hwm_mb(hwm))
        child.append(read_children_mb(hwm))
        wall.append(done.wall)
        cpu.append(done.cpu)
    size = ctx.big_note
    return [
        Row(figure, rss, "MB", target=("<=", 300.0), note=size),
        Row("replay --png read-ahead child peak RSS", child, "MB",
            note=f"{size}; the log is read in a forked child while the process imports matplotlib"),
        Row("replay --png wall time (process, imports included)", wall, "s", target=("<=", 1.1), note=size),
        # CPU time says what the process costs where other work shares the cores (wall time then waits).
        Row("replay --png CPU time (process, imports included)", cpu, "s", note=size),
    ]
