"""The window's header line: the latest epoch in one line, highlighted when it is a new best."""

from __future__ import annotations

import math
import re

from matplotlib.text import Text

from shared.console import UNICODE, epoch_line, fmt_loss
from shared.number_format import fmt_num
from shared.history import History
from shared.safetext import printable

BEST_COLOR, BEST_FACE = "#1b5e20", "#dcedc8"


def header_line(history: History) -> tuple[str, bool]:
    """(the latest epoch's line as the console prints it, then `| Best val: 0.3512 (epoch 10) ✓`; whether
    the latest epoch is a new best). The same `epoch_line`, so header, console and log never disagree."""
    planned = history.planned_epochs
    last = history.last_epoch
    if last is None:
        if history.start is None:
            return "Waiting for the run to start", False
        return f"Epoch 0/{planned} | waiting for the first epoch to finish", False
    n = history.n_epochs
    # The console pads the epoch to line its columns up; a header has no column to line up with.
    prev_lr = history.lr[-2] if n >= 2 else None  # an lr change shows as `lr: 0.02 → 0.01`, as on the console
    text = re.sub(r"^Epoch +", "Epoch ", epoch_line(last, history.val_loss[-2] if n >= 2 else None,
                                                    prev_lr=prev_lr))
    best = history.best_epoch
    if best is not None:
        text += f" | Best val: {fmt_loss(history.best_val_loss)} (epoch {best})"
    lr = last.get("lr")
    changed = prev_lr is not None and lr != prev_lr  # then the epoch line already says `lr: old → new`
    if isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and not changed:
        text += f" | lr: {fmt_num(lr)}"  # the lr this epoch trained with
    if last["best"]:
        text += f" {UNICODE.ok}"
    return text, bool(last["best"])


def on_screen(text: str) -> str:
    """Text as the window's font can draw it: DejaVu Sans has ✓ and ⚠ but no emoji (📊, the presentation
    selector)."""
    return printable(text).replace("\ufe0f", "").replace("📊 ", "")


MIN_SIZE = 7.0  # pt: the header shrinks to fit the window's width, down to this


def show_header(artist: Text, history: History, size: float | None = None) -> bool:
    """Put `history`'s header line on `artist` (green on a new best), in font `size` or smaller as the
    figure's width needs; False if it already showed it."""
    text, best = header_line(history)
    text = on_screen(text)
    if text == artist.get_text() and size is None:
        return False
    artist.set_text(text)
    artist.set_color(BEST_COLOR if best else "black")
    artist.get_bbox_patch().set_facecolor(BEST_FACE if best else "white")
    fit_width(artist, size or artist.get_fontsize())
    return True


def fit_width(artist: Text, size: float) -> None:
    """Shrink `artist`'s font from `size` until it fits its figure's width (one measurement per step)."""
    fig = artist.figure
    room = fig.bbox.width * 0.98
    artist.set_fontsize(size)
    try:
        renderer = fig.canvas.get_renderer()
    except Exception:  # no renderer before the canvas exists: the next update fits it
        return
    while size > MIN_SIZE:
        width = artist.get_window_extent(renderer).width
        if width <= room:
            return
        size = max(MIN_SIZE, size * room / width - 0.25)
        artist.set_fontsize(size)
