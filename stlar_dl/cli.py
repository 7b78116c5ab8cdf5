"""The `stlar-dl` command: runs the typer app (`stlar_dl.app`) and is the one error boundary.

Library code raises typed exceptions (`shared.errors.StlarError`); here they become one line on stderr and
exit code 2, like usage errors. Nothing below this layer prints a traceback for a user's mistake.

`stlar-dl stop RUN_DIR`, `stlar-dl runs`, `stlar-dl replay RUN_DIR [--png FILE]` and `stlar-dl --version`
start without typer (`quick_command`): importing it and building its pydantic type adapters costs ~0.2 s,
many times the work of a stop (reading a log's two ends and writing one file), a fifth of a replay to a PNG.
Only their plain forms are taken, and they call the function the typer command calls.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import OutputClosed, StlarError
from shared.rundir import DEFAULT_RUN_DIR
from shared.safetext import printable
from shared.version import VERSION_LINE


def error_line(message: str) -> None:
    """Print a user-facing error as one line on stderr."""
    text = " ".join(printable(str(message)).split())  # a path or run id may carry escape sequences
    print(f"Error: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Quick:
    """A command's plain form that runs without typer: one positional parameter and boolean flags.

    `function` (in `module`) is what the typer command calls, with the same keywords; tests check that the
    typer command still declares exactly these parameters (tests/test_quick_commands.py).
    """

    module: str
    function: str
    argument: str  # the positional parameter's name
    many: bool  # it takes any number of words (typer: a list); else at most one
    default: Any  # its value when no word is given
    flags: dict[str, str] = field(default_factory=dict)  # --flag -> parameter name (False unless given)
    options: dict[str, str] = field(default_factory=dict)  # --option PATH -> parameter name (None unless given)
    others: tuple[str, ...] = ()  # the command's other parameters: None here (their default); given, typer parses

    def bind(self, words: Sequence[str]) -> Callable[[], int] | None:
        """The call for `words` (the words after the command's name), or None when typer must parse them."""
        values: dict[str, Any] = dict.fromkeys(self.flags.values(), False)
        values.update(dict.fromkeys([*self.options.values(), *self.others]))
        positional = []
        words = iter(words)
        for word in words:
            if word in self.flags:
                values[self.flags[word]] = True
            elif word in self.options:
                value = next(words, "")
                name = self.options[word]
                if not value or value.startswith("-") or values[name] is not None:  # missing, odd or given twice
                    return None
                values[name] = Path(value)
            elif not word or word.startswith("-"):  # help, `--`, another option, or a word typer would refuse
                return None
            else:
                positional.append(Path(word))
        if len(positional) > 1 and not self.many:
            return None
        values[self.argument] = (positional if self.many else positional[0]) if positional else self.default
        return functools.partial(self._call, values)

    def _call(self, values: dict[str, Any]) -> int:
        code = getattr(importlib.import_module(self.module), self.function)(**values)
        return code if isinstance(code, int) else 0


# What scripts and impatient users run, often in a loop (see the module doc).
QUICK = {
    "stop": Quick("viewer.stop", "stop_command", argument="run_dir", many=False, default=Path(DEFAULT_RUN_DIR)),
    "runs": Quick("viewer.runs", "runs_command", argument="dirs", many=True, default=(),
                  flags={"--json": "json_out"}),
    "replay": Quick("viewer.replay", "replay", argument="run_dir", many=False, default=Path(DEFAULT_RUN_DIR),
                    flags={"--no-window": "no_window"}, options={"--png": "png"}, others=("speed",)),
}


def _print_version() -> int:
    print(VERSION_LINE, flush=True)
    return 0


def quick_command(args: Sequence[str]) -> Callable[[], int] | None:
    """The call that runs `args` without typer, or None when typer must parse them.

    Taken here: `--version` alone, and the plain forms of the QUICK commands. Anything else (help, `--`, an
    unknown option, a word typer would refuse) goes to typer, so help and usage errors have one source.
    """
    if list(args) == ["--version"]:
        return _print_version
    quick = QUICK.get(args[0]) if args else None
    return quick.bind(args[1:]) if quick is not None else None


def _run_app(args: list[str]) -> int:
    """Parse `args` with typer and run the command; usage errors become one line and exit code 2."""
    import typer

    from stlar_dl.app import ClickException, UsageError, command

    try:
        code = command().main(args=args or ["--help"], prog_name="stlar-dl", standalone_mode=False)
    except UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        error_line(exc.format_message() + hint)
        return 2
    except ClickException as exc:
        error_line(exc.format_message())
        return exc.exit_code
    except typer.Abort:  # click's form of Ctrl-C
        return 130
    return code if isinstance(code, int) else 0


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; exit 2 with one line for bad input, 130 for Ctrl-C. `stlar-dl` alone prints the help."""
    args = list(argv) if argv is not None else sys.argv[1:]
    quick = quick_command(args)
    try:
        code = quick() if quick is not None else _run_app(args)
    except StlarError as exc:
        # `quiet`: a torchrun process other than rank 0, whose rank 0 reports the same error;
        # `exit_code`: 1 for a failure that is no input mistake (a peer process died).
        if not getattr(exc, "quiet", False):
            error_line(str(exc))
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:  # in a quick command (typer turns it into Abort): the same newline and code
        print(file=sys.stderr, flush=True)
        sys.exit(130)
    except (OutputClosed, BrokenPipeError):
        # The reader of a pipe stopped early (`stlar-dl replay RUN_DIR | head -1`): nothing more to say.
        # Point stdout at /dev/null so that Python's own flush at exit does not fail on the pipe again.
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        sys.exit(0)
    sys.exit(code)
