"""Work done in a forked child while this process goes on: `replay --png` reads the log there while it imports
matplotlib here.

Reading and folding a 100,000-epoch log and importing matplotlib each take a few tenths of a second of one
core, and neither needs the other until the figure is drawn. A child forked before the import reads the log
on the other core and hands back its result (pickled, through a pipe); `result()` returns it, or raises the
exception the work raised (an InputError for a log with no records says the same as it would here). Where
there is no fork (Windows; macOS, where forking after some imports is unsafe), the process runs other threads
(a fork copies only the calling thread, and any lock another one holds), or the child could not deliver
(killed, a result that does not pickle), the work runs here instead: the same result, only not overlapped.
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_OK, _RAISED = "ok", "raised"


class ReadAhead(Generic[T]):
    """`work()` started in a child process now; `result()` its outcome here."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self._pid: int | None = None
        self._pipe: int | None = None
        # Only a single-threaded process forks: a lock another thread holds would stay locked in the child.
        if sys.platform.startswith("linux") and threading.active_count() == 1:
            self._fork()

    def _fork(self) -> None:
        try:
            read, write = os.pipe()
        except OSError:
            return
        sys.stdout.flush()  # nothing buffered here may be written twice (the child never flushes: os._exit)
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: do the work, send the outcome, exit without running the parent's exit code
            os.close(read)
            self._child(write)
        os.close(write)
        self._pid, self._pipe = pid, read

    def _child(self, write: int) -> None:
        try:
            gc.disable()  # a short-lived process that keeps everything it makes
            try:
                outcome = (_OK, self._work())
            except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
                outcome = (_RAISED, exc)
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(write, view):]
        finally:  # a BaseException (Ctrl-C) too: the parent, finding no outcome, does the work itself
            os._exit(0)

    def result(self) -> T:
        """The work's result (waiting for the child), or its exception raised here."""
        outcome = self._collect()
        if outcome is None:
            return self._work()
        kind, value = outcome
        if kind == _RAISED:
            raise value
        return value

    def _collect(self) -> tuple[str, object] | None:
        if self._pid is None or self._pipe is None:
            return None
        chunks = []
        try:
            while chunk := os.read(self._pipe, 1 << 20):
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            os.close(self._pipe)
            self._pipe = None
            try:
                os.waitpid(self._pid, 0)
            except ChildProcessError:
                pass
            self._pid = None
        try:
            # Trusted bytes: written by the child this process forked, through a pipe only the two of them hold.
            outcome = pickle.loads(b"".join(chunks))
        except Exception:  # noqa: BLE001 - nothing (the child was killed) or a torn outcome: do it here
            return None
        return outcome if isinstance(outcome, tuple) and len(outcome) == 2 else None
