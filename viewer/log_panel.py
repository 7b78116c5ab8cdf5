"""The window's log panel: the run's whole story, LOG_LINES rows at a time, wrapped to the panel's width.

Every line is kept (`lines`) and printed to the terminal that started the window (`out`); long ones wrap
onto indented rows. The panel follows the end unless the user
scrolled up (mouse wheel over the panel, or Up/Down/PageUp/PageDown; End follows again); while scrolled, a
note says how many newer rows are below. Rows sit in slots a whole number of pixels apart, so a frame that
only adds rows at the end can scroll the panel's pixels up (`frame`) and draw just the new rows, showing
exactly what drawing every row anew would.
"""

from __future__ import annotations

import math
import textwrap
from typing import TextIO

from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.transforms import Bbox, IdentityTransform, blended_transform_factory

from shared.console import UNICODE, asciify, glyphs_for
from shared.safetext import FIGURE_TEXT, printable
from viewer.header import BEST_COLOR, on_screen

LOG_LINES = 8  # rows shown in the log panel
FONT_SIZE = 9  # pt
WARNING_COLOR = "#b35900"
INDENT = "    "  # a wrapped line's continuation rows
_SAMPLE = "Epoch 12/40 | Train: 0.3245 | Val: 0.3512 | Gap: +0.0267 | Δ val: -0.0023 | Val acc: 0.8125"


def _color(line: str) -> str:
    return WARNING_COLOR if line.startswith("⚠") else BEST_COLOR if "New best" in line else "black"


