"""Terminal mode (`--no-window`): a run in the trainer's console format, for ssh sessions and pipes.

Prints the history so far, then each new epoch (`shared.console.epoch_line`), the diagnostics as they start
to fire, the run's own events and, at the end, the trainer's closing block and diagnostic report. Waits on
the follower's Event with a timeout, so an idle run costs one small read a second and no busy loop.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from shared.console import asciify, final_report, glyphs_for
from shared.decision import decision_lines, decision_of
from shared.errors import OutputClosed
from shared.history import History
from shared.logreader import NewRun
from shared.records import END, EPOCH, PROGRESS, Record
from shared.rundir import RunDir
from shared.safetext import printable
from viewer.events import Events, end_line
from viewer.follow import Follower
from viewer.status import CRASHED, STALLED, WAITING, PidAlive, pid_alive, status_of, trainer_alive

CRASHED_EXIT = 3  # `watch --no-window` exit code for a run that crashed (see viewer.status: dead for sure)


PIPED_PROGRESS_S = 30.0  # piped output gets a progress line at most this often


def progress_text(record: Record, planned: int | None) -> str:
    """`  Epoch 5/40: batch 12/50 (24%), about 35 s left in this epoch`."""
    batch, batches = record["batch"], record["batches"]
    pct = 100 * batch // batches if batches else 0
    text = f"  Epoch {record['epoch']}/{planned if planned else '?'}: batch {batch}/{batches} ({pct}%)"
    elapsed = record.get("elapsed")
    if isinstance(elapsed, (int, float)) and batch and batches >= batch:
        left = elapsed / batch * (batches - batch)
        text += f", about {left:.0f} s" if left < 120 else f", about {left / 60:.0f} min"
        text += " left in this epoch"
    return text


class ConsolePrinter:
    """Prints a run's records as the trainer's console would have shown them. One instance per view.

    `feed(items)` takes what `Follower.drain()` or `read_log` returns and returns True if an epoch was
    added (callers rewrite a --png then).
    """

    def __init__(self, out: TextIO, run_dir: Path, final_best: int | None = None, *, live: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.run_dir = run_dir
        self.g = glyphs_for(out)
        self.history = History()
        self.events = Events(self.g, checkpoint=str(RunDir(run_dir).checkpoint))
        self.events.final_best = final_best
        self.live = live  # show progress within an epoch (watch, not replay)
        isatty = getattr(out, "isatty", None)
        self.tty = bool(isatty and isatty())
        self._clock = clock
        self._progress_shown = False  # a TTY's updating progress line is on screen
        self._last_progress = -float("inf")  # when a piped progress line was last printed

    def progress(self, record: Record) -> None:
        """Progress within an epoch: on a terminal one line updated in place; piped, a line every 30 s at most."""
        if not self.live:
            return
        text = progress_text(record, self.history.planned_epochs)
        if self.tty:
            self._write("\r\033[K" + asciify(text, self.g), end="")
            self._progress_shown = True
        elif self._clock() - self._last_progress >= PIPED_PROGRESS_S:
            self._last_progress = self._clock()
            self.line(text)

    def _write(self, text: str, end: str = "\n") -> None:
        try:
            print(text, file=self.out, end=end, flush=True)
        except BrokenPipeError:
            raise OutputClosed from None

    def line(self, text: str = "") -> None:
        text = printable(text)  # log text may carry escape sequences: never pass them to the terminal
        if self._progress_shown:  # the next line takes the progress line's place
            self._progress_shown = False
            self._write("\r\033[K", end="")
        try:
            try:
                print(asciify(text, self.g), file=self.out, flush=True)
            except UnicodeEncodeError:  # a stream that claimed an encoding it cannot honour
                print(text.encode("ascii", "replace").decode("ascii"), file=self.out, flush=True)
        except BrokenPipeError:
            raise OutputClosed from None

    def feed(self, items: list[Record | NewRun]) -> bool:
        added = False
        skip = self.events.catch_up(items)
        if skip:
            self.line(self.events.catch_up_note(skip))
        self.events.saved_best(items)
        last_progress = next((item for item in reversed(items)
                              if not isinstance(item, NewRun) and item["type"] in (PROGRESS, EPOCH, END)), None)
        for item in items:
            if isinstance(item, NewRun):
                self.history = History()
                self.line()
                self.line(self.events.new_run(item)[0])
                continue
            self.history.add(item)
            if item["type"] == PROGRESS:
                if item is last_progress:  # of a batch read at once only the latest says where the epoch is
                    self.progress(item)
                continue
            if item["type"] == EPOCH:
                added = True
                skip -= 1
            if item["type"] == END:
                self.line(end_line(item))  # the decision threshold follows in the report's end block
                self.report(item["reason"])
                continue
            for text in self.events.lines(item, self.history, diagnose=skip < 0):
                self.line(text)
        return added

    def warning(self, text: str) -> None:
        self.line(self.events.warning(text))

    def report(self, reason: str | None) -> None:
        """The trainer's closing block and diagnostic report; `reason` None for a run without an end record."""
        h = self.history
        self.line("\n".join(final_report(h, reason, self.g, decision_lines(decision_of(h)))))


def watch_terminal(
    follower: Follower,
    out: TextIO = sys.stdout,
    *,
    png: Path | None = None,
    hostname: str | None = None,
    alive: PidAlive = pid_alive,
) -> int:
    """Follow the run in the terminal; return the exit code.

    0 when the run's end record arrives (or on Ctrl-C, which detaches: the trainer is not touched);
    CRASHED_EXIT when the run is crashed for sure (no end record, its trainer's pid gone on this host and the
    log quiet for STALL_SECONDS): the verdict and the report are printed first. A stalled? run (quiet, but
    its trainer alive or on another host) is waited for: it may resume. Status changes worth knowing
    (waiting for the run, stalled?, live again) are printed once when they happen.
    """
    printer = ConsolePrinter(out, follower.run_dir.path, live=True)
    follower.on_warning = printer.warning
    shown_kind = None
    try:
        while True:
            follower.wait()
            items = follower.drain()
            while True:
                if printer.feed(items) and png is not None:
                    _write_png(printer, png)
                if printer.history.finished:
                    return 0
                now = status_of(printer.history, quiet=follower.quiet(),
                                trainer=trainer_alive(printer.history, hostname=hostname, alive=alive))
                if now.kind not in (STALLED, CRASHED):
                    break
                # Records that landed between our read and the verdict: one more read settles it.
                items = follower.drain()
                if not items:
                    break
            if now.kind == CRASHED:
                printer.line(f"Status: {now.text}")
                printer.report(None)
                return CRASHED_EXIT
            if now.kind != shown_kind:
                if now.kind == WAITING:
                    log = follower.run_dir.log
                    printer.line(f"Waiting for the run: {log} has no records yet" if follower.reader.exists
                                 else f"Waiting for the run: {log} does not exist yet")
                elif now.kind == STALLED:
                    printer.line(f"Status: {now.text}; still watching (it may resume; Ctrl-C detaches)")
                elif shown_kind == STALLED:
                    printer.line(f"Status: {now.text}")
                shown_kind = now.kind
    except KeyboardInterrupt:
        printer.line()
        printer.line(f"Detached; training continues (stlar-dl watch {follower.run_dir.path} to attach again)")
        return 0


def _write_png(printer: ConsolePrinter, png: Path) -> None:
    from shared.figure_png import figure_title, save_png

    try:
        save_png(printer.history, png, figure_title(printer.history, str(printer.run_dir)))
    except OSError as exc:
        printer.warning(f"{png}: cannot write the figure ({exc.strerror or exc})")
