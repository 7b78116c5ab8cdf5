"""Live latency: from the writer's append to the end of the viewer's redraw, with file events and with --poll.

A separate process (`benchmarks.trickle`, standing in for the trainer) appends 200 epoch records spaced
like short epochs through the shared writer (fsync included). This process runs the viewer's real update
path: a `Follower` (inotify observer, or watchdog's polling observer for --poll) feeding `RunWindow` on an
Agg canvas, its `tick()` called on the main thread when a file event wakes it (as the window's Tk file
handler does) or else every `viewer.ticker.TIMER_MS` ms, re-armed after each call as a Tk timer is.
Latency of a record = end of the frame that first shows it (the canvas's `draw_event`) - the record's own
`time` (wall clock, same host). Targets: native p50 <= 50 ms and
p99 <= 200 ms; --poll p50 <= 600 ms. The native case runs once more in a real Tk window under a fresh
Xvfb, where Tk's own timer and blit are in the loop (`tk_latency`; skipped where Xvfb or Tk is missing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from benchmarks.context import Context
from benchmarks.table import Row
from benchmarks.view import AggView
from shared.rundir import RunDir


def run_timer(view: AggView, proc: subprocess.Popen, expected: int, timeout: float) -> list[float]:
    """Tick the view as its GUI loop does (on a file event, else every TIMER_MS) until `expected` epochs were
    shown (or the writer is gone)."""
    from viewer.ticker import TIMER_MS

    latencies: list[float] = []
    deadline = time.monotonic() + timeout
    while len(latencies) < expected and time.monotonic() < deadline:
        draws = len(view.draws)
        view.tick()
        shown = view.tap.take()
        if shown:
            if len(view.draws) == draws:
                raise RuntimeError("the view took new epochs but did not redraw")
            latencies += [view.draws[-1] - record["time"] for record in shown]
        if proc.poll() is not None and proc.returncode != 0:
            raise RuntimeError(f"the writer process failed (exit {proc.returncode})")
        # The GUI loop sleeps until a file event wakes it (the window's Tk file handler) or its timer fires.
        view.wake.wait(TIMER_MS / 1000)
        view.wake.clear()
    return latencies


def measure(ctx: Context, poll: bool) -> list[float]:
    run_dir = ctx.tmp / f"latency_{'poll' if poll else 'native'}"
    run_dir.mkdir()
    n, (lo, hi) = ctx.latency_records, ctx.latency_spacing
    view = AggView(run_dir, poll=poll, start=True)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.trickle", str(RunDir(run_dir).log), str(n),
                                 str(lo), str(hi), "1" if poll else "0"])
        try:
            latencies = run_timer(view, proc, n, timeout=10 + 3 * n * hi)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
    finally:
        view.close()
    if len(latencies) != n:
        raise RuntimeError(f"saw {len(latencies)} of {n} records")
    return [s * 1000 for s in latencies]


def measure_tk(ctx: Context) -> tuple[list[float] | None, str]:
    """The same in a real Tk window under a fresh Xvfb (see `tk_latency`); (None, why) where that cannot run."""
    from benchmarks.tk_latency import start_xvfb

    try:
        import tkinter  # noqa: F401
    except ImportError:
        return None, "no tkinter"
    server = start_xvfb()
    if server is None:
        return None, "no Xvfb"
    xvfb, display = server
    run_dir = ctx.tmp / "latency_tk"
    run_dir.mkdir()
    out = ctx.tmp / "latency_tk.json"
    n, (lo, hi) = ctx.latency_records, ctx.latency_spacing
    try:
        done = subprocess.run([sys.executable, "-m", "benchmarks.tk_latency", str(run_dir), str(n), str(lo), str(hi),
                               str(out)], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
                              timeout=60 + 3 * n * hi)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"the Tk window benchmark failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    latencies = json.loads(out.read_text())
    if len(latencies) != n:
        raise RuntimeError(f"the Tk window showed {len(latencies)} of {n} records")
    return [s * 1000 for s in latencies], ""


def run(ctx: Context) -> list[Row]:
    n, (lo, hi) = ctx.latency_records, ctx.latency_spacing
    how = f"{n} records every {lo:g}-{hi:g} s"
    ctx.say(f"live latency, file events ({how})")
    native = measure(ctx, poll=False)
    ctx.say(f"live latency, --poll ({how})")
    polled = measure(ctx, poll=True)
    ctx.say(f"live latency, Tk window under Xvfb ({how})")
    tk, why = measure_tk(ctx)
    tk_name = "live latency, native, real Tk window (Xvfb)"
    tk_note = f"{how}; Tk's own timer and blit"
    return [
        Row("live latency, native file events", native, "ms", stat="p50", target=("<=", 50.0),
            note=f"{how}; RunWindow on Agg"),
        Row("live latency, native file events", native, "ms", stat="p99", target=("<=", 200.0), note=how),
        Row("live latency, --poll", polled, "ms", stat="p50", target=("<=", 600.0), note=how),
        Row("live latency, --poll", polled, "ms", stat="p99", note=how),
        Row(tk_name, tk or [], "ms", stat="p50", target=("<=", 50.0), note=tk_note,
            skipped=None if tk is not None else f"{why}: cannot open a window here"),
        Row(tk_name, tk or [], "ms", stat="p99", target=("<=", 200.0), note=tk_note,
            skipped=None if tk is not None else f"{why}: cannot open a window here"),
    ]
