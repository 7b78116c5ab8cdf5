"""Viewer idle cost: CPU used by `stlar-dl watch --no-window` on a live run with no new records (target <= 1%).

A live run: a log with a start record (this process's pid and host, so the viewer sees a live trainer) and
20 epochs, no end. The viewer is started as users start it, waits until it has printed the 20th epoch, and
its CPU time (user + system, all threads, from /proc) is read over the next 30 s in slices; the figure is
the median slice as % of one core, the total over the window is in the note. The same with --poll (watchdog's
polling observer) runs side by side.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from benchmarks.context import Context
from benchmarks.logs import write_log
from benchmarks.procs import CLK_TCK, LineWatcher, cpu_seconds, stlar_cmd
from benchmarks.table import Row, fmt
from shared.rundir import RunDir

EPOCHS, PLANNED = 20, 1000


def _figure(mode: str) -> str:
    return f"viewer idle CPU, watch --no-window{'' if mode == 'native' else ' --poll'}"


def run(ctx: Context) -> list[Row]:
    modes = {"native": [], "--poll": ["--poll"]}
    if not sys.platform.startswith("linux"):
        return [Row(_figure(mode), unit="%", stat="mean", target=("<=", 1.0), skipped="needs Linux (/proc)")
                for mode in modes]
    procs = {}
    try:
        for mode, extra in modes.items():
            run_dir = ctx.tmp / f"idle_{mode.strip('-')}"
            run_dir.mkdir()
            write_log(RunDir(run_dir).log, EPOCHS, planned=PLANNED)
            proc = subprocess.Popen(stlar_cmd("watch", str(run_dir), "--no-window", *extra), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
            procs[mode] = (proc, LineWatcher(proc.stdout))
        for mode, (proc, lines) in procs.items():
            if not lines.wait_for(f"{EPOCHS}/{PLANNED}", timeout=60):
                raise RuntimeError(f"stlar-dl watch {mode} did not show the run: {''.join(lines.lines)[-300:]}")
        ctx.say(f"viewer idle CPU over {ctx.idle_seconds:g} s")
        slice_s = ctx.idle_seconds / ctx.idle_slices
        clock = threading.Event()  # never set: the slice timer
        last = {mode: (time.monotonic(), cpu_seconds(p.pid)) for mode, (p, _) in procs.items()}
        first = dict(last)
        slices = {mode: [] for mode in procs}
        for _ in range(ctx.idle_slices):
            clock.wait(slice_s)
            for mode, (proc, _lines) in procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"stlar-dl watch {mode} exited early ({proc.returncode})")
                now = (time.monotonic(), cpu_seconds(proc.pid))
                slices[mode].append(100 * (now[1] - last[mode][1]) / (now[0] - last[mode][0]))
                last[mode] = now
    finally:
        for proc, lines in procs.values():
            proc.terminate()
            proc.wait(timeout=10)
            lines.join()
    rows = []
    for mode in procs:
        total = 100 * (last[mode][1] - first[mode][1]) / (last[mode][0] - first[mode][0])
        rows.append(Row(_figure(mode), slices[mode],
                        "%", stat="mean", target=("<=", 1.0),
                        note=f"% of one core per {slice_s:g} s slice; {fmt(total)}% over {ctx.idle_seconds:g} s "
                             f"(clock tick {1000 / CLK_TCK:g} ms)"))
    return rows
