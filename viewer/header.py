"""The window's header line: the latest epoch in one line, highlighted when it is a new best."""

from __future__ import annotations

from matplotlib.text import Text

from shared.console import UNICODE, fmt_loss, fmt_signed
from shared.history import History

BEST_COLOR, BEST_FACE = "#1b5e20", "#dcedc8"


def header_line(history: History) -> tuple[str, bool]:
    """(`Epoch: 10/20 | Train Loss: ... | Best Val Loss: 0.3512 ✓`, whether the latest epoch is a new best).

    Improvement is this epoch's val loss minus the previous one (negative is better), as the trainer's Δ.
    """
    planned = history.planned_epochs
    last = history.last_epoch
    if last is None:
        if history.start is None:
            return "Waiting for the run to start", False
        return f"Epoch: 0/{planned} | waiting for the first epoch to finish", False
    val = history.val_loss
    improvement = fmt_signed(val[-1] - val[-2]) if len(val) >= 2 else "—"
    text = (f"Epoch: {last['epoch']}/{planned} | Train Loss: {fmt_loss(history.train_loss[-1])} | "
            f"Val Loss: {fmt_loss(val[-1])} | Gap: {fmt_signed(val[-1] - history.train_loss[-1])} | "
            f"Improvement: {improvement} | Best Val Loss: {fmt_loss(history.best_val_loss)}")
    if last["best"]:
        text += f" {UNICODE.ok}"
    return text, bool(last["best"])


def on_screen(text: str) -> str:
    """Text as the window's font can draw it: DejaVu Sans has ✓ and ⚠ but no emoji presentation selector."""
    return text.replace("\ufe0f", "")


def show_header(artist: Text, history: History) -> bool:
    """Put `history`'s header line on `artist` (green on a new best); False if it already showed it."""
    text, best = header_line(history)
    text = on_screen(text)
    if text == artist.get_text():
        return False
    artist.set_text(text)
    artist.set_color(BEST_COLOR if best else "black")
    artist.get_bbox_patch().set_facecolor(BEST_FACE if best else "white")
    return True
