"""Trainer overhead: `stlar train-dl` on demo data vs the same training with the run-dir protocol off.

Paired runs, same seed, in this process, alternating on / off / off / on ... (see `training` for what each
side does). The figure is the median of the paired ratios on/off of whole-run wall time (target <= 1.02).
The runs also feed the throughput figure (`throughput` reads them from the context).
"""

from __future__ import annotations

from benchmarks import training
from benchmarks.context import Context
from benchmarks.table import Row, fmt


def train_pairs(ctx: Context) -> dict:
    """Run (once per context) the paired trainings; return {"on": [...], "off": [...], "plain": [...]}."""
    if "training" in ctx.cache:
        return ctx.cache["training"]
    data = ctx.tmp / "demo_data"
    training.write_demo(data, ctx.demo_n)
    # Untimed warm-up of each side: imports (torch, matplotlib for the curves), first-use caches.
    training.with_protocol(training.demo_config(data, ctx.tmp / "run_warmup", 1))
    training.without_protocol(training.demo_config(data, ctx.tmp / "run_warmup_off", 1))
    runs: dict[str, list[training.Trained]] = {"on": [], "off": [], "plain": []}
    order = ("on", "off", "plain")
    for i in range(ctx.trainer_pairs):
        ctx.say(f"training pair {i + 1}/{ctx.trainer_pairs}")
        sides = order if i % 2 == 0 else order[::-1]
        for side in sides:
            cfg = training.demo_config(data, ctx.tmp / f"run_{side}_{i}", ctx.train_epochs)
            if side == "on":
                runs["on"].append(training.with_protocol(cfg))
            elif side == "off":
                runs["off"].append(training.without_protocol(cfg))
            else:
                runs["plain"].append(training.plain_loop(cfg, cfg.epochs))
    ctx.cache["training"] = runs
    return runs


def run(ctx: Context) -> list[Row]:
    runs = train_pairs(ctx)
    ratios = [on.seconds / off.seconds for on, off in zip(runs["on"], runs["off"])]
    same = all(training.same_losses(on.val_loss, off.val_loss) for on, off in zip(runs["on"], runs["off"]))
    on, off = Row("", [r.seconds for r in runs["on"]]), Row("", [r.seconds for r in runs["off"]])
    epochs = len(runs["on"][0].val_loss)
    return [Row("trainer overhead (train-dl / protocol off)", ratios, "x", target=("<=", 1.02),
                note=f"whole run {fmt(on.value)} s vs {fmt(off.value)} s (medians), {epochs} epochs on "
                     f"{ctx.demo_n} demo segments; val losses {'identical' if same else 'DIFFER'} on/off")]
