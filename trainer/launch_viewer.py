"""`--gui`: start `stlar-dl watch RUN_DIR` as its own detached process, and never look back.

The viewer is not a child we manage: it gets its own session (POSIX) or process group (Windows), so a
Ctrl-C in the trainer's terminal does not reach it, its crash cannot touch training, and its window stays
open for review after training ends. Its output goes to `RUN_DIR/viewer.log`. The trainer never waits
for it and never reads anything from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trainer.run_dir import VIEWER_LOG_NAME


def display_missing(env: Mapping[str, str], platform: str) -> bool:
    """True on Linux (and other X11/Wayland systems) without DISPLAY or WAYLAND_DISPLAY.

    macOS and Windows always have a window server for a logged-in user, so they are assumed to have one.
    """
    if platform.startswith(("win", "cygwin", "darwin")):
        return False
    return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def viewer_command(run_dir: str | Path) -> list[str]:
    return [sys.executable, "-m", "stlar_dl", "watch", str(run_dir)]


def launch_viewer(
    run_dir: str | Path,
    shown: str | None = None,
    env: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    popen: Callable[..., Any] = subprocess.Popen,
) -> tuple[Any | None, str]:
    """Start the viewer detached; return (process or None, a line for the console).

    With no display, or if the process cannot be started, returns (None, a warning) and training goes on
    headless.
    """
    env = os.environ if env is None else env
    shown = shown or str(run_dir)
    if display_missing(env, platform):
        return None, (
            f"--gui: no display (DISPLAY and WAYLAND_DISPLAY are unset); training goes on headless. "
            f"Watch it from a desktop session with: stlar-dl watch {shown}"
        )
    kwargs: dict[str, Any] = {"stdin": subprocess.DEVNULL, "close_fds": True, "env": dict(env)}
    if platform.startswith("win"):
        kwargs["creationflags"] = (getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
                                   | getattr(subprocess, "DETACHED_PROCESS", 0x8))
    else:
        kwargs["start_new_session"] = True  # its own session: the terminal's Ctrl-C/hang-up do not reach it
    log_path = Path(run_dir) / VIEWER_LOG_NAME
    try:
        with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            proc = popen(viewer_command(run_dir), stdout=log, stderr=subprocess.STDOUT, **kwargs)
    except OSError as exc:
        return None, (f"--gui: could not start the viewer ({exc.strerror or exc}); training goes on headless. "
                      f"Run it yourself with: stlar-dl watch {shown}")
    return proc, f"Started the viewer (stlar-dl watch {shown}, pid {getattr(proc, 'pid', '?')})"
