"""The `stlar-dl` command: composes the trainer's and the viewer's commands and is the one error boundary.

Library code raises typed exceptions (`shared.errors.StlarError`); here they become one line on stderr and
exit code 2, like usage errors. Nothing below this layer prints a traceback for a user's mistake.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

import typer.core

# The click that typer itself runs on: newer typer vendors it as typer._click (and installs no click),
# older typer imports the click package. Catching another copy's exceptions would catch nothing.
_click = getattr(typer.core, "_click", None) or typer.core.click
ClickException, UsageError = _click.exceptions.ClickException, _click.exceptions.UsageError

from shared.errors import StlarError
from shared.version import __version__
from trainer.cli import register as register_trainer
from viewer.cli import register as register_viewer
from viewer.compare_cli import register as register_compare

app = typer.Typer(
    name="stlar-dl",
    help="Train 1-D CNN detectors of HFO segments, and watch, diagnose and stop training live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stlar-dl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_version,
                                 is_eager=True),
) -> None:
    """Train 1-D CNN detectors of HFO segments, and watch, diagnose and stop training live.

    The trainer writes RUN_DIR/training_log.jsonl; `stlar-dl watch RUN_DIR` shows it live from another process.
    """


register_trainer(app)
register_viewer(app)
register_compare(app)


def error_line(message: str) -> None:
    """Print a user-facing error as one line on stderr."""
    text = " ".join(str(message).split())
    print(f"Error: {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; exit 2 with one line for bad input, 130 for Ctrl-C."""
    try:
        code = app(args=list(argv) if argv is not None else None, prog_name="stlar-dl", standalone_mode=False)
    except StlarError as exc:
        error_line(str(exc))
        sys.exit(2)
    except UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        error_line(exc.format_message() + hint)
        sys.exit(2)
    except ClickException as exc:
        error_line(exc.format_message())
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
