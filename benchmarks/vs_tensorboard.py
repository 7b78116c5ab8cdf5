"""Attach vs TensorBoard: load all 2 x N scalars of the same run, ours vs TensorBoard's EventAccumulator.

Ours: the shared reader over the whole log plus the fold into a History (the columns the view plots); the
log holds every field of every epoch record, not just the two losses. TensorBoard: the same train/val losses
written with `torch.utils.tensorboard.SummaryWriter`, loaded by `EventAccumulator` with no sampling
(size_guidance 0 = keep all points) and read back with `Scalars()`. Alternated ours / TensorBoard / ours ...;
the figure is the median of the paired ratios (TensorBoard time / ours). Target: at least 5x.
Skipped with a note where tensorboard is not installed (CI installs `.[test]` only).
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from benchmarks.context import Context
from benchmarks.logs import epoch_values
from benchmarks.table import Row, fmt
from shared.history import history_of
from shared.logreader import read_log
from shared.rundir import RunDir

TAGS = ("loss/train", "loss/val")


def write_events(log_dir: Path, n: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir), max_queue=1000, flush_secs=3600)
    try:
        for epoch, train, val in epoch_values(n):
            writer.add_scalar(TAGS[0], train, epoch)
            writer.add_scalar(TAGS[1], val, epoch)
    finally:
        writer.close()


def load_tensorboard(log_dir: Path) -> tuple[float, int]:
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    gc.collect()
    t0 = time.perf_counter()
    acc = EventAccumulator(str(log_dir), size_guidance={SCALARS: 0})
    acc.Reload()
    points = sum(len(acc.Scalars(tag)) for tag in TAGS)
    return time.perf_counter() - t0, points


def load_ours(log: Path) -> tuple[float, int]:
    gc.collect()
    t0 = time.perf_counter()
    records, _warnings = read_log(log)
    history = history_of(records)
    points = len(history.train_loss) + len(history.val_loss)
    return time.perf_counter() - t0, points


def run(ctx: Context) -> list[Row]:
    figure = "attach vs TensorBoard (load all points)"
    try:
        import tensorboard.backend.event_processing.event_accumulator  # noqa: F401
        import torch.utils.tensorboard  # noqa: F401
    except ImportError as exc:
        return [Row(figure, target=(">=", 5.0), unit="x",
                    skipped=f"tensorboard not importable ({exc}); pip install -e '.[bench]'")]
    log = RunDir(ctx.big_run()).log
    tb_dir = ctx.tmp / "tensorboard"
    ctx.say(f"writing {2 * ctx.big_epochs:,} TensorBoard scalars")
    write_events(tb_dir, ctx.big_epochs)
    ours, theirs, ratios = [], [], []
    for i in range(ctx.repeats):
        pair = {}
        for side in (("ours", "tb") if i % 2 == 0 else ("tb", "ours")):  # alternate who goes first
            seconds, points = load_ours(log) if side == "ours" else load_tensorboard(tb_dir)
            if points != 2 * ctx.big_epochs:
                raise RuntimeError(f"{side} loaded {points} points, expected {2 * ctx.big_epochs}")
            pair[side] = seconds
        ours.append(pair["ours"])
        theirs.append(pair["tb"])
        ratios.append(pair["tb"] / pair["ours"])
    ours_row = Row("", ours)
    tb_row = Row("", theirs)
    size = ctx.size_note or f"2 x {ctx.big_epochs:,} scalars"
    return [Row(figure, ratios, "x", target=(">=", 5.0),
                note=f"TensorBoard {fmt(tb_row.value)} s vs ours {fmt(ours_row.value)} s (medians); {size}")]
