"""What every benchmark gets: the mode (full or quick), its sizes and repeats, a temp dir, shared inputs.

Quick mode (`--quick`) keeps every code path and shrinks sizes and repeats so the whole suite runs in well
under a minute; its numbers prove the benchmarks work, not that targets are met (notes say which sizes).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.logs import write_log
from shared.rundir import RunDir


@dataclass
class Context:
    quick: bool
    tmp: Path
    big_epochs: int = 100_000  # "a log of 100,000 epoch records" ...
    big_progress: int = 50_000  # ... and 50,000 progress records between them
    week_progress: int = 300_000  # the week-long log: a heartbeat every 2 s for a week ...
    week_epochs: int = 1_000  # ... and an epoch every 10 minutes (~50 MB)
    long_runs: int = 5  # process runs of each command on the week-long log
    baseline: Path | None = None  # --baseline: an older source tree whose commands run alternated with ours
    small_epochs: int = 100  # update cost: the small side
    repeats: int = 7  # paired repeats of the load/attach figures
    update_pairs: int = 30  # update cost: (100, 100,000) pairs
    latency_records: int = 200  # live latency: records per mode
    latency_spacing: tuple[float, float] = (0.3, 0.6)  # seconds between records, uniform: `stlar-dl demo`'s epochs
    memory_runs: int = 3
    idle_seconds: float = 30.0
    idle_slices: int = 6  # the idle window is read in this many slices (the spread)
    trainer_pairs: int = 10  # trainer overhead: rounds of (on, on --no-plot, off, plain)
    demo_n: int = 1500  # demo data set size (`stlar-dl demo`'s)
    train_epochs: int | None = None  # None: `stlar-dl demo`'s epochs
    cache: dict = field(default_factory=dict, repr=False)  # results one module computes for another
    _big_run: Path | None = field(default=None, repr=False)
    _week_run: Path | None = field(default=None, repr=False)
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def create(cls, quick: bool, tmp: Path) -> Context:
        if not quick:
            return cls(quick=False, tmp=tmp)
        return cls(quick=True, tmp=tmp, big_epochs=10_000, big_progress=5_000, week_progress=5_000,
                   week_epochs=50, long_runs=1, repeats=2, update_pairs=3, latency_records=12,
                   latency_spacing=(0.1, 0.2), memory_runs=1, idle_seconds=3.0, idle_slices=3, trainer_pairs=1,
                   demo_n=120, train_epochs=2)

    @property
    def size_note(self) -> str:
        return f"quick: {self.big_epochs:,} epochs + {self.big_progress:,} progress records" if self.quick else ""

    @property
    def big_note(self) -> str:
        return self.size_note or f"{self.big_epochs:,} epochs + {self.big_progress:,} progress records"

    def big_run(self) -> Path:
        """A run dir whose log holds a start record, `big_epochs` epoch and `big_progress` progress records
        (written once, then shared)."""
        if self._big_run is None:
            run = self.tmp / "big_run"
            run.mkdir()
            self.say(f"writing a {self.big_epochs:,}-epoch log")
            write_log(RunDir(run).log, self.big_epochs, progress=self.big_progress)
            self._big_run = run
        return self._big_run

    def week_run(self) -> Path:
        """A run dir whose log is a week-long run still in progress (`write_week_log`; its pid is ours)."""
        if self._week_run is None:
            from benchmarks.logs import write_week_log

            run = self.tmp / "week_run"
            run.mkdir()
            self.say(f"writing a week-long log ({self.week_progress:,} progress records)")
            write_week_log(RunDir(run).log, progress=self.week_progress, epochs=self.week_epochs)
            self._week_run = run
        return self._week_run

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f} s] {message}", file=sys.stderr, flush=True)
