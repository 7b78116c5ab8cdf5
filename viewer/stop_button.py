"""The window's one button and its states: Stop Training (writes the stop file), Stopping... (inert), Close.

`label_for` decides the state from what the view knows; `StopButton` shows it; `ask_to_stop` is what a
click on Stop Training does, returned as the lines the log panel shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.widgets import Button

from shared.errors import RunDirError
from shared.history import History
from shared.stopfile import request_stop
from viewer.layout import button_font
from viewer.status import finishing

STOP_LABEL, STOPPING_LABEL, CLOSE_LABEL = "Stop Training", "Stopping...", "Close"
_COLORS = {  # label -> (face, hover)
    STOP_LABEL: ("#d62728", "#ef5350"),
    STOPPING_LABEL: ("#bdbdbd", "#bdbdbd"),
    CLOSE_LABEL: ("#2ca02c", "#43c143"),
}


def label_for(history: History, *, live: bool, stop_sent: bool, gone: bool = False) -> str:
    """The button's state: Close once the run ended (or in replay), or when there is no trainer left to ask
    (`gone`: the run crashed, or the trainer did not answer a stop request); Stopping... once a stop is asked
    for."""
    if not live or history.finished or gone:
        return CLOSE_LABEL
    if history.stopping or stop_sent:
        return STOPPING_LABEL
    return STOP_LABEL


class StopButton:
    """A matplotlib Button on `ax` that shows one of the three states; `on_click` gets every click."""

    def __init__(self, ax: Axes, on_click: Callable[[object], None]) -> None:
        self.ax = ax
        self.label = ""
        self.button = Button(ax, STOP_LABEL, color=_COLORS[STOP_LABEL][0], hovercolor=_COLORS[STOP_LABEL][1])
        self.button.label.set_fontsize(button_font(ax.figure, ax.bbox.width))  # as viewer.layout.fit sizes it
        self.button.label.set_fontweight("bold")
        self.button.label.set_color("white")
        self.button.on_clicked(on_click)

    def show(self, label: str) -> bool:
        """Switch to state `label`; False if it already was (nothing to redraw)."""
        if label == self.label:
            return False
        self.label = label
        face, hover = _COLORS[label]
        self.button.label.set_text(label)
        self.button.label.set_color("#424242" if label == STOPPING_LABEL else "white")  # legible on gray
        self.button.color, self.button.hovercolor = face, hover
        self.ax.set_facecolor(face)
        self.button.set_active(label != STOPPING_LABEL)
        return True


@dataclass
class StopOutcome:
    lines: list[str]  # for the log panel, in order (none when a request is in the stop file: see `request`)
    sent: bool  # a stop request is in the stop file (ours or an earlier one)
    error: str | None = None  # why the stop file could not be written (a warning line says it too)
    request: dict | None = None  # the request now in the stop file, when `sent`


def ask_to_stop(history: History, run_dir_path: Path, stop_path: Path, by: str,
                warning: Callable[[str], str]) -> StopOutcome:
    """What Stop Training does: write the stop file, unless there is no run yet or its loop is already over.

    `warning` formats a warning line (the view's event formatter). A request already in the stop file (another
    viewer's, `stlar-dl stop`'s) is kept as it is and returned as the request.
    """
    if history.start is None:
        return StopOutcome([f"No run to stop yet: nothing has started in {run_dir_path}"], sent=False)
    if finishing(history):  # the loop is over: no epoch to stop after, no trainer reading the stop file
        last = history.last_epoch
        return StopOutcome([f"Nothing to stop: the run has finished its last epoch ({last['epoch']}/"
                            f"{last['epochs']}) and is writing its outputs"], sent=False)
    try:
        _created, request = request_stop(stop_path, by, history.run_id)
    except RunDirError as exc:
        return StopOutcome([warning(f"Cannot stop the run: {exc}")], sent=False, error=str(exc))
    return StopOutcome([], sent=True, request=request)
