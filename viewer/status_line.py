"""The window's status line: the run's verdict (`viewer.status`) as the window words and colours it.

Pure over what the window knows (its History, the source's quiet time, its own stop request); the window
decides when to ask (on new records, after a click, and every STATUS_SECONDS for what only time changes: the
record's age, the ETA, the pid check). `show` puts the text on the canvas only when it changed, so an
unchanged status costs no redraw.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.text import Text

from shared.history import History
from viewer.header import on_screen
from viewer.status import (
    CRASHED, FINISHED, LIVE, REPLAYING, STALLED, STOPPING, WAITING, PidAlive, Status, status_of, trainer_alive,
)

STATUS_SECONDS = 10.0  # the status line (record age, ETA, pid check) is refreshed this often: each refresh
# redraws the line (~13 ms); once a second, that was ~1.3 % of a core for a live run with nothing new
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


class StatusLine:
    """The status text artist and the Status it shows; `due()` says when time alone may have changed it."""

    def __init__(self, text: Text, clock: Callable[[], float]) -> None:
        self.text = text
        self.status = Status(WAITING, "waiting for the run")
        self._clock = clock
        self._asked = -float("inf")  # on `clock`: when the verdict was last worked out
        self._shown: str | None = None  # the text on the canvas (None: nothing yet)

    def due(self) -> bool:
        return self._clock() - self._asked >= STATUS_SECONDS

    def asked(self) -> None:
        """A verdict is being worked out now (the next `due` is STATUS_SECONDS from here)."""
        self._asked = self._clock()

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
