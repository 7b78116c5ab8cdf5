"""The typer app of `stlar-dl`: the trainer's and the viewer's commands composed, in one help style.

`stlar_dl.cli.main` runs it and turns its errors into one line; this module is imported only when a command
needs typer (all but the plain forms of `stop` and `--version`, see `stlar_dl.cli`).
"""

from __future__ import annotations

import re

import typer
import typer.core

# The click that typer itself runs on: newer typer vendors it as typer._click (and installs no click),
# older typer imports the click package. Catching another copy's exceptions would catch nothing.
_click = getattr(typer.core, "_click", None) or typer.core.click
ClickException, UsageError = _click.exceptions.ClickException, _click.exceptions.UsageError

from shared.version import VERSION_LINE
from trainer.cli import EXIT_HELP
from trainer.cli import register as register_trainer
from viewer.cli import register as register_viewer
from viewer.compare_cli import register as register_compare

app = typer.Typer(
    name="stlar-dl",
    help="Train 1-D CNN detectors of HFO segments, and watch, diagnose and stop training live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",  # the default of newer typer, said here: docstrings escape a literal [ as \[
)


def _version(value: bool) -> None:
    if value:
        typer.echo(VERSION_LINE)
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

# Every command's exit codes, shown at the end of its --help (and listed in the README).
_COMMON = "2 bad input (one line on stderr says what and how to fix it); 130 Ctrl-C; 1 internal error"
EXIT_CODES = {
    "": f"Exit status: 0 success; {_COMMON}. Each command's --help lists its own.",
    "train-dl": EXIT_HELP,
    "demo": EXIT_HELP,
    "demo-data": f"Exit status: 0 written; {_COMMON}.",
    "export": f"Exit status: 0 exported and checked against the checkpoint; {_COMMON}.",
    "watch": "Exit status: 0 the window was closed, the run ended (--no-window) or Ctrl-C detached (training goes "
             "on); 3 (--no-window) the run crashed: no end record, its trainer gone from this host and the log "
             f"quiet for 90 s (a stalled run is waited for); {_COMMON.replace('; 130 Ctrl-C', '')}.",
    "replay": f"Exit status: 0 shown (also when a pipe's reader such as head stops early); {_COMMON}.",
    "stop": f"Exit status: 0 the stop was requested (or already had been); {_COMMON}.",
    "tensorboard": "Exit status: 0 written (with --follow: every run ended, or Ctrl-C); 2 also when TensorBoard "
                   f"is not installed (the line says how to install it); {_COMMON}.",
    "runs": f"Exit status: 0 listed (also when no run is found); {_COMMON}.",
    "compare": "Exit status: 0 the window was closed, the PNG written, or (--no-window) no run is live any more or "
               f"Ctrl-C detached (training goes on); {_COMMON.replace('; 130 Ctrl-C', '')}.",
}
_METAVARS = {"int": "N", "float": "NUMBER", "str": "TEXT", "path": "PATH"}


def _plain_help() -> None:
    """One metavar style in every --help: UPPERCASE words (FILE, N, NUMBER), `|` between alternatives
    (`none|plateau`, `RUN_DIR|auto`), none for a flag, and an argument shown once, by its name, as click writes
    it in a usage line: `DIR` required, `[DIR]` optional, `DIR...` repeated (typer 0.2x would print `<bool>`,
    `<int>`, `RUN_DIR <path>` and `{DIR}`)."""
    import typer.core as core

    option_type = core.TyperOption.display_type_rich

    def option_metavar(self, ctx):  # noqa: ANN001 - typer's signature
        if getattr(self, "is_flag", False):
            return None
        shown = option_type(self, ctx)
        if self.metavar is None and isinstance(shown, str) and shown.startswith("<") and shown.endswith(">"):
            return _METAVARS.get(shown[1:-1], shown[1:-1].upper())
        return shown

    core.TyperOption.display_type_rich = option_metavar
    core.TyperArgument.display_type_rich = lambda self, ctx: None
    usage_name = getattr(core.TyperArgument, "_usage_display_name", None)  # typer >= 0.2x
    if usage_name is not None:
        core.TyperArgument._usage_display_name = lambda self: re.sub(r"^\{(.*)\}", r"\1", usage_name(self))


_plain_help()


def command() -> _click.Command:
    """The click command of the app, with -h as well as --help and each command's exit codes in its help."""
    group = typer.main.get_command(app)
    group.context_settings["help_option_names"] = ["-h", "--help"]  # inherited by every command's context
    group.epilog = EXIT_CODES[""]
    for name, sub in getattr(group, "commands", {}).items():
        if name in EXIT_CODES:
            sub.epilog = EXIT_CODES[name]
    return group
