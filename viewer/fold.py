"""Folding a batch of records into the window's History and log lines (the heart of `RunWindow.apply`).

Pure over its arguments: the records go into the History, their lines (`viewer.events`) and, at the end
record, the trainer's final report go to `log`. Catching up on a long run, only the last CATCH_UP_EPOCHS
epochs get a line and warnings: formatting 100,000 lines nobody scrolls back to took half of an attach.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.console import UNICODE, final_report
from shared.decision import decision_lines, decision_of
from shared.history import History
from shared.logreader import EpochBlock, NewRun
from shared.records import END, EPOCH, Record
from viewer.events import CATCH_UP_EPOCHS, Events


def fold(items: list[Record | NewRun | EpochBlock], history: History, events: Events, log: Callable[[str], None], *,
         new_run: Callable[[NewRun], History], own: Callable[[Record], bool]) -> tuple[History, bool]:
    """Fold `items` into `history`; return the History now shown and whether the panels changed.

    A NewRun marker calls `new_run`, which resets the caller's view and returns the new run's empty History.
    `own(record)` is asked for each record after it is folded in: True means the caller has said what the
    record means itself (the window's answer to its own stop request), so the record's usual lines are not
    logged.
    """
    epochs = False
    skip = events.catch_up(items)
    events.saved_best(items)
    if skip:
        log(events.catch_up_note(skip, CATCH_UP_EPOCHS, lines=False))
    # The oldest `skip` epochs: folded in bulk. Records of other types among them (the start record) still get
    # their lines, in order; none of those lines reads the epochs. The rest come as records (see Events.split).
    bulk, items = events.split(items, skip)
    if bulk:
        added = history.extend(bulk)
        epochs = added > 0
        skip -= added
        for item in bulk:
            if isinstance(item, dict) and item["type"] != EPOCH:
                for text in events.lines(item, history, diagnose=False):
                    log(text)
    for item in items:
        if isinstance(item, NewRun):
            history = new_run(item)
            epochs = True  # the panels show the empty new run
            log(events.new_run(item)[0])
            continue
        added = history.add(item)
        epochs = added or epochs
        skip -= added
        if own(item):
            continue
        for text in events.lines(item, history, diagnose=skip < 0):
            log(text)
        if item["type"] == END:
            epochs = True  # x now fits the epochs run (viewer.limits)
            for text in final_report(history, item["reason"]):
                log(text)
    return history, epochs


def crash_report(history: History) -> list[str]:
    """The report of a run that ended without an end record (crashed), as the terminal viewer prints it."""
    return final_report(history, None, UNICODE, decision_lines(decision_of(history)))
