"""Data-parallel throughput on the CPU: `train-dl` in one process next to the same run under
`torchrun --standalone --nproc-per-node 2` (gloo), on demo data with `stlar-dl demo`'s settings.

Both are real command lines (`python -m stlar_dl train-dl`), run alternately in pairs. Per epoch: training-set
size / epoch seconds (training pass + validation pass), from each run's own log; the first epoch of each run is
left out (start-up: the processes joining, first-use caches). Each of the two processes gets one thread
(torchrun sets OMP_NUM_THREADS=1); the single process runs twice, with torch's default threads (one per core)
and with one thread. Reported side by side, no target: on few cores the processes compete for the cores one
process already uses, so the figure says what data parallelism costs or gains on a CPU, not what a GPU node
gains. OpenMP threads that spin-wait for each other make a multi-threaded process slow on a busy machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks import training
from benchmarks.context import Context
from benchmarks.table import Row, fmt
from shared.logreader import read_log
from shared.records import EPOCH, START
from shared.rundir import RunDir

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
ROOT = Path(__file__).resolve().parents[1]


def _train(ctx: Context, data: Path, out: Path, epochs: int, processes: int, threads: int = 0) -> list[float]:
    """Segments per second of each epoch after the first, from the run's log."""
    args = ["-m", "stlar_dl", "train-dl", "--train", str(data / "manifest_train.csv"), "--val",
            str(data / "manifest_val.csv"), "--out-dir", str(out), "--epochs", str(epochs), "--model-type", "1",
            "--num-workers", "0", "--no-plot", "--device", "cpu", "--patience", "1000"]
    command = [*TORCHRUN, *args] if processes > 1 else [sys.executable, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if processes == 1:
        env.pop("OMP_NUM_THREADS", None)
        command += ["--threads", str(threads)]
    proc = subprocess.run(command, cwd=ctx.tmp, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"train-dl with {processes} process(es) exited {proc.returncode}: {proc.stderr[-2000:]}")
    records, _ = read_log(RunDir(out).log)
    n_train = next(r["n_train"] for r in records if r["type"] == START)
    return [n_train / r["seconds"] for r in records if r["type"] == EPOCH][1:]


def run(ctx: Context) -> list[Row]:
    data = ctx.tmp / "dp_data"
    training.write_demo(data, ctx.demo_n)
    epochs = (ctx.train_epochs or 6) + 1  # one more: the first is left out
    pairs = 1 if ctx.quick else 3
    sides = ((1, 0), (1, 1), (2, 1))  # (processes, threads of one process: 0 = torch's default)
    rates: dict[tuple[int, int], list[float]] = {side: [] for side in sides}
    for i in range(pairs):
        ctx.say(f"data-parallel round {i + 1}/{pairs}")
        for processes, threads in (sides if i % 2 == 0 else sides[::-1]):
            out = ctx.tmp / f"dp_{processes}_{threads}_{i}"
            rates[processes, threads] += _train(ctx, data, out, epochs, processes, threads)
    one, one_thread, two = (Row("", rates[side]) for side in sides)
    return [
        Row("throughput, 1 CPU process", rates[1, 0], "seg/s", note=f"{os.cpu_count()} cores, torch's default threads"),
        Row("throughput, 1 CPU process, 1 thread", rates[1, 1], "seg/s", note="--threads 1"),
        Row("throughput, 2 CPU processes (torchrun, gloo)", rates[2, 1], "seg/s",
            note=f"{fmt(two.value / one.value)}x one process with default threads, "
                 f"{fmt(two.value / one_thread.value)}x with 1 thread (medians); 1 thread each"),
    ]
