"""The trainer's side of the stop-file protocol: a cheap poll that ignores requests meant for another run.

`STOP` carries the `run_id` of the run its writer was showing. A viewer left open on a finished run can
still write one after the next run started in the same folder; that request is not for this run, so it
is removed and reported instead of stopping the wrong training. A request without a run_id (`stlar-dl stop`
before any log existed, a hand-made `touch STOP`) stops whichever run is going.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.stopfile import clear_stop, odd_stop, read_stop, stop_requested


class StopPoll:
    """`poll()` is one stat while there is no stop file; on first sight the request is read and kept."""

    def __init__(self, stop_path: str | Path, run_id: str, on_foreign: Callable[[str], None] | None = None):
        self.stop_path = Path(stop_path)
        self.run_id = run_id
        self.on_foreign = on_foreign or (lambda _line: None)
        self.request: dict[str, Any] | None = None

    def poll(self) -> bool:
        """True once a stop for this run (or for any run) has been requested."""
        if self.request is not None:
            return True
        if not stop_requested(self.stop_path):
            return False
        request = read_stop(self.stop_path)
        if request is None:  # removed between the stat and the read
            return False
        other = request.get("run_id")
        if isinstance(other, str) and other and other != self.run_id:
            clear_stop(self.stop_path)
            by = request.get("by") or "unknown"
            self.on_foreign(f"Ignored and removed a stop file meant for run {other} (by {by}); "
                            f"this run is {self.run_id}")
            return False
        odd = odd_stop(self.stop_path)
        if odd is not None:  # said once: the request is kept from here on
            self.on_foreign(f"{self.stop_path} is {odd}, not a stop file: taken as a stop request without details")
        self.request = request
        return True

    def read(self) -> dict[str, Any] | None:
        """The request seen by `poll()` (or None)."""
        return self.request