class LogPanel:
    """The log panel on `ax` (an axes of its own, without ticks); `out` (None: nowhere) gets its lines too."""

    def __init__(self, ax: Axes, out: TextIO | None = None) -> None:
        self.ax = ax
        self.out = out
        self._out_glyphs = glyphs_for(out) if out is not None else UNICODE
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("#f7f7f7")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title("Diagnostics log", loc="left", fontsize=FONT_SIZE, color="dimgray", pad=3)
        self.lines: list[str] = []  # every line, as added
        self.rows: list[tuple[str, str]] = []  # the lines wrapped to the panel: (text, colour)
        self.first: int | None = None  # the first row shown while scrolled up; None: follow the end
        self.drawn: list[str] = []  # the rows as the canvas shows them
        self._note_drawn = ""  # the scroll note as the canvas shows it
        self._width: int | None = None  # characters per row the rows were wrapped to
        # x in axes fractions, y in pixels: `place` puts the rows a whole number of pixels apart, so that
        # scrolling the panel by pixels shows exactly what drawing the rows anew would.
        at = blended_transform_factory(ax.transAxes, IdentityTransform())
        self.texts = [ax.text(0.008, 0, "", ha="left", va="center", fontsize=FONT_SIZE, family="DejaVu Sans",
                              clip_on=True, transform=at, **FIGURE_TEXT)
                      for _ in range(LOG_LINES)]
        self.note = ax.text(0.995, 0.97, "", transform=ax.transAxes, ha="right", va="top", fontsize=FONT_SIZE - 1,
                            color="white", clip_on=True,
                            bbox=dict(boxstyle="round,pad=0.25", facecolor="#616161", edgecolor="none"))
        self.place()

    # ---- content ------------------------------------------------------------------------------------------
    def say(self, text: str, echo: bool = True) -> int:
        """Add a line and (`echo`) print it; return its index in `lines`."""
        text = printable(text)  # log text may carry escape sequences: not for the terminal, nor the panel
        self.add(text)
        if echo:
            self.echo(text)
        return len(self.lines) - 1

    def echo(self, text: str) -> None:
        """Print `text` to `out` only."""
        if self.out is not None:
            try:
                print(asciify(printable(text), self._out_glyphs), file=self.out, flush=True)
            except (OSError, ValueError, UnicodeEncodeError):  # a closed or odd terminal must not stop the view
                pass

    def add(self, text: str) -> None:
        line = on_screen(text)
        self.lines.append(line)
        self.rows += self._wrap(line)

    def supersede(self, index: int, text: str) -> None:
        """Take line `index` away and say `text` at the end: an answer that replaces the line that waited for
        it (the window's stop request, answered by the trainer), so the story says it once, in order."""
        text = printable(text)
        after = sum(len(self._wrap(line)) for line in self.lines[index + 1:])  # rows below the line
        end = len(self.rows) - after
        del self.rows[end - len(self._wrap(self.lines[index])):end]
        del self.lines[index]
        self.add(text)
        self.echo(text)

    def _wrap(self, line: str) -> list[tuple[str, str]]:
        color = _color(line)
        width = self._width or 120
        if len(line) <= width and line.isprintable():  # fits: what textwrap gives, without its ~50 us a line
            return [(line.rstrip(), color)]
        rows = textwrap.wrap(line, width, subsequent_indent=INDENT, break_on_hyphens=False,
                             drop_whitespace=False) or [""]
        return [(row.rstrip(), color) for row in rows]

    def _top(self) -> int:
        """The first row shown."""
        bottom = max(0, len(self.rows) - LOG_LINES)
        return bottom if self.first is None else min(self.first, bottom)

    def show(self) -> bool:
        """Put the rows in view on the panel's artists; False if they already showed them."""
        top = self._top()
        view = self.rows[top:top + LOG_LINES]
        view += [("", "black")] * (LOG_LINES - len(view))
        below = len(self.rows) - (top + LOG_LINES)
        note = (f"▲ scrolled: {below} newer row{'s' if below != 1 else ''} below (End follows)"
                if self.first is not None and below > 0 else "")
        if [text for text, _ in view] == [artist.get_text() for artist in self.texts] and note == self.note.get_text():
            return False
        for artist, (text, color) in zip(self.texts, view):
            artist.set_text(text)
            artist.set_color(color)
        self.note.set_text(note)  # empty: draws nothing
        return True

    def scroll(self, rows: int) -> bool:
        """Scroll by `rows` (negative: up, to older rows); back at the end it follows again. True if moved."""
        bottom = max(0, len(self.rows) - LOG_LINES)
        top = max(0, min(bottom, self._top() + rows))
        before = self.first
        self.first = None if top >= bottom else top
        return self.first != before

    def follow(self) -> bool:
        """Show the end again, and keep following it."""
        before, self.first = self.first, None
        return before is not None

    # ---- geometry -----------------------------------------------------------------------------------------
    def place(self) -> None:
        """Slot i of the log panel: rows [top + i * pitch, top + (i + 1) * pitch) of the canvas, whole pixels.
        Rewraps the lines when the panel's width in characters changed (a resize)."""
        fig = self.ax.figure
        height = fig.bbox.height
        box = self.ax.bbox
        first, last = math.ceil(height - box.y1) + 2, math.floor(height - box.y0) - 2  # inside the frame
        self.pitch = pitch = max(1, (last - first) // LOG_LINES)
        self.top = first + (last - first - LOG_LINES * pitch) // 2
        size = min(FONT_SIZE, pitch * 72 / fig.dpi * 0.8)  # the text shrinks with a smaller window
        for i, artist in enumerate(self.texts):
            artist.set_y(height - (self.top + (i + 0.5) * pitch))
            artist.set_fontsize(size)
        self.note.set_fontsize(size - 1)
        width = self._chars(box.width)
        if width != self._width:
            self._width = width
            self.rows = [row for line in self.lines for row in self._wrap(line)]
            self.show()

    def _chars(self, pixels: float) -> int:
        """How many characters of the panel's font fit in `pixels` (measured on a typical line)."""
        fig = self.ax.figure
        try:
            renderer = fig.canvas.get_renderer()
            w, _, _ = renderer.get_text_width_height_descent(
                _SAMPLE, FontProperties(family="DejaVu Sans", size=self.texts[0].get_fontsize()), ismath=False)
            per_char = w / len(_SAMPLE)
        except Exception:  # a canvas without a renderer yet: DejaVu Sans averages ~0.55 em a character
            per_char = self.texts[0].get_fontsize() * fig.dpi / 72 * 0.55
        return max(20, int((pixels * 0.985 - 4) / per_char))

    def area(self, first: int, last: int) -> Bbox:
        """Display box of log slots first..last-1 across the whole panel."""
        height, box = self.ax.figure.bbox.height, self.ax.bbox
        top, pitch = self.top, self.pitch
        return Bbox.from_extents(box.x0, height - (top + last * pitch), box.x1, height - (top + first * pitch))

    # ---- drawing ------------------------------------------------------------------------------------------
    def frame(self, background, blank_area) -> None:
        """Redraw the panel: scroll it by whole rows when that is all that changed, else draw it anew.

        `background` is the panel without its rows, `blank_area` the slots' area of it.
        """
        fig = self.ax.figure
        canvas = fig.canvas
        now = [artist.get_text() for artist in self.texts]
        drawn = self.drawn
        shift = None if self.note.get_text() or self._note_drawn else \
            next((k for k in range(1, LOG_LINES) if drawn[k:] == now[:LOG_LINES - k]), None)
        if shift is None:
            canvas.restore_region(background)
            fresh = [*self.texts, self.note]
        else:
            # 1. Move the rows that stay up by `shift` slots (pixels of the canvas as they are);
            # 2. clear the slots freed at the bottom to the panel's background; 3. draw only the new rows.
            region = canvas.copy_from_bbox(self.area(0, LOG_LINES))
            x1, y1, x2, y2 = region.get_extents()  # image rows: y grows downwards
            rows = shift * self.pitch
            canvas.restore_region(region, bbox=(x1, y1 + rows, x2, y2), xy=(x1, y1 - rows))
            x1, y1, x2, y2 = blank_area.get_extents()
            canvas.restore_region(blank_area, bbox=(x1, y2 - rows, x2, y2), xy=(x1, y1))
            fresh = self.texts[LOG_LINES - shift:]
        for artist in fresh:
            fig.draw_artist(artist)
        canvas.blit(self.ax.bbox)
        self.drawn, self._note_drawn = now, self.note.get_text()

    def mark_drawn(self) -> None:
        """A full frame drew every row as it is."""
        self.drawn, self._note_drawn = [artist.get_text() for artist in self.texts], self.note.get_text()

    # ---- the user scrolls ---------------------------------------------------------------------------------
    def connect(self, moved) -> None:
        """Scroll on the mouse wheel over the panel and on Up/Down/PageUp/PageDown/End; `moved()` after a move."""
        canvas = self.ax.figure.canvas
        keys = {"up": -1, "down": 1, "pageup": -(LOG_LINES - 1), "pagedown": LOG_LINES - 1}

        def on_scroll(event) -> None:
            if event.inaxes is self.ax and self.scroll(-3 if event.button == "up" else 3):
                moved()

        def on_key(event) -> None:
            if event.key == "end":
                changed = self.follow()
            elif event.key in keys:
                changed = self.scroll(keys[event.key])
            else:
                return
            if changed:
                moved()

        canvas.mpl_connect("scroll_event", on_scroll)
        canvas.mpl_connect("key_press_event", on_key)
