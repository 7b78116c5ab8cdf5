"""The commands that look at many runs: `stlar-dl runs` and `stlar-dl compare`. Thin: parse, call, return a code.

As in `viewer.cli`, the work modules are imported inside the commands, so `--help` loads no matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

DIRS_HELP = ("Run directories, or folders to search below for runs (archived runs included); default: the "
             "current folder.")


def register(app: typer.Typer) -> None:
    """Add `runs` and `compare` to the stlar-dl app."""

    @app.command()
    def runs(
        dirs: Optional[list[Path]] = typer.Argument(None, metavar="DIR", help=DIRS_HELP, show_default=False),
        json_out: bool = typer.Option(False, "--json", help="Print a JSON array, one object per run, for scripts."),
    ) -> None:
        """List every run under the folders, oldest first: status, epochs, best values, duration, and the options that differ.

        Finds every folder with a training_log.jsonl, archived runs included. Reads only the start and the end of each log, so hundreds of runs list in about a second; a best AUROC marked ≥ is the best of a long run's last 50 epochs.
        """  # noqa: E501 - typer keeps a paragraph's line breaks
        # `stlar-dl runs [DIR]... [--json]` itself skips typer (stlar_dl.cli.quick_command), calling the same function.
        from viewer.runs import runs_command

        raise typer.Exit(runs_command(dirs, json_out=json_out))

    @app.command()
    def compare(
        dirs: Optional[list[Path]] = typer.Argument(None, metavar="DIR", help=DIRS_HELP,
                                                    show_default=False),
        png: Optional[Path] = typer.Option(None, "--png", metavar="FILE",
                                           help="Write the comparison figure to FILE and exit (no window)."),
        no_window: bool = typer.Option(
            False, "--no-window",
            help="Print the table of runs in the terminal and update it while runs are live; exits when none is.",
        ),
        metric: str = typer.Option(
            "val_loss", "--metric", metavar="NAME",
            help="What to overlay: val_loss (with train loss dashed), train_loss, or a metric the runs log, "
                 "such as val_auroc or val_accuracy.",
        ),
        poll: bool = typer.Option(False, "--poll",
                                  help="Poll the logs instead of waiting for file events (NFS, SMB, sshfs)."),
    ) -> None:
        """Overlay runs, live, in one window, named by the options that differ (lr=2e-4, wd=1e-3).

        Val loss solid and train loss dashed, one colour per run, each run's best epoch starred, and a table of the runs with their status and best values. Runs still training update as their logs grow; a run that starts later under a given folder joins. Click a run's curve or table row to highlight it.
        """  # noqa: E501 - typer keeps a paragraph's line breaks
        from viewer.compare import compare as run_compare

        raise typer.Exit(run_compare(dirs or [Path(".")], png=png, no_window=no_window, metric=metric, poll=poll))
