"""The window's stop request from click to answer, and the button state that follows from it.

A click on Stop Training writes the stop file (`stop_button.ask_to_stop`); from then on the request is
pending until the trainer's `stop_requested` record answers it, or unanswered once STALL_SECONDS pass
without one (a stopped, hung or vanished trainer: the button becomes Close, the stop file stays). `sync`
puts the button in the state the run and the request call for, and says in the log why it became Close.

The request is one line of the log panel (`shared.console.stop_line`), not two: "Stop requested by ... at
...: waiting for the trainer to answer" until the answer comes, then the answer in its place, in the words
the terminal viewer, replay and the trainer's console use for it ("...: the trainer stops after epoch 4").
The terminal that started the window gets the line once, when it is final (answered, unanswered, or the
window closed while it waited).
"""

from __future__ import annotations

from collections.abc import Callable

from shared.console import stop_line
from shared.history import History
from shared.records import STOP_REQUESTED, Record
from shared.rundir import RunDir
from viewer.status import STALL_SECONDS
from viewer.stop_button import CLOSE_LABEL, StopButton, ask_to_stop, label_for


class StopFlow:
    """This window's stop request (`sent`, `sent_at` on `clock`, `error`) and its button.

    `log(text, echo)` adds a line to the log panel (and, `echo` True, to the terminal) and returns its index;
    `supersede(index, text)` replaces line `index` by `text` at the end; `echo(text)` prints to the terminal
    only; `warning` formats a warning line (the view's event formatter).
    """

    def __init__(self, button: StopButton, run_dir: RunDir, by: str, *, live: bool, clock: Callable[[], float],
                 log: Callable[..., int], supersede: Callable[[int, str], None], echo: Callable[[str], None],
                 warning: Callable[[str], str]) -> None:
        self.button = button
        self.run_dir = run_dir
        self.by = by
        self.live = live
        self._clock = clock
        self._log = log
        self._supersede = supersede
        self._echo = echo
        self._warning = warning
        self.reset()

    def reset(self) -> None:
        """A new run in the run dir: no request of ours is pending for it."""
        self.sent = False
        self.sent_at: float | None = None  # on `clock`: when this window wrote the stop file
        self.error: str | None = None  # why the stop file could not be written
        self._waiting: tuple[int, str] | None = None  # the log line that waits for the answer: (index, text)
        self._echoed = False  # that line went to the terminal already

    # ---- the request --------------------------------------------------------------------------------------
    def request(self, history: History) -> None:
        """Stop Training was clicked: write the stop file (or say why not) and log what happened."""
        outcome = ask_to_stop(history, self.run_dir.path, self.run_dir.stop, self.by, self._warning)
        if outcome.error is not None:
            self.error = outcome.error
        elif outcome.sent:
            self.sent, self.error = True, None
            self.sent_at = self._clock()
            if self._waiting is None:  # (a click again after a new run: the older line keeps its words)
                text = stop_line(outcome.request, None)
                self._waiting, self._echoed = (self._log(text, echo=False), text), False
        for line in outcome.lines:
            self._log(line)

    def answer(self, record: Record) -> bool:
        """A record just folded in: when it is the trainer's `stop_requested` and a line waits for it, that line
        gives way to the answer; True then (the record needs no line of its own)."""
        if record["type"] != STOP_REQUESTED or self._waiting is None:
            return False
        # Whoever the record names: one trainer answers one stop file, and the record says what it read.
        self._supersede(self._waiting[0], stop_line(record["stop"], record["epoch"]))
        self._waiting = None
        return True

    def flush(self) -> None:
        """The window closes, or gives up waiting: the terminal gets the waiting line, once."""
        if self._waiting is not None and not self._echoed:
            self._echoed = True
            self._echo(self._waiting[1])

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
                self.flush()
                self._log(f"The trainer did not answer the stop request within {STALL_SECONDS:g} s (stopped, "
                          "hung or gone): the button closes this window; the stop file stays, so the trainer "
                          "stops if it resumes")
            else:
                self._log("The run crashed (no end record, trainer gone): the button closes this window")
        self.button.show(label)
