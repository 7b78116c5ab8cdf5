"""Axis limits that hold still while the data stay inside them (a moved axis redraws its whole panel)."""

from __future__ import annotations

import math

HOLD_MARGIN_X, HOLD_MARGIN_Y = 0.5, 0.25  # axes grow by this fraction of the data range when the data leave,
HOLD_GROWTH = 0.5  # ... and by at least this fraction of their span


def hold_limits(held: tuple[float, float] | None, tight: tuple[float, float], margin: float,
                cap: float | None = None) -> tuple[float, float]:
    """Axis limits that hold still while the data stay inside them.

    `tight` is the data's own range. Inside `held`: keep `held`. Outside: grow the side that was left by
    `margin` times the data range, and by at least HOLD_GROWTH times the held span, so the span grows
    geometrically and a run moves its axes a few times, not every epoch (a move redraws the panel: in the
    first epochs, when the losses fall fastest, a data-sized margin moved them at almost every epoch).
    `cap` bounds the upper limit (the planned last epoch) without cutting into the data.
    """
    lo, hi = tight
    if held is None:
        return tight
    held_lo, held_hi = held
    if held_lo <= lo and hi <= held_hi:
        return held
    pad = max((hi - lo) * margin, (held_hi - held_lo) * HOLD_GROWTH)
    new_lo = min(held_lo, lo - pad) if lo < held_lo else held_lo
    new_hi = max(held_hi, hi + pad) if hi > held_hi else held_hi
    if cap is not None:
        new_hi = max(hi, min(new_hi, cap))
    return new_lo, new_hi


def hold_axes(axes, history, held: dict) -> None:
    """Set each panel's limits for `history`, holding them still between epochs where the data allow.

    The shared figure fits the data tightly, so its limits (and tick labels) would move at every epoch and
    every frame would redraw its panels. The x axis spans the planned epochs from the start (it shows how
    far the run has come); y is held, and grows by a margin when the data leave it. `held` keeps the limits
    per (axes, "x" or "y") between calls (empty for a new run).
    """
    planned = history.planned_epochs
    if not history.n_epochs:
        # No data yet: show the epochs to come rather than matplotlib's default -0.05..0.05.
        for ax in axes:
            ax.set_xlim(0.5, (planned or 10) + 0.5)
        return
    last = history.epochs[-1]
    for ax in axes:
        if history.finished:  # the run is over: x fits the epochs it ran (an early stop at 11 of 40, too)
            lo = min(0.5, history.epochs[0] - 0.5)  # (a hostile log's epoch 0 or less: never an empty range)
            x = (lo, max(last + 0.5, lo + 1.0))
        elif planned:
            x = (0.5, max(planned, last) + 0.5)
        else:
            x = hold_limits(held.get((ax, "x")), ax.get_xlim(), HOLD_MARGIN_X)
        y = _hold_y(ax, held)
        held[(ax, "x")] = x
        ax.set_xlim(x)
        ax.set_ylim(y)


def _hold_y(ax, held: dict) -> tuple[float, float]:
    """Hold `ax`'s y limits (just fitted to the data by the figure): in decades on a log axis, and never
    below 0 where the fitted limits were not (no negative loss axis for losses that are never negative)."""
    tight = ax.get_ylim()
    scale = ax.get_yscale()
    key = (ax, "y", scale)  # a change of scale starts afresh
    if scale == "log":
        lo, hi = hold_limits(held.get(key), (math.log10(tight[0]), math.log10(tight[1])), HOLD_MARGIN_Y)
        held[key] = (lo, hi)
        return 10 ** lo, 10 ** hi
    lo, hi = hold_limits(held.get(key), tight, HOLD_MARGIN_Y)
    if tight[0] >= 0:
        lo = max(lo, 0.0)
    held[key] = (lo, hi)
    return lo, hi
