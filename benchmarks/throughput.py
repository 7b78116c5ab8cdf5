"""Training throughput: training segments per second of train-dl on demo data, and of a plain PyTorch loop.

Per epoch: training-set size / epoch seconds (training pass + validation pass), all epochs of all paired
runs. train-dl's epochs come from its own log (`seconds` of each epoch record); the plain loop runs the same
model and optimiser over the same batches, materialised once in memory (no DataLoader, no protocol).
Reported side by side, no target.
"""

from __future__ import annotations

import os
import statistics

from benchmarks.context import Context
from benchmarks.table import Row, fmt
from benchmarks.trainer_overhead import train_pairs


def run(ctx: Context) -> list[Row]:
    runs = train_pairs(ctx)
    rates = {side: [rate for r in runs[side] for rate in r.epoch_rates] for side in ("on", "plain")}
    dl, plain = Row("", rates["on"]), Row("", rates["plain"])
    # Per round, train-dl's median epoch rate over the plain loop's: both with torch's default threads.
    paired = [statistics.median(a.epoch_rates) / statistics.median(b.epoch_rates)
              for a, b in zip(runs["on"], runs["plain"])]
    return [
        Row("train-dl / plain loop throughput, default threads", paired, "x", target=(">=", 0.97),
            note=f"per round, median epoch rates; torch {_threads()} threads on {os.cpu_count()} CPUs"),
        Row("throughput, train-dl", rates["on"], "seg/s",
            note=f"{fmt(dl.value / plain.value * 100)}% of the plain loop (medians)"),
        Row("throughput, plain PyTorch loop", rates["plain"], "seg/s", note="same model, optimiser and batches"),
    ]


def _threads() -> int:
    import torch

    return torch.get_num_threads()
