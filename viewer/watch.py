"""`stlar-dl watch RUN_DIR`: follow a run in a window, or in the terminal where no window can be opened."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from shared.safetext import printable
from viewer.follow import Follower
from viewer.paths import png_arg, run_dir_arg


def watch(run_dir: Path, *, poll: bool = False, no_window: bool = False, png: Path | None = None,
          out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Follow RUN_DIR until the user closes the window (or, in the terminal, until the run ends); exit code.

    The run dir may not exist yet (the view waits for it). Training is never touched except by the Stop
    button, which writes the stop file.
    """
    run_dir = run_dir_arg(run_dir, must_exist=False)
    png = png_arg(png) if png is not None else None
    with Follower(run_dir, poll=poll) as follower:
        if not no_window:
            from viewer.gui import NoDisplay, open_figure, show
            from viewer.window import RunWindow

            try:
                fig = open_figure(f"stlar-dl watch — {run_dir}")
            except NoDisplay as exc:
                print(f"No window: {exc}; following the run in the terminal instead (--no-window)",
                      file=err, flush=True)
            else:
                window = RunWindow(fig, run_dir, follower, png=png, out=out)
                if show(window):
                    print(printable(f"Detached; training continues (stlar-dl watch {run_dir} to attach again)"),
                          file=out, flush=True)
                return 0
        from viewer.terminal import watch_terminal

        return watch_terminal(follower, out, png=png)
