"""Live latency in a real Tk window: `stlar-dl watch`'s window under Xvfb, its own canvas timer, its own blit.

`python -m benchmarks.tk_latency RUN_DIR N LO HI OUT_JSON` runs in its own process (pyplot and Tk stay out of
the benchmark process) with DISPLAY set by `latency`: it opens the window as `stlar-dl watch` does
(`viewer.gui.open_figure`, `RunWindow`, a started `Follower`), starts the trickle writer, and lets Tk's
main loop run the window: its file handler (woken by the follower's file events) and its timer. At the end
of each frame (the canvas's `draw_event`, which the window fires after blitted frames too) the epoch
records drained for it are taken: by then the frame is blitted into the Tk photo image (the X server
copies it to the screen on Tk's next idle pass). Writes the latencies (s) as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from shared.rundir import RunDir


def start_xvfb(screen: str = "1920x1200x24") -> tuple[subprocess.Popen, str] | None:
    """A fresh Xvfb on a free display, ready to use: (process, ':N'); None where Xvfb is not installed."""
    if shutil.which("Xvfb") is None:
        return None
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        number = fh.readline().strip()  # Xvfb writes the display number once it accepts clients
    if not number.isdigit():
        server.kill()
        server.wait()
        return None
    return server, f":{number}"


def measure(run_dir: Path, n: int, lo: float, hi: float, timeout: float) -> list[float]:
    import matplotlib.pyplot as plt

    from benchmarks.view import Tap
    from viewer.follow import Follower
    from viewer.gui import open_figure
    from viewer.window import RunWindow

    latencies: list[float] = []
    follower = Follower(run_dir).start()
    try:
        tap = Tap(follower)
        fig = open_figure(f"stlar-dl watch — {run_dir}")
        window = RunWindow(fig, run_dir, tap, out=None)
        writer = subprocess.Popen([sys.executable, "-m", "benchmarks.trickle", str(RunDir(run_dir).log), str(n),
                                   str(lo), str(hi), "2"])
        deadline = time.monotonic() + timeout

        def frame_done(_event: object) -> None:
            if window._partial_draw:  # the background pass of a full frame: not on screen yet
                return
            shown = tap.take()
            if shown:
                now = time.time()
                latencies.extend(now - record["time"] for record in shown)

        def check() -> None:
            if len(latencies) >= n or time.monotonic() > deadline or writer.poll() not in (None, 0):
                plt.close(fig)

        fig.canvas.mpl_connect("draw_event", frame_done)
        window.start_timer()
        window.timer.add_callback(check)
        try:
            plt.show()
        finally:
            if writer.poll() is None:
                writer.kill()
            writer.wait(timeout=10)
    finally:
        follower.close()
    return latencies


if __name__ == "__main__":
    run, count, low, high, out = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), \
        Path(sys.argv[5])
    result = measure(run, count, low, high, timeout=30 + 3 * count * high)
    out.write_text(json.dumps(result))
