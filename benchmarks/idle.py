"""Viewer idle cost: CPU used by `stlar-dl watch --no-window` on a live run with no new records (target <= 1%).

A live run: a log with a start record (this process's pid and host, so the viewer sees a live trainer) and
20 epochs, no end. The viewer is started as users start it, waits until it has printed the 20th epoch, and
its CPU time (user + system, all threads, from /proc) is read over the next 30 s in slices; the figure is
the median slice as % of one core, the total over the window is in the note. The same with --poll (watchdog's
polling observer) runs side by side, and so does the live window (`stlar-dl watch` under a fresh Xvfb,
target <= 0.2 %; it prints nothing, so it counts as having shown the run once a 1 s slice uses under 5 %).
"""

from __future__ import annotations

import os
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
    if mode == "window":
        return "viewer idle CPU, live window (Tk, Xvfb)"
    return f"viewer idle CPU, watch --no-window{'' if mode == 'native' else ' --poll'}"


def _settled(pid: int, timeout: float = 120.0, slice_s: float = 1.0, busy: float = 5.0) -> bool:
    """Wait until the process uses under `busy` % of a core over a slice: a window has drawn the run."""
    clock = threading.Event()  # never set: the slice timer
    deadline = time.monotonic() + timeout
    last = (time.monotonic(), cpu_seconds(pid))
    while time.monotonic() < deadline:
        clock.wait(slice_s)
        now = (time.monotonic(), cpu_seconds(pid))
        if 100 * (now[1] - last[1]) / (now[0] - last[0]) < busy:
            return True
        last = now
    return False


def run(ctx: Context) -> list[Row]:
    modes = {"native": [], "--poll": ["--poll"]}
    if not sys.platform.startswith("linux"):
        return [Row(_figure(mode), unit="%", stat="mean", target=("<=", 1.0), skipped="needs Linux (/proc)")
                for mode in modes]
    from benchmarks.tk_latency import start_xvfb

    xvfb = start_xvfb()
    if xvfb is not None:
        modes["window"] = []
    procs = {}
    try:
        for mode, extra in modes.items():
            run_dir = ctx.tmp / f"idle_{mode.strip('-')}"
            run_dir.mkdir()
            write_log(RunDir(run_dir).log, EPOCHS, planned=PLANNED)
            window = mode == "window"
            env = {**os.environ, "DISPLAY": xvfb[1]} if window else None
            args = ("watch", str(run_dir)) if window else ("watch", str(run_dir), "--no-window", *extra)
            proc = subprocess.Popen(stlar_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True, env=env)
            procs[mode] = (proc, LineWatcher(proc.stdout))
        for mode, (proc, lines) in procs.items():
            if mode == "window":  # the window prints nothing: it has drawn the run once it goes quiet
                if not _settled(proc.pid):
                    raise RuntimeError("stlar-dl watch (window) never went idle")
            elif not lines.wait_for(f"{EPOCHS}/{PLANNED}", timeout=60):
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
        if xvfb is not None:
            xvfb[0].terminate()
            xvfb[0].wait(timeout=10)
    rows = [] if xvfb is not None else [Row(_figure("window"), unit="%", stat="mean", target=("<=", 0.2),
                                            skipped="needs Xvfb (apt-get install xvfb)")]
    for mode in procs:
        total = 100 * (last[mode][1] - first[mode][1]) / (last[mode][0] - first[mode][0])
        rows.append(Row(_figure(mode), slices[mode],
                        "%", stat="mean", target=("<=", 0.2 if mode == "window" else 1.0),
                        note=f"% of one core per {slice_s:g} s slice; {fmt(total)}% over {ctx.idle_seconds:g} s "
                             f"(clock tick {1000 / CLK_TCK:g} ms)"))
    return rows
