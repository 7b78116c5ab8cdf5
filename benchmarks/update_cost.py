"""Update cost vs history: one new epoch on top of 100 vs on top of 100,000 records (target: ratio <= 2).

Two views (RunWindow on Agg, in-process) attached to two live logs of 100 and 100,000 epochs. Each pair
appends one epoch record to each log and times, per view, from the end of the write to the end of the
redraw: the follower's read of the new bytes, the fold into the history, the diagnostics, the panel update
and the draw. The file event is replaced by `nudge()` (what the observer's handler does) so that only the
update is timed. Sides alternate within pairs; the figure is the median of the paired ratios.
"""

from __future__ import annotations

import time

from benchmarks.context import Context
from benchmarks.logs import LiveLog
from benchmarks.table import Row, fmt
from benchmarks.view import AggView
from shared.rundir import RunDir

WARMUP = 2  # updates per view before timing (first draws build caches)


def update_once(log: LiveLog, view: AggView) -> float:
    log.append()
    t0 = time.time()
    before, draws = view.n_epochs, len(view.draws)
    view.nudge()
    view.tick()
    if view.n_epochs != before + 1 or len(view.draws) == draws:
        raise RuntimeError(f"update did not show the new epoch ({before} -> {view.n_epochs}, "
                           f"{len(view.draws) - draws} frames)")
    return view.draws[-1] - t0


def run(ctx: Context) -> list[Row]:
    sides = {}
    for name, epochs in (("small", ctx.small_epochs), ("big", ctx.big_epochs)):
        run_dir = ctx.tmp / f"update_{name}"
        run_dir.mkdir()
        log = LiveLog(RunDir(run_dir).log, epochs, planned=epochs + ctx.update_pairs + WARMUP, fsync=False)
        view = AggView(run_dir)
        view.tick()  # attach
        if view.n_epochs != epochs:
            raise RuntimeError(f"{name} view shows {view.n_epochs} epochs, expected {epochs}")
        sides[name] = (log, view)
    try:
        for _ in range(WARMUP):
            for log, view in sides.values():
                update_once(log, view)
        times = {"small": [], "big": []}
        ratios = []
        for i in range(ctx.update_pairs):
            for name in (("small", "big") if i % 2 == 0 else ("big", "small")):
                times[name].append(update_once(*sides[name]))
            ratios.append(times["big"][-1] / times["small"][-1])
    finally:
        for log, view in sides.values():
            view.close()
            log.close()
    ms = {name: [t * 1000 for t in values] for name, values in times.items()}
    small, big = Row("", ms["small"]), Row("", ms["big"])
    return [
        Row(f"update cost vs history ({ctx.big_epochs:,} / {ctx.small_epochs})", ratios, "x", target=("<=", 2.0),
            note=f"read+diagnose+redraw: {fmt(big.value)} ms on {ctx.big_epochs:,} vs {fmt(small.value)} ms on "
                 f"{ctx.small_epochs} epochs (medians)"),
        Row(f"update on {ctx.big_epochs:,} epochs (read+diagnose+redraw)", ms["big"], "ms",
            note="one epoch appended; file event excluded"),
    ]
