"""The viewer's commands: `stlar-dl watch`, `stlar-dl replay`, `stlar-dl stop`. Thin: parse, call, return a code.

Imports of the work modules happen inside the commands, so `stlar-dl --help` and `stlar-dl watch --help` load
neither matplotlib's GUI nor watchdog, and the viewer never imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shared.rundir import DEFAULT_RUN_DIR

RUN_DIR_HELP = "The run directory the trainer writes (train-dl --out-dir)."


def register(app: typer.Typer) -> None:
    """Add `watch`, `replay` and `stop` to the stlar-dl app."""

    @app.command()
    def watch(
        run_dir: Path = typer.Argument(Path(DEFAULT_RUN_DIR), metavar="RUN_DIR", help=RUN_DIR_HELP, show_default=True),
        poll: bool = typer.Option(
            False, "--poll",
            help="Poll the folder instead of waiting for file events: use it when the run dir is on NFS, SMB "
                 "or sshfs and the trainer runs on another machine (its writes raise no events here).",
        ),
        no_window: bool = typer.Option(
            False, "--no-window",
            help="Follow in the terminal (for ssh): epoch lines, warnings, the final report. Exits 0 when the "
                 "run ends, and 3 when it crashed (no end record, its trainer's pid gone from this host and "
                 "the log quiet for 90 s). A stalled run (quiet, its trainer alive or on another host) is "
                 "waited for: it may resume. Used automatically when no window can be opened.",
        ),
        png: Optional[Path] = typer.Option(None, "--png", metavar="FILE",
                                           help="Rewrite the 2x2 figure to FILE after every epoch."),
    ) -> None:
        """Watch a run live from another process: curves, diagnostics, status, and a Stop button.

        Attach any time: before the run starts, mid-run or after it ended. Closing the window (or Ctrl-C in the terminal) never stops training; only the Stop Training button does.
        """  # noqa: E501 - typer keeps a paragraph's line breaks
        from viewer.watch import watch as run_watch

        raise typer.Exit(run_watch(run_dir, poll=poll, no_window=no_window, png=png))

    @app.command()
    def replay(
        run_dir: Path = typer.Argument(Path(DEFAULT_RUN_DIR), metavar="RUN_DIR", help=RUN_DIR_HELP, show_default=True),
        png: Optional[Path] = typer.Option(None, "--png", metavar="FILE",
                                           help="Write the 2x2 figure to FILE instead of opening a window."),
        no_window: bool = typer.Option(False, "--no-window",
                                       help="Print the epoch lines and the final diagnostic report."),
        speed: Optional[float] = typer.Option(None, "--speed", metavar="EPOCHS_PER_S",
                                              help="Play the run epoch by epoch at this many epochs a second."),
    ) -> None:
        """Show a finished, stopped or crashed run from its log alone."""
        from viewer.replay import replay as run_replay

        raise typer.Exit(run_replay(run_dir, png=png, no_window=no_window, speed=speed))

    @app.command()
    def tensorboard(
        run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR", help="One or more run directories."),
        logdir: Path = typer.Option(..., "--logdir", metavar="DIR",
                                    help="Where the event files go: one subfolder per run, <start time>_<run id>."),
        follow: bool = typer.Option(False, "--follow",
                                    help="Keep tailing the runs (as watch does) until each has ended."),
        poll: bool = typer.Option(False, "--poll", help="With --follow: poll instead of file events (NFS, SMB)."),
    ) -> None:
        """Write TensorBoard event files from run logs: train/val loss, every metric and the lr, per epoch.

        Needs the optional extra: pip install 'stlar-dl\\[tensorboard]'. Then: tensorboard --logdir DIR.
        """
        from viewer.tensorboard import tensorboard as run_tensorboard

        raise typer.Exit(run_tensorboard(list(run_dirs), logdir, follow=follow, poll=poll))

    @app.command()
    def stop(
        run_dir: Path = typer.Argument(Path(DEFAULT_RUN_DIR), metavar="RUN_DIR", help=RUN_DIR_HELP, show_default=True),
    ) -> None:
        """Ask the run in RUN_DIR to stop after its current epoch (writes RUN_DIR/STOP)."""
        # `stlar-dl stop [RUN_DIR]` itself skips typer (stlar_dl.cli.quick_command) and calls the same function.
        from viewer.stop import stop_command

        stop_command(run_dir)
