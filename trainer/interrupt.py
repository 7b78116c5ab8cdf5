"""Ctrl-C and SIGTERM during training: the first asks for a graceful stop, the second aborts at once.

The first signal only sets `requested` (the loop polls it between batches, like the stop file, and prints
what happens). A second signal raises KeyboardInterrupt in the main thread, unless the main thread is in
a `critical()` block (appending a log record, saving the checkpoint): then the interrupt is raised when
the block ends, so a record is never half-counted and a checkpoint never half-renamed. After `mute()`
(the run is ending and writing its final outputs, a second or two) signals are ignored.

Data-loader workers forked from the trainer inherit these handlers and receive the terminal's Ctrl-C too
(same process group); there the handler does nothing, so workers survive a graceful stop and the main
process alone decides. Only the main thread can install handlers; elsewhere this is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def exit_code_for(signal_name: str | None) -> int:
    """The shell convention for a process ended by a signal: 128 + its number (130 for SIGINT)."""
    number = {v: k for k, v in SIGNAL_NAMES.items()}.get(signal_name or "SIGINT", signal.SIGINT)
    return 128 + int(number)


def describe(signal_name: str) -> tuple[str, str]:
    """(what happened, how to abort at once) for the console line of a graceful interrupt."""
    if signal_name == "SIGINT":
        return "Interrupted (Ctrl-C)", "press Ctrl-C again to abort at once"
    return f"Terminated ({signal_name})", f"send {signal_name} again to abort at once"


class Interrupts:
    """Context manager installing the SIGINT/SIGTERM handlers; restores the previous ones on exit."""

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = signals
        self.requested: str | None = None  # name of the first signal, e.g. "SIGINT"
        self.aborted = False  # a second signal raised KeyboardInterrupt
        self._pid = os.getpid()
        self._previous: dict[int, object] = {}
        self._critical = 0
        self._pending = False
        self._muted = False

    def __enter__(self) -> Interrupts:
        self._pid = os.getpid()
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()

    def __call__(self) -> str | None:
        """The loop's poll: the name of the signal that asked for a graceful stop, or None."""
        return self.requested

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid or self._muted:
            return  # a forked data-loader worker, or the final outputs are being written
        if self.requested is None:
            self.requested = SIGNAL_NAMES.get(signum, f"signal {signum}")
            return
        if self._critical:
            self._pending = True
            return
        self._abort()

    def _abort(self) -> None:
        self.aborted = True
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """Defer an abort until the block is done (it then raises KeyboardInterrupt at the block's end)."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if self._pending and not self._critical and not self._muted:
            self._pending = False
            self._abort()

    def mute(self) -> None:
        """Ignore signals from now on: the run is ending and writing what it owes (a second or two)."""
        self._muted = True
