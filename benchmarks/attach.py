"""Attach at scale: from starting the view on a log of 100,000 epochs and 50,000 progress records to its first
complete frame (target <= 0.6 s).

"Starting the view" is what `stlar-dl watch` does after its imports: build the window's figure, start the
follower, drain the whole log, fold it into the history, update the panels and draw. Measured in-process
(imports excluded; `memory` reports the whole `stlar-dl replay --png` process with them; garbage left by the
previous repeat is collected before the clock starts, as a fresh process has none). Alternated with a bare
read of the same log by the shared reader, which is the floor any view pays.
"""

from __future__ import annotations

import gc
import time

from benchmarks.context import Context
from benchmarks.table import Row
from benchmarks.view import AggView
from shared.logreader import LogReader
from shared.rundir import RunDir


def attach_once(run_dir) -> tuple[float, int, float]:
    """Seconds from constructing the view to the end of its first frame, the epochs it shows, and the CPU
    seconds this process spent meanwhile (all threads)."""
    gc.collect()  # the previous attach's garbage (figures are full of cycles) is not this one's cost
    t0, c0 = time.time(), time.process_time()
    view = AggView(run_dir, start=True)
    try:
        view.tick()
        if not view.draws:
            raise RuntimeError("the view drew nothing on its first tick")
        return view.draws[-1] - t0, view.n_epochs, view.cpu_draws[-1] - c0
    finally:
        view.close()


def read_once(log) -> tuple[float, int]:
    gc.collect()
    t0 = time.perf_counter()
    n = len(LogReader(log).poll())
    return time.perf_counter() - t0, n


def run(ctx: Context) -> list[Row]:
    run_dir = ctx.big_run()
    log = RunDir(run_dir).log
    attach_once(run_dir)  # warm-up: first use of fonts and code paths
    attach, read, cpu = [], [], []
    for _ in range(ctx.repeats):
        seconds, shown, used = attach_once(run_dir)
        cpu.append(used)
        if shown != ctx.big_epochs:
            raise RuntimeError(f"the view shows {shown} epochs, the log holds {ctx.big_epochs}")
        attach.append(seconds)
        seconds, _n = read_once(log)
        read.append(seconds)
    mb = log.stat().st_size / 1e6
    size = ctx.big_note
    return [
        Row("attach at scale (first frame)", attach, "s", target=("<=", 0.6),
            note=f"RunWindow on Agg, in-process; {size}, {mb:.0f} MB"),
        Row("attach at scale, CPU time", cpu, "s", note="the same attaches: this process's CPU seconds, all threads"),
        Row("reader: whole log (LogReader.poll)", read, "s",
            note=f"{size}, {mb:.0f} MB; part of the attach figure"),
    ]
