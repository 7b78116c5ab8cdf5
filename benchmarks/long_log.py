"""A week-long log: what `stop`, `runs`, `replay --png` and `watch` cost on a run of 300,000 progress records.

The log (`benchmarks.logs.write_week_log`, ~50 MB) is a run still in progress whose trainer pid is this
process, so `stlar-dl stop` finds a live run and writes its stop file (removed again after each run). Each
command is a process as a user starts it, imports included: wall time, and peak RSS as the VmHWM the process
reads as it exits (`procs`). `watch --no-window` never exits on a live run: its VmHWM is read from /proc once
it has printed the last epoch, then it is stopped.

With `--baseline DIR` every command also runs from the source tree DIR (an older checkout), alternated with
ours, run by run, and the rows say `(baseline)`; the notes give the paired ratios.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.context import Context
from benchmarks.procs import LineWatcher, read_hwm_mb, run_measured, stlar_cmd, stlar_measured_cmd
from benchmarks.table import Row, fmt
from shared.rundir import RunDir

STOP_S, STOP_MB, VIEW_MB = 0.2, 60.0, 150.0  # targets: stop's time and memory, replay's and watch's memory


def _env(tree: Path | None) -> dict | None:
    if tree is None:
        return None
    return {**os.environ, "PYTHONPATH": str(tree)}  # ahead of the installed (editable) package


def _sides(ctx: Context) -> list[tuple[str, Path | None]]:
    return [("", None)] + ([(" (baseline)", ctx.baseline)] if ctx.baseline else [])


def _measured(ctx: Context, tree: Path | None, name: str, *args: str) -> tuple[float, float, float]:
    hwm = ctx.tmp / f"{name}.hwm"
    done = run_measured(stlar_measured_cmd(hwm, *args), timeout=600, workdir=ctx.tmp, cwd=ctx.tmp, env=_env(tree))
    if not hwm.is_file():
        raise RuntimeError(f"stlar-dl {args[0]} failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return done.wall, read_hwm_mb(hwm), done.cpu


def _watch_hwm(ctx: Context, tree: Path | None, run_dir: Path) -> float:
    proc = subprocess.Popen(stlar_cmd("watch", str(run_dir), "--no-window"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, cwd=ctx.tmp,
                            env=_env(tree))
    lines = LineWatcher(proc.stdout)
    try:
        last = f"{ctx.week_epochs}/{ctx.week_epochs * 2}"
        if not lines.wait_for(last, timeout=600):
            raise RuntimeError(f"stlar-dl watch did not show epoch {last}: {''.join(lines.lines)[-300:]}")
        with open(f"/proc/{proc.pid}/status") as fh:
            return int(next(line.split()[1] for line in fh if line.startswith("VmHWM:"))) / 1024.0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        lines.join()


def run(ctx: Context) -> list[Row]:
    names = ("stop", "runs", "replay --png", "watch --no-window")
    if not sys.platform.startswith("linux"):
        return [Row(f"week-long log: {n}", skipped="needs Linux (/proc)") for n in names]
    run_dir = ctx.week_run()
    stop_file = RunDir(run_dir).stop
    mb = RunDir(run_dir).log.stat().st_size / 1e6
    sides = _sides(ctx)
    wall: dict[tuple[str, str], list[float]] = {(n, s): [] for n in names for s, _ in sides}
    rss: dict[tuple[str, str], list[float]] = {(n, s): [] for n in names for s, _ in sides}
    cpu: dict[tuple[str, str], list[float]] = {(n, s): [] for n in names for s, _ in sides}
    for i in range(ctx.long_runs):
        ctx.say(f"week-long log: round {i + 1}/{ctx.long_runs}")
        for label, tree in (sides if i % 2 == 0 else sides[::-1]):
            for name in names:
                if label and name == "runs":
                    continue  # `runs` is newer than the baselines this compares with
                if name == "watch --no-window":
                    rss[name, label].append(_watch_hwm(ctx, tree, run_dir))
                    continue
                args = {"stop": ("stop", str(run_dir)), "runs": ("runs", str(run_dir)),
                        "replay --png": ("replay", str(run_dir), "--png", str(ctx.tmp / f"week_{i}.png"))}[name]
                seconds, peak, used = _measured(ctx, tree, f"week_{name.split()[0]}_{i}{label.strip()}", *args)
                wall[name, label].append(seconds)
                cpu[name, label].append(used)
                rss[name, label].append(peak)
                if name == "stop":
                    if not stop_file.exists():
                        raise RuntimeError("stlar-dl stop wrote no stop file on the live week-long run")
                    stop_file.unlink()
    what = (f"{ctx.week_progress:,} progress + {ctx.week_epochs:,} epoch records, {mb:.0f} MB, live run"
            + (" (quick)" if ctx.quick else ""))
    rows: list[Row] = []
    for label, _tree in sides:
        def ratio(table, name):
            if not label and ctx.baseline:
                pairs = zip(table[name, ""], table[name, " (baseline)"])
                return f"; {fmt(statistics.median(a / b for a, b in pairs))}x the baseline (median of pairs)"
            return ""

        base = not label
        rows += [
            Row(f"week-long log: stop, wall{label}", wall["stop", label], "s",
                target=("<=", STOP_S) if base else None, note=what + ratio(wall, "stop")),
            Row(f"week-long log: stop, CPU{label}", cpu["stop", label], "s", note=what + ratio(cpu, "stop")),
            Row(f"week-long log: stop, peak RSS{label}", rss["stop", label], "MB",
                target=("<=", STOP_MB) if base else None, note=what + ratio(rss, "stop")),
        ]
        if base:
            rows += [Row("week-long log: runs, wall", wall["runs", label], "s", note=what),
                     Row("week-long log: runs, CPU", cpu["runs", label], "s", note=what)]
        rows += [
            Row(f"week-long log: replay --png, peak RSS{label}", rss["replay --png", label], "MB",
                target=("<=", VIEW_MB) if base else None, note=what + ratio(rss, "replay --png")),
            Row(f"week-long log: replay --png, wall{label}", wall["replay --png", label], "s",
                note=what + ratio(wall, "replay --png")),
            Row(f"week-long log: replay --png, CPU{label}", cpu["replay --png", label], "s",
                note=what + ratio(cpu, "replay --png")),
            Row(f"week-long log: watch --no-window, peak RSS{label}", rss["watch --no-window", label], "MB",
                target=("<=", VIEW_MB) if base else None, note=what + ratio(rss, "watch --no-window")),
        ]
    return rows
