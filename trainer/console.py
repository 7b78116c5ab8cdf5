"""The trainer's console: STLAR's lines, plus a batch progress bar when stdout is a terminal.

Piped or redirected output gets complete lines only (no bar, no control codes), flushed as they are
printed, so `stlar-dl train-dl ... | tee run.txt` reads like the terminal without the bar. Text is built with
the Unicode glyphs of `shared.console` and turned into ASCII stand-ins here when the stream cannot encode
them (a Windows code page, `PYTHONIOENCODING=ascii`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from shared.console import Glyphs, asciify, glyphs_for
from shared.safetext import printable

BAR_REFRESH_S = 0.1  # redraw the bar at most this often: a redraw per batch would cost more than small batches


class Printer:
    """Prints lines to `stream`; shows a per-epoch progress bar only if `tty` (default: stream.isatty()).

    The bar is drawn by rich without a refresh thread (`auto_refresh=False`): it is redrawn from
    `batch()`, which the training loop calls after every batch, so nothing runs behind the loop's back.
    """

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.glyphs: Glyphs = glyphs_for(self.stream)
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty()) if tty is None else tty
        self._clock = clock
        self._progress = None
        self._task = None
        self._last_refresh = 0.0
        self._console = None
        self.lost = False  # the console could not be written to: nothing more is printed
        if self.tty:
            from rich.console import Console

            self._console = Console(file=self.stream, force_terminal=True, highlight=False, emoji=False,
                                    markup=False, soft_wrap=True)

    def line(self, text: str = "") -> None:
        """Print one line (ASCII stand-ins where the stream needs them). Never raises: see `_lose`."""
        if self.lost:
            return
        text = asciify(printable(text), self.glyphs)  # a data file's name may carry escape sequences
        try:
            if self._console is not None:
                self._console.print(text)
                return
            try:
                print(text, file=self.stream, flush=True)
            except UnicodeEncodeError:  # a stream that claimed an encoding it cannot honour
                print(text.encode("ascii", "replace").decode("ascii"), file=self.stream, flush=True)
        except (OSError, ValueError) as exc:
            self._lose(exc)

    def _lose(self, exc: BaseException) -> None:
        """The console is gone (its file's disk is full, the pipe's reader or the ssh session died): say so
        once on stderr and print nothing more. Hours of training must not end because a print failed; the
        log is the record of the run, and `stlar-dl watch` shows it."""
        self.lost = True
        self._progress = self._task = None
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        try:
            # Point the dead descriptor at /dev/null, or Python's final flush of it fails again at exit.
            fd = self.stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)
        except (AttributeError, OSError, ValueError):
            pass
        try:
            print(f"stlar-dl train-dl: cannot write to the console any more ({why}); training goes on "
                  "(follow it with stlar-dl watch)", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass

    def lines(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.line(text)

    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        """Begin the bar of one epoch (terminal only; it is removed again by `epoch_end`)."""
        if self._console is None or self.lost:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        width = len(str(epochs))
        self._progress = Progress(
            TextColumn(f"Epoch {epoch:>{width}}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("batches | {task.fields[phase]} | loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
            auto_refresh=False,
        )
        self._task = self._progress.add_task("epoch", total=batches, phase="train", loss="-")
        try:
            self._progress.start()
        except (OSError, ValueError) as exc:
            self._lose(exc)
        self._last_refresh = self._clock()

    def batch(self, batch: int, batches: int, loss: float | None, phase: str = "train") -> None:
        """Move the bar to `batch` of `batches` (throttled redraw)."""
        if self._progress is None:
            return
        shown = "-" if loss is None else f"{loss:.4f}"
        self._progress.update(self._task, completed=batch, total=batches, loss=shown, phase=phase)
        now = self._clock()
        if now - self._last_refresh >= BAR_REFRESH_S or batch >= batches:
            try:
                self._progress.refresh()
            except (OSError, ValueError) as exc:
                self._lose(exc)
            self._last_refresh = now

    def epoch_end(self) -> None:
        """Remove the bar (the epoch line printed next takes its place)."""
        if self._progress is not None:
            progress, self._progress, self._task = self._progress, None, None
            try:
                progress.stop()
            except (OSError, ValueError) as exc:
                self._lose(exc)

    def close(self) -> None:
        self.epoch_end()


class ListPrinter(Printer):
    """A printer that keeps its lines in `self.out` (tests, and callers that print elsewhere)."""

    def __init__(self, glyphs: Glyphs | None = None) -> None:
        from shared.console import UNICODE

        self.out: list[str] = []
        self.stream = None  # type: ignore[assignment]
        self.glyphs = glyphs or UNICODE
        self.tty = False
        self._console = None
        self._progress = None
        self.lost = False
        self.batches: list[tuple[int, int, str]] = []

    def line(self, text: str = "") -> None:
        self.out.append(asciify(text, self.glyphs))

    def batch(self, batch: int, batches: int, loss: float | None, phase: str = "train") -> None:
        self.batches.append((batch, batches, phase))


class QuietPrinter(ListPrinter):
    """Prints and keeps nothing: the console of a torchrun process other than rank 0 (rank 0 speaks for all)."""

    def line(self, text: str = "") -> None:
        return None

    def batch(self, batch: int, batches: int, loss: float | None, phase: str = "train") -> None:
        return None
