"""Numbers as people read them: option values as they are typed (for advice and labels), losses as every surface
shows them."""

from __future__ import annotations

import math


def fmt_num(x: float) -> str:
    """Option values as people type them: 0.001 -> 1e-3, 0.0002 -> 2e-4, 0.05 -> 0.05, 64 -> 64, 1e6 -> 1e6."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) < 0.01 or abs(x) >= 1e4:
        mantissa, exponent = f"{x:.1e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:.4g}"


def fmt_loss(value: float | None) -> str:
    """A loss as every surface writes it (4 decimals; `nan` for a missing or non-finite one)."""
    return "nan" if value is None or not math.isfinite(value) else f"{value:.4f}"
