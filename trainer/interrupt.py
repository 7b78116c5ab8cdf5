"""Ctrl-C and SIGTERM during training: the first asks for a graceful stop, the second aborts at once.

The first signal only sets `requested` (the loop polls it between batches, like the stop file, and prints
what happens). A second signal raises KeyboardInterrupt in the main thread, unless the main thread is in
a `critical()` block (appending a log record, saving the checkpoint): then the interrupt is raised when
the block ends, so a record is never half-counted and a checkpoint never half-renamed. After `mute()`
(the run is ending and writing its final outputs, a second or two) signals are ignored.

Data-loader workers receive the terminal's Ctrl-C too (same process group), and a SIGTERM sent to the
whole group (systemd, `kill -- -PGID`) as well. A worker that died of it would break the epoch the
trainer is trying to finish (torch then raises "DataLoader worker ... is killed by signal" in the trainer
at whatever line runs, or waits for the dead worker), so `shield_workers` makes workers ignore both
signals from birth: the main process alone decides, and its loader shuts the workers down when the run
ends. (Forked workers also inherit the handler below; it does nothing outside the process that installed
it.) Only the main thread can install handlers; elsewhere this is a no-op.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

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
                # An ignored signal stays ignored, as Python itself leaves SIGINT: a job started in the
                # background by a non-interactive shell (`stlar-dl train-dl ... &`, nohup) is meant to be
                # deaf to the terminal's Ctrl-C.
                if signal.getsignal(sig) is signal.SIG_IGN:
                    continue
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


_WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Windows has no signal masks (nor process groups that a Ctrl-C or killpg reaches all at once).
_CAN_BLOCK = hasattr(signal, "pthread_sigmask")


@contextlib.contextmanager
def _worker_signals_blocked() -> Iterator[None]:
    """Block SIGINT and SIGTERM in this thread for the block, then restore its mask.

    A signal sent meanwhile is not lost: it stays pending and is delivered when the mask is restored (two of
    the same kind merge into one). Python runs its handlers in the main thread either way.
    """
    if not _CAN_BLOCK:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _WORKER_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _ignore_signals_then(init: Callable[[int], None] | None, worker_id: int) -> None:
    # Runs in each data-loader worker, after torch installed its own handlers (torch's SIGTERM handler
    # kills the worker on a SIGTERM from anyone but the trainer). The worker was born with both signals
    # blocked (ShieldedLoader.__iter__), so none has reached it yet. Order matters:
    # 1. ignore both: this also discards one that arrived since the worker was born (POSIX drops a pending
    #    signal whose action becomes SIG_IGN, blocked or not);
    # 2. only then unblock them, so none can slip in between under torch's handler.
    for sig in _WORKER_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if _CAN_BLOCK:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _WORKER_SIGNALS)
    if init is not None:
        init(worker_id)


class ShieldedLoader:
    """A DataLoader whose worker processes ignore SIGINT and SIGTERM from the moment they exist.

    Iterating starts the workers (the first `iter()` of a persistent loader, every `iter()` otherwise). A
    child process inherits the signal mask of the thread that starts it, so `__iter__` blocks both signals
    while the workers start: each is born deaf to them until its init (`_ignore_signals_then`) has set
    them to SIG_IGN. Without that, a worker not yet through its init (the one that got no batch yet, or
    every one under load) dies of a group signal. The trainer's own handler sees a signal sent during the
    block as soon as the block ends. Offers `len()`, `iter()` and `close()`: all the trainer uses.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        if getattr(self.loader, "num_workers", 0) == 0:
            return iter(self.loader)
        with _worker_signals_blocked():
            return iter(self.loader)

    def close(self) -> None:
        """Stop the loader's persistent worker processes now, if they run (iterating starts new ones).

        Call it when the run ends, and before an exception leaves the trainer: an exception that reaches
        the interpreter keeps the loader alive to the end (`sys.last_traceback`), so multiprocessing's exit
        handler would `terminate()` the workers, which ignore SIGTERM, then `join()` them forever.
        """
        # torch has no public call for this: workers stop when the loader's iterator is collected.
        iterator = getattr(self.loader, "_iterator", None)
        if iterator is None:
            return
        self.loader._iterator = None
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()


def shield_workers(loader: Any) -> Any:
    """Make `loader`'s worker processes ignore SIGINT and SIGTERM; call before its first iteration.

    Returns a `ShieldedLoader` to iterate instead of `loader`; `close()` it when the run ends. Keeps the
    loader's own `worker_init_fn` (run after). A picklable partial, so spawned workers (macOS, Windows) get
    it too. A worker that ignores SIGTERM still exits:
    the loader asks it to when it is closed or collected, and it exits by itself within seconds once its
    parent is gone.
    """
    if getattr(loader, "num_workers", 0) > 0:
        loader.worker_init_fn = functools.partial(_ignore_signals_then, loader.worker_init_fn)
    return ShieldedLoader(loader)
