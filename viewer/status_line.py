"""The window's status line: the run's verdict (`viewer.status`) as the window words and colours it.

Pure over what the window knows (its History, the source's quiet time, its own stop request). The window asks
on new records and after a click; with nothing new, time alone changes the status in two ways: its verdict at
known moments (the age of the last record appears at QUIET_SECONDS; live turns stalled? or crashed at
STALL_SECONDS; a stop request goes unanswered at STALL_SECONDS), asked at that moment (`next_change`), and
its numbers (the record's age, the ETA), asked every STATUS_SECONDS. `show` puts the text on the canvas only
when it changed, so an unchanged status costs no redraw. (Each redraw of the line renders its ~60 glyphs,
~12 ms: every 10 s, that was over half of an idle window's 0.2 % of a core.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

from matplotlib.text import Text

from shared.history import History
from viewer.header import on_screen
from viewer.status import (
    CRASHED, FINISHED, LIVE, QUIET_SECONDS, REPLAYING, STALL_SECONDS, STALLED, STOPPING, WAITING, PidAlive, Status,
    status_of, trainer_alive,
)

STATUS_SECONDS = 30.0  # the status's numbers (the last record's age, the ETA) are brought up to date this often
COLORS = {WAITING: "dimgray", REPLAYING: "dimgray", LIVE: "#1b5e20", STOPPING: "#e65100", FINISHED: "#0d47a1",
          STALLED: "#b71c1c", CRASHED: "#b71c1c"}


def window_status(history: History, *, quiet: float, live: bool, playing: bool, stop_waited: float | None,
                  hostname: str | None, alive: PidAlive) -> Status:
    """The window's verdict: replay --speed still `playing` has none before the end of the log; `stop_waited`
    is how long this window's stop request has gone unanswered (None: no request pending)."""
    if playing:
        last = history.last_epoch
        return Status(REPLAYING, f"replaying — epoch {last['epoch'] if last else 0} of the log")
    return status_of(history, quiet=quiet, live=live, stop_pending=stop_waited is not None,
                     stop_unanswered=stop_waited,
                     trainer=trainer_alive(history, hostname=hostname, alive=alive))


def next_change(quiet: float, stop_waited: float | None) -> float:
    """Seconds from now until time alone may change the verdict (math.inf: never): the next of the thresholds
    that the log's quiet time (`quiet`) and this window's unanswered stop request (`stop_waited`) cross."""
    ahead = [QUIET_SECONDS - quiet, STALL_SECONDS - quiet]
    if stop_waited is not None:
        ahead.append(STALL_SECONDS - stop_waited)
    return min((t for t in ahead if 0 < t < math.inf), default=math.inf)


class StatusLine:
    """The status text artist and the Status it shows; `due()` says when time alone may have changed it."""

    def __init__(self, text: Text, clock: Callable[[], float]) -> None:
        self.text = text
        self.status = Status(WAITING, "waiting for the run")
        self._clock = clock
        self._due = -math.inf  # on `clock`: when the status is next worked out anew
        self._shown: str | None = None  # the text on the canvas (None: nothing yet)

    def due(self) -> bool:
        return self._clock() >= self._due

    def asked(self, change_in: float = math.inf) -> None:
        """A verdict is being worked out now; time alone may change it in `change_in` seconds (`next_change`).
        The next `due` is then (a hair after, so the threshold is crossed), or in STATUS_SECONDS at the latest."""
        self._due = self._clock() + min(STATUS_SECONDS, change_in + 0.01)

    def show(self, status: Status, stop_error: str | None = None) -> bool:
        """Show `status` (with a note when this window's stop failed); False if the line already read so."""
        text = status.text
        if stop_error is not None and status.kind != FINISHED:
            text += " | Stop failed: see the log panel"
        if (status.kind, text) == (self.status.kind, self._shown):
            return False
        self.status, self._shown = Status(status.kind, text), text
        self.text.set_text(on_screen(text))
        self.text.set_color(COLORS.get(status.kind, "black"))
        return True
