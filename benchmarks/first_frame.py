"""The window's first frame while training loads the cores: when `stlar-dl watch` appears, and what it shows then.

A live run of EPOCHS epochs; as many busy processes as the machine has cores (a training using them all:
the issue's case is 2 busy cores); `stlar-dl watch` started under a fresh Xvfb with STLAR_DEBUG_GEOMETRY=1,
which reports on stderr when the canvas is mapped (and how many frames were drawn by then) and each frame
drawn later. Figures:

- window on screen -> first frame on screen: 0 when the window was mapped with its frame drawn (the design:
  viewer.gui draws it while the window is withdrawn), else the time from the map to the first frame with
  the run's epochs (target <= 1 s);
- start-up: process start -> window on screen with the run drawn (reported; it includes Python, matplotlib
  and Tk start-up on the loaded cores).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

from benchmarks.context import Context
from benchmarks.logs import write_log
from benchmarks.procs import stlar_cmd
from benchmarks.table import Row
from shared.rundir import RunDir

EPOCHS, PLANNED = 40, 1000
MAPPED = re.compile(r"mapped frames=(\d+) figure=(\d+x\d+) canvas=(\d+x\d+) epochs=(\d+)")
FRAME = re.compile(r"button='[^']*' x=\d+ y=\d+ w=\d+ h=\d+ epochs=(\d+)")
FIGURES = ("window on screen -> first frame", "watch start-up to the run on screen")


def _one(run_dir, display: str, timeout: float = 120.0) -> tuple[float, float, str]:
    """(map -> first frame, start -> run on screen, note) for one start of `stlar-dl watch`."""
    env = {**os.environ, "DISPLAY": display, "STLAR_DEBUG_GEOMETRY": "1"}
    t0 = time.monotonic()
    proc = subprocess.Popen(stlar_cmd("watch", str(run_dir)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env)
    lines: list[tuple[float, str]] = []
    done = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append((time.monotonic() - t0, line))
            m = FRAME.search(line)
            if m and int(m[1]) == EPOCHS and any(MAPPED.search(text) for _, text in lines):
                done.set()
            m = MAPPED.search(line)
            if m and int(m[1]) >= 1 and int(m[4]) == EPOCHS:
                done.set()
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done.wait(timeout)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(10)
    mapped = next(((t, MAPPED.search(text)) for t, text in lines if MAPPED.search(text)), None)
    if mapped is None:
        raise RuntimeError("stlar-dl watch never mapped its window: " + "".join(text for _, text in lines)[-500:])
    t_map, m = mapped
    if int(m[1]) >= 1 and int(m[4]) == EPOCHS:
        return 0.0, t_map, f"mapped with {m[1]} frame(s) drawn at {m[2]} (canvas {m[3]})"
    later = next((t for t, text in lines if t >= t_map and (f := FRAME.search(text)) and int(f[1]) == EPOCHS), None)
    if later is None:
        raise RuntimeError("stlar-dl watch never drew the run")
    return later - t_map, later, f"mapped with {m[1]} frames drawn, {m[4]} epochs"


def run(ctx: Context) -> list[Row]:
    from benchmarks.tk_latency import start_xvfb

    xvfb = start_xvfb("1600x1000x24")
    if xvfb is None:
        return [Row(figure, unit="s", skipped="needs Xvfb (apt-get install xvfb)") for figure in FIGURES]
    run_dir = ctx.tmp / "first_frame"
    run_dir.mkdir()
    write_log(RunDir(run_dir).log, EPOCHS, planned=PLANNED)
    busy = 0 if ctx.quick else (os.cpu_count() or 2)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    to_frame, startup, notes = [], [], []
    try:
        ctx.say(f"first frame: stlar-dl watch with {busy} busy processes")
        for _ in range(1 if ctx.quick else 3):
            a, b, note = _one(run_dir, xvfb[1])
            to_frame.append(a)
            startup.append(b)
            notes.append(note)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        xvfb[0].terminate()
        xvfb[0].wait(timeout=10)
    load = f"{busy} busy processes on {os.cpu_count()} cores; {EPOCHS}-epoch live log"
    return [Row(FIGURES[0], to_frame, "s", target=("<=", 1.0), note=f"{load}; {notes[-1]}"),
            Row(FIGURES[1], startup, "s", note=load)]
