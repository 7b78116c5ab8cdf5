"""The window's stop request from click to answer, and the button state that follows from it.

A click on Stop Training writes the stop file (`stop_button.ask_to_stop`); from then on the request is
pending until the trainer's `stop_requested` record answers it, or unanswered once STALL_SECONDS pass
without one (a stopped, hung or vanished trainer: the button becomes Close, the stop file stays). `sync`
puts the button in the state the run and the request call for, and says in the log why it became Close.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.history import History
from shared.records import Record
from shared.rundir import RunDir
from viewer.status import STALL_SECONDS
from viewer.stop_button import CLOSE_LABEL, StopButton, ask_to_stop, label_for


class StopFlow:
    """This window's stop request (`sent`, `sent_at` on `clock`, `error`) and its button.

    `log` adds a line to the log panel; `warning` formats a warning line (the view's event formatter).
    """

    def __init__(self, button: StopButton, run_dir: RunDir, by: str, *, live: bool, clock: Callable[[], float],
                 log: Callable[[str], None], warning: Callable[[str], str]) -> None:
        self.button = button
        self.run_dir = run_dir
        self.by = by
        self.live = live
        self._clock = clock
        self._log = log
        self._warning = warning
        self.reset()

    def reset(self) -> None:
        """A new run in the run dir: no request of ours is pending for it."""
        self.sent = False
        self.sent_at: float | None = None  # on `clock`: when this window wrote the stop file
        self.error: str | None = None  # why the stop file could not be written

    # ---- the request --------------------------------------------------------------------------------------
    def request(self, history: History) -> None:
        """Stop Training was clicked: write the stop file (or say why not) and log what happened."""
        outcome = ask_to_stop(history, self.run_dir.path, self.run_dir.stop, self.by, self._warning)
        if outcome.error is not None:
            self.error = outcome.error
        elif outcome.sent:
            self.sent, self.error = True, None
            self.sent_at = self._clock()
        for line in outcome.lines:
            self._log(line)

    def answers_us(self, record: Record) -> bool:
        """True for the trainer's `stop_requested` record answering this window's own request."""
        return self.sent and (record.get("stop") or {}).get("by") == self.by

    def waited(self, history: History) -> float | None:
        """Seconds this window's request has gone unanswered; None when none is pending."""
        if not self.sent or history.stop_request is not None or self.sent_at is None:
            return None
        return self._clock() - self.sent_at

    def unanswered(self, history: History) -> bool:
        """True when this window's stop request got no stop_requested record within STALL_SECONDS."""
        waited = self.waited(history)
        return waited is not None and waited > STALL_SECONDS

    # ---- the button ---------------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return self.button.label

    def sync(self, history: History, crashed: bool) -> None:
        """Show the button state the run calls for; when it becomes Close in a live view, say why in the log."""
        unanswered = self.unanswered(history)
        label = label_for(history, live=self.live, stop_sent=self.sent, gone=crashed or unanswered)
        if label == CLOSE_LABEL and self.button.label and label != self.button.label and self.live:
            if history.finished:
                self._log("The run has ended: the button closes this window")
            elif unanswered:
                self._log(f"The trainer did not answer the stop request within {STALL_SECONDS:g} s (stopped, "
                          "hung or gone): the button closes this window; the stop file stays, so the trainer "
                          "stops if it resumes")
            else:
                self._log("The run crashed (no end record, trainer gone): the button closes this window")
        self.button.show(label)
