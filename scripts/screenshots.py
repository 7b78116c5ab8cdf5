"""Screenshots of the live window for the README: live, stopping, ended and crashed, at two screen sizes.

Runs a slow-motion fake trainer (tests/fake_run.py) and `stlar-dl watch` on a virtual X display (Xvfb),
and photographs the screen with ImageMagick's `import` at each stage. Needs Xvfb and imagemagick.

    python scripts/screenshots.py [OUT_DIR [run,crash [WxH,...]]]     # default docs/, both, 1600x1000,1280x720

The stopping stage clicks the window's Stop button (xdotool), as a user does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from procs import xvfb  # noqa: E402
from shared.logreader import read_log  # noqa: E402
from shared.rundir import RunDir  # noqa: E402
from viewer.status import STALL_SECONDS  # noqa: E402

SCREENS = {"1600x1000": "1600x1000x24", "1280x720": "1280x720x24"}


def records(run_dir: Path) -> list[dict]:
    log = RunDir(run_dir).log
    return read_log(log)[0] if log.exists() else []


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        threading.Event().wait(0.2)


def shoot(display: str, path: Path, settle: float = 2.5) -> None:
    threading.Event().wait(settle)  # the window's next status refresh and frame
    subprocess.run(["import", "-display", display, "-window", "root", "-depth", "8", str(path)], check=True)
    subprocess.run(["convert", str(path), "-colors", "256", "PNG8:" + str(path)], check=True)  # small files
    print(f"wrote {path}", flush=True)


class Geometry:
    """What the window says it has drawn (`STLAR_DEBUG_GEOMETRY=1` lines on its stderr), read on a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        threading.Thread(target=self._read, args=(proc.stderr,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            self.lines.append(raw.decode(errors="replace"))

    def drawn(self, text: str) -> bool:
        return any(text in line for line in self.lines if line.startswith("[STLAR_DEBUG_GEOMETRY]"))

    def box(self, label: str) -> tuple[int, int, int, int] | None:
        """The button's last reported screen box while it said `label`."""
        for line in reversed(self.lines):
            if f"button='{label}'" in line:
                fields = dict(part.split("=", 1) for part in line.split() if "=" in part and "'" not in part)
                return tuple(int(fields[k]) for k in ("x", "y", "w", "h"))
        return None

    def epochs(self) -> int:
        """The most epochs a frame on screen has shown."""
        shown = [line.rsplit("epochs=", 1)[1].strip() for line in self.lines if "epochs=" in line]
        return max((int(n) for n in shown if n.isdigit()), default=0)


def watch_window(python: str, run_dir: Path, env: dict) -> tuple[subprocess.Popen, Geometry]:
    proc = subprocess.Popen([python, "-m", "stlar_dl", "watch", str(run_dir)], env={**env, "STLAR_DEBUG_GEOMETRY": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    return proc, Geometry(proc)


def session(screen: str, name: str, out: Path, work: Path, stages: set[str]) -> None:
    python = sys.executable
    with xvfb(screen) as display:
        env = {**os.environ, "DISPLAY": display}
        if "run" in stages:
            run_stages(python, display, env, name, out, work)
        if "crash" in stages:
            crash_stage(python, display, env, name, out, work)


def run_stages(python: str, display: str, env: dict, name: str, out: Path, work: Path) -> None:
    """Live, stopping (after `stlar-dl stop`) and ended."""
    run_dir = work / f"run-{name}"
    trainer = subprocess.Popen([python, str(ROOT / "tests" / "fake_run.py"), str(run_dir), "--epochs", "40",
                                "--epoch-seconds", "4"], env=env, stdout=subprocess.DEVNULL)
    watch, drawn = watch_window(python, run_dir, env)
    try:
        wait_until(lambda: drawn.epochs() >= 6, 180, "6 epochs on screen")
        shoot(display, out / f"window-live-{name}.png")
        x, y, w, h = drawn.box("Stop Training")
        subprocess.run(["xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", "1"], env=env, check=True)
        wait_until(lambda: any(r["type"] == "stop_requested" for r in records(run_dir)), 60, "the stop record")
        wait_until(lambda: drawn.drawn("button='Stopping...'"), 60, "Stopping... on screen")
        shoot(display, out / f"window-stopping-{name}.png", settle=1.0)
        wait_until(lambda: drawn.drawn("button='Close'"), 60, "the end on screen")
        shoot(display, out / f"window-ended-{name}.png")
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=30)
        trainer.wait(timeout=30)


def crash_stage(python: str, display: str, env: dict, name: str, out: Path, work: Path) -> None:
    """Crashed: a trainer killed mid-run (no end record, its pid gone)."""
    crash_dir = work / f"crash-{name}"
    trainer = subprocess.Popen([python, str(ROOT / "tests" / "fake_run.py"), str(crash_dir), "--epochs", "40",
                                "--epoch-seconds", "1"], env=env, stdout=subprocess.DEVNULL)
    watch, drawn = watch_window(python, crash_dir, env)
    try:
        wait_until(lambda: drawn.epochs() >= 9, 180, "9 epochs on screen")
        trainer.kill()
        trainer.wait()
        # Crashed for sure only once the log has been quiet for viewer.status.STALL_SECONDS, pid gone.
        shoot(display, out / f"window-crashed-{name}.png", settle=STALL_SECONDS + 8)
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=30)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    stages = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else {"run", "crash"}  # e.g. `docs crash`
    screens = {name: f"{name}x24" for name in sys.argv[3].split(",")} if len(sys.argv) > 3 else SCREENS
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name, screen in screens.items():
            session(screen, name, out, Path(work), stages)


if __name__ == "__main__":
    main()
