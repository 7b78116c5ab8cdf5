"""Training throughput: training segments per second of train-dl on demo data, and of a plain PyTorch loop.

Per epoch: training-set size / epoch seconds (training pass + validation pass), all epochs of all paired
runs. train-dl's epochs come from its own log (`seconds` of each epoch record); the plain loop runs the same
model and optimiser over the same batches, materialised once in memory (no DataLoader, no protocol).
Reported side by side, no target.
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.table import Row, fmt
from benchmarks.trainer_overhead import train_pairs


def run(ctx: Context) -> list[Row]:
    runs = train_pairs(ctx)
    rates = {side: [rate for r in runs[side] for rate in r.epoch_rates] for side in ("on", "plain")}
    dl, plain = Row("", rates["on"]), Row("", rates["plain"])
    return [
        Row("throughput, train-dl", rates["on"], "seg/s",
            note=f"{fmt(dl.value / plain.value * 100)}% of the plain loop (medians)"),
        Row("throughput, plain PyTorch loop", rates["plain"], "seg/s", note="same model, optimiser and batches"),
    ]
