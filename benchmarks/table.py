"""The results table: one row per figure with its median, spread, target and verdict, as text or Markdown.

A row keeps its raw samples; the statistic (median, p50, p99, ...) and the spread are computed from them
here, so every module reports the same way. Spread is the interquartile range from 4 samples up and the
min-max range below that (a quartile of three numbers means little).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

PASS, MISS, REPORTED, SKIPPED = "pass", "MISS", "reported", "skipped"


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics (numpy's default)."""
    xs = sorted(samples)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fmt(value: float) -> str:
    """Three significant digits without scientific notation for everyday magnitudes: 0.0123, 4.56, 1230."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, 2 - magnitude)
    return f"{value:,.{decimals}f}"


@dataclass
class Row:
    """One figure. `target` is (op, value) with op '<=' or '>=' (None: reported only, no verdict).

    `stat` names the statistic of `samples` shown as the value: "median", "mean" (of equal slices of one
    window: the whole window's figure), or "pNN" for a percentile.
    `skipped` holds the reason when the figure could not be measured here.
    """

    figure: str
    samples: list[float] = field(default_factory=list)
    unit: str = ""
    stat: str = "median"
    target: tuple[str, float] | None = None
    note: str = ""
    skipped: str | None = None

    @property
    def value(self) -> float:
        if not self.samples:
            return math.nan
        if self.stat == "median":
            return statistics.median(self.samples)
        if self.stat == "mean":
            return statistics.fmean(self.samples)
        if self.stat.startswith("p"):
            return percentile(self.samples, float(self.stat[1:]))
        raise ValueError(f"unknown statistic {self.stat!r}")

    @property
    def spread(self) -> tuple[str, float, float]:
        """("IQR" or "range", low, high) of the samples."""
        if len(self.samples) >= 4:
            return "IQR", percentile(self.samples, 25), percentile(self.samples, 75)
        if self.samples:
            return "range", min(self.samples), max(self.samples)
        return "range", math.nan, math.nan

    @property
    def verdict(self) -> str:
        if self.skipped is not None or not self.samples:
            return SKIPPED
        if self.target is None:
            return REPORTED
        op, bound = self.target
        ok = self.value <= bound if op == "<=" else self.value >= bound
        return PASS if ok else MISS

    def cells(self) -> list[str]:
        unit = f" {self.unit}" if self.unit else ""
        if self.verdict == SKIPPED:
            value = spread = "—"
        else:
            label = "" if self.stat == "median" else f"{self.stat} "
            value = f"{label}{fmt(self.value)}{unit}"
            kind, lo, hi = self.spread
            spread = f"{kind} {fmt(lo)}–{fmt(hi)} (n={len(self.samples)})"
        target = f"{self.target[0]} {fmt(self.target[1])}{unit}" if self.target else "—"
        note = self.skipped if self.skipped is not None else self.note
        return [self.figure, value, spread, target, self.verdict, note]

    def as_dict(self) -> dict:
        kind, lo, hi = self.spread
        return {"figure": self.figure, "value": None if math.isnan(self.value) else self.value, "stat": self.stat,
                "unit": self.unit, "spread": [kind, lo, hi], "n": len(self.samples), "samples": self.samples,
                "target": list(self.target) if self.target else None, "verdict": self.verdict,
                "note": self.note, "skipped": self.skipped}


HEADER = ["figure", "value", "spread", "target", "result", "notes"]


def text_table(rows: Sequence[Row]) -> str:
    """A plain-text table for the terminal (notes go below it, numbered, to keep the columns narrow)."""
    body = [r.cells() for r in rows]
    notes = []
    for cells in body:
        if cells[5]:
            notes.append(cells[5])
            cells[5] = f"[{len(notes)}]"
    widths = [max(len(c[i]) for c in [HEADER, *body]) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in body]
    lines += [""] + [f"[{i}] {n}" for i, n in enumerate(notes, start=1)]
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(esc(c) for c in r.cells()) + " |" for r in rows]
    return "\n".join(lines)
