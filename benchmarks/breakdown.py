"""Where the time of one view update goes: `python -m benchmarks.breakdown [EPOCHS]`.

Not a figure of the table: evidence for a missed target. Attaches the view (`AggView`) to a log of EPOCHS
epochs (default 100,000) and then appends single epochs, with timers wrapped around the pieces of the
viewer's update path (reading, folding into the history, the log-panel lines, the figure's update, the
frame). Each piece is timed inclusive of what it calls (they do not nest); `other` is the rest of the tick.
Medians of REPEATS fresh attaches and of 20 single-epoch updates, in this process, garbage collected before
each. The wrappers cost about half a microsecond a call: pieces called once per record (fold, lines) read
some 50 ms high on 100,000 records.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 5


@contextlib.contextmanager
def timers(targets: dict[str, tuple[object, str]]):
    """Wrap `owner.name` for each label; yield the dict label -> seconds accumulated (reset by the caller)."""
    spent: dict[str, float] = collections.defaultdict(float)
    saved = []
    for label, (owner, name) in targets.items():
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, __original=original, __label=label, **kwargs):
            t0 = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                spent[__label] += time.perf_counter() - t0

        saved.append((owner, name, original))
        setattr(owner, name, timed)
    try:
        yield spent
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def main(epochs: int = 100_000) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from benchmarks.logs import LiveLog
    from benchmarks.view import AggView
    from shared.figure import DiagnosticFigure
    from shared.history import History
    from shared.logreader import LogReader
    from viewer.events import Events
    from viewer.window import RunWindow

    targets = {
        "read (LogReader.poll)": (LogReader, "poll"),
        "fold (History.add)": (History, "add"),
        "log-panel lines (Events.lines)": (Events, "lines"),
        "figure update (DiagnosticFigure.update)": (DiagnosticFigure, "update"),
        "frame (RunWindow.redraw)": (RunWindow, "redraw"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        log = LiveLog(run / "training_log.jsonl", epochs, planned=epochs + 100, fsync=False)
        rows: dict[str, list[float]] = collections.defaultdict(list)
        for _ in range(REPEATS + 1):
            gc.collect()
            with timers(targets) as spent:
                t0 = time.perf_counter()
                view = AggView(run)
                built = time.perf_counter()
                view.tick()
                total = time.perf_counter() - t0
            rows["build the window (RunWindow on Agg)"].append(built - t0)
            for label, seconds in spent.items():
                rows[label].append(seconds)
            rows["other"].append(total - (built - t0) - sum(spent.values()))  # the pieces do not nest
            rows["attach total"].append(total)
            view.close()
        print(f"attach to {epochs:,} epochs (ms, median of {REPEATS}; the first attach is a warm-up):")
        for label, values in rows.items():
            print(f"  {statistics.median(values[1:]) * 1000:8.1f}  {label}")
        view = AggView(run)
        view.tick()
        updates: dict[str, list[float]] = collections.defaultdict(list)
        for i in range(25):
            log.append()
            gc.collect()
            with timers(targets) as spent:
                t0 = time.perf_counter()
                view.nudge()
                view.tick()
                total = time.perf_counter() - t0
            if i >= 5:
                for label, seconds in spent.items():
                    updates[label].append(seconds)
                updates["update total"].append(total)
        print(f"one epoch appended to {epochs:,} (ms, median of 20):")
        for label, values in updates.items():
            print(f"  {statistics.median(values) * 1000:8.1f}  {label}")
        view.close()
        log.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
