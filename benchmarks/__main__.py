"""`python -m benchmarks [--quick] [--only NAME ...] [--markdown FILE] [--json FILE]`: run, print, write the table.

Exit status 0 when every figure was measured or skipped with a reason (a missed target is a result, not a
failure; `--strict` makes it exit 1), 2 when a benchmark itself broke.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: the benchmarks never open a window

from benchmarks.context import Context  # noqa: E402
from benchmarks.table import MISS, Row, markdown_table, text_table  # noqa: E402

# In run order: the shared-only figures first, the long trainer runs last.
MODULES = ("attach", "vs_tensorboard", "update_cost", "memory", "long_log", "idle", "first_frame", "compare",
           "latency", "trainer_overhead", "throughput", "data_parallel")


def machine() -> dict[str, str]:
    """What the numbers were measured on: CPU model, cores, memory, load, versions, date."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kib = int(next(line.split()[1] for line in fh if line.startswith("MemTotal")))
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    versions = {"python": platform.python_version()}
    for name in ("numpy", "matplotlib", "orjson", "msgspec", "watchdog", "torch", "tensorboard"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception:  # noqa: BLE001 - an optional peer that is missing or broken is just not listed
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "cpu": model,
            "cores": str(os.cpu_count()), "memory": mem, "os": platform.platform(), "load": load,
            "commit": commit, "versions": ", ".join(f"{k} {v}" for k, v in versions.items())}


def markdown_report(mode: str, info: dict[str, str], rows: list[Row], names: list[str]) -> str:
    only = "" if len(names) == len(MODULES) else f" --only {' '.join(names)}"
    command = f"python -m benchmarks{' --quick' if mode == 'quick' else ''}{only}"
    lines = [
        f"## Results ({mode} run, {info['date']})",
        "",
        f"- Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} memory; {info['os']}",
        f"- Load average (1, 5, 15 min): {info['load']} before the run, {info['load_after']} after",
        f"- Code: commit {info['commit'] or 'unknown'} (plus uncommitted changes, if any); {info['versions']}",
        f"- Command: `{command}`",
        "",
        markdown_table(rows),
        "",
        "value: the median unless the cell names another statistic (p50, p99, mean); spread: interquartile "
        "range from 4 samples up, else min-max; n: samples. Ratios are medians of ratios of paired, "
        "alternated measurements.",
        "",
    ]
    return "\n".join(lines)


def run_all(ctx: Context, names: list[str]) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    errors: list[str] = []
    for name in names:
        ctx.say(f"{name} ...")
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            rows += module.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken figure must not hide the others
            traceback.print_exc()
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            rows.append(Row(name, skipped=f"benchmark failed: {type(exc).__name__}: {exc}"))
    return rows, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (under a minute)")
    parser.add_argument("--only", nargs="+", choices=MODULES, metavar="NAME",
                        help=f"run only these: {', '.join(MODULES)}")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table as Markdown")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every row with its samples")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="an older source tree (a git worktree): long_log runs its commands alternated with ours")
    parser.add_argument("--trainer-pairs", type=int, metavar="N",
                        help="rounds of the paired trainings (default 10; each is 4 demo trainings)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    names = [m for m in MODULES if not args.only or m in args.only]

    info = machine()
    with tempfile.TemporaryDirectory(prefix="stlar-dl-bench-") as tmp:
        ctx = Context.create(args.quick, Path(tmp))
        ctx.baseline = args.baseline.resolve() if args.baseline else None
        if args.trainer_pairs:
            ctx.trainer_pairs = args.trainer_pairs
        rows, errors = run_all(ctx, names)
    info["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    mode = "quick" if args.quick else "full"
    header = (f"stlar-dl benchmarks ({mode}), {info['date']}: {info['cpu']}, {info['cores']} cores, {info['memory']}; "
              f"load average {info['load']} before, {info['load_after']} after")
    print(header)
    print(text_table(rows))
    if args.markdown:
        args.markdown.write_text(markdown_report(mode, info, rows, names), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"mode": mode, "machine": info, "rows": [r.as_dict() for r in rows],
                                         "errors": errors}, indent=1), encoding="utf-8")
    if errors:
        return 2
    if args.strict and any(r.verdict == MISS for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
