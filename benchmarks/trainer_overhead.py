"""Trainer overhead: `stlar-dl train-dl` on demo data vs the same training with the run-dir protocol off.

Paired runs, same seed, in this process, in an order that alternates (on, on --no-plot, off, plain; then
reversed); see `training` for what each side does. The figure is the median of the paired ratios on/off of
whole-run wall time (target <= 1.02). Two more rows locate the overhead: the same with `--no-plot` (no curves
PNG at the end), and per epoch (median epoch seconds on / off, from the epochs' own `seconds`). The runs
also feed the throughput figure (`throughput` reads them from the context).
"""

from __future__ import annotations

import dataclasses
import statistics

from benchmarks import training
from benchmarks.context import Context
from benchmarks.table import Row, fmt


def train_pairs(ctx: Context) -> dict:
    """Run (once per context) the paired trainings; {"on", "no_plot", "off", "plain"} -> list of Trained."""
    if "training" in ctx.cache:
        return ctx.cache["training"]
    training.default_threads()  # torch's default, read before any training sets another
    data = ctx.tmp / "demo_data"
    training.write_demo(data, ctx.demo_n)
    # Untimed warm-up of each side: imports (torch, matplotlib for the curves), first-use caches.
    training.with_protocol(training.demo_config(data, ctx.tmp / "run_warmup", 1))
    training.without_protocol(training.demo_config(data, ctx.tmp / "run_warmup_off", 1))
    runs: dict[str, list[training.Trained]] = {"on": [], "no_plot": [], "off": [], "plain": []}
    order = ("on", "no_plot", "off", "plain")
    for i in range(ctx.trainer_pairs):
        ctx.say(f"training pair {i + 1}/{ctx.trainer_pairs}")
        sides = order if i % 2 == 0 else order[::-1]
        for side in sides:
            cfg = training.demo_config(data, ctx.tmp / f"run_{side}_{i}", ctx.train_epochs)
            if side == "on":
                runs["on"].append(training.with_protocol(cfg))
            elif side == "no_plot":
                runs["no_plot"].append(training.with_protocol(dataclasses.replace(cfg, no_plot=True)))
            elif side == "off":
                runs["off"].append(training.without_protocol(cfg))
            else:
                runs["plain"].append(training.plain_loop(cfg, cfg.epochs))
    ctx.cache["training"] = runs
    return runs


def run(ctx: Context) -> list[Row]:
    runs = train_pairs(ctx)
    on, no_plot, off = runs["on"], runs["no_plot"], runs["off"]
    same = all(training.same_losses(a.val_loss, b.val_loss) for a, b in zip(on + no_plot, off + off))
    median = statistics.median
    epochs = len(on[0].val_loss)
    what = f"{epochs} epochs on {ctx.demo_n} demo segments, `stlar-dl demo` settings"
    per_epoch = [a.epoch_period / b.epoch_period for a, b in zip(on, off)]
    return [
        Row("trainer overhead (train-dl / protocol off)", [a.seconds / b.seconds for a, b in zip(on, off)], "x",
            target=("<=", 1.02),
            note=f"whole run {fmt(median(a.seconds for a in on))} s vs {fmt(median(b.seconds for b in off))} s "
                 f"(medians); {what}; val losses {'identical' if same else 'DIFFER'} on/off"),
        Row("trainer overhead, --no-plot (no curves PNG)", [a.seconds / b.seconds for a, b in zip(no_plot, off)], "x",
            target=("<=", 1.02), note=f"whole run {fmt(median(a.seconds for a in no_plot))} s"),
        Row("trainer overhead per epoch (loop only)", per_epoch, "x", target=("<=", 1.02),
            note=f"first to last epoch record, per epoch: {fmt(median(a.epoch_period for a in on))} s vs "
                 f"{fmt(median(b.epoch_period for b in off))} s; log + fsync, stop poll per batch, best.pt; "
                 "setup and end outputs excluded"),
    ]
