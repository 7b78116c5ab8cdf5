"""Which train-dl options differ between runs, and the short labels that name a run by them (`lr=2e-4, wd=1e-3`).

Pure. Options are the start record's `config`. What only says where a run's files went or how it was
watched (`out_dir`, `gui`, `no_plot`) or how fast it ran (`num_workers`: the same seed gives the same
batches with any number of loader workers; `threads`) never tells runs apart, so it is never listed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

IGNORED = frozenset({"out_dir", "gui", "no_plot", "num_workers", "threads"})

# Display names, in the order a tuner reads them: the optimiser first, then the model and the stopping rule.
SHORT_NAMES = {
    "lr": "lr", "weight_decay": "wd", "batch_size": "batch", "lr_schedule": "schedule", "lr_factor": "lr_factor",
    "min_lr": "min_lr", "model_type": "model", "fs": "fs", "epochs": "epochs", "patience": "patience",
    "min_delta": "min_delta", "max_samples": "max_samples", "seed": "seed", "train": "train", "val": "val",
    "device": "device",
}
MISSING = "—"  # the value shown for an option a run's config does not have (an older or foreign trainer)


def _norm(value: Any) -> Any:
    """A value to compare: 1 and 1.0 are the same learning rate; NaN equals NaN; lists and dicts as text."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        return "nan" if math.isnan(number) else number
    return repr(value)


_ABSENT = object()


def differing(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The option names whose values are not the same in every config, in SHORT_NAMES order, then by name.

    An option present in some configs and absent from others differs. With fewer than two configs nothing
    differs.
    """
    if len(configs) < 2:
        return []
    names: dict[str, None] = {}
    for config in configs:
        names.update(dict.fromkeys(config))
    out = [name for name in names if name not in IGNORED
           and len({_norm(c[name]) if name in c else _ABSENT for c in configs}) > 1]
    order = {name: i for i, name in enumerate(SHORT_NAMES)}
    return sorted(out, key=lambda name: (order.get(name, len(order)), name))


def fmt_number(value: float) -> str:
    """The shortest faithful text of a number: `2e-4` rather than `0.0002`, `0.5`, `64`, `2.5e-4`."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e6):
        return str(int(value))
    plain = f"{value:g}"
    mantissa, _, exponent = f"{value:.6e}".partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    sci = f"{mantissa}e{int(exponent)}"
    return sci if len(sci) < len(plain) else plain


def fmt_value(value: Any) -> str:
    if value is _ABSENT:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return fmt_number(value) if math.isfinite(value) else str(value)
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return PurePath(value).name or value  # a manifest path: its file name tells runs apart on screen
    return str(value)


def option_value(config: Mapping[str, Any], name: str) -> str:
    """`config[name]` as shown in a table cell (MISSING where the run's config lacks it)."""
    return fmt_value(config[name] if name in config else _ABSENT)


def label(config: Mapping[str, Any], names: Sequence[str], fallback: str) -> str:
    """`lr=2e-4, wd=1e-3`: the run named by its differing options; `fallback` (its run id) when none differ."""
    if not names:
        return fallback
    return ", ".join(f"{SHORT_NAMES.get(name, name)}={option_value(config, name)}" for name in names)
