"""The window's log panel: the last LOG_LINES lines of the run's story, in slots a whole number of pixels apart.

Lines are kept in `lines`; `show` puts them on the panel's text artists. Because the slots sit on whole
pixels, a frame that only adds lines can scroll the panel's pixels up (`scroll_frame`) and draw just the new
lines, and show exactly what drawing every line anew would.
"""

from __future__ import annotations

import math
from collections import deque

from matplotlib.axes import Axes
from matplotlib.transforms import Bbox, IdentityTransform, blended_transform_factory

from viewer.header import BEST_COLOR, on_screen

LOG_LINES = 8  # lines shown in the log panel
WARNING_COLOR = "#b35900"


class LogPanel:
    """The log panel on `ax` (an axes of its own, without ticks)."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("#f7f7f7")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title("Diagnostics log", loc="left", fontsize=9, color="dimgray", pad=3)
        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        self.drawn: list[str] = []  # the lines as the canvas shows them
        # x in axes fractions, y in pixels: `place` puts the lines a whole number of pixels apart, so that
        # scrolling the panel by pixels shows exactly what drawing the lines anew would.
        at = blended_transform_factory(ax.transAxes, IdentityTransform())
        self.texts = [ax.text(0.008, 0, "", ha="left", va="center", fontsize=9, family="DejaVu Sans",
                              clip_on=True, transform=at)
                      for _ in range(LOG_LINES)]
        self.place()

    def add(self, text: str) -> None:
        self.lines.append(on_screen(text))

    def show(self) -> bool:
        """Put the kept lines on the panel's artists; False if they already showed them."""
        lines = list(self.lines)
        lines += [""] * (LOG_LINES - len(lines))
        if lines == [artist.get_text() for artist in self.texts]:
            return False
        for artist, text in zip(self.texts, lines):
            artist.set_text(text)
            artist.set_color(WARNING_COLOR if text.startswith("⚠") else BEST_COLOR if "NEW BEST" in text else "black")
        return True

    def place(self) -> None:
        """Slot i of the log panel: rows [top + i * pitch, top + (i + 1) * pitch) of the canvas, whole pixels."""
        height = self.ax.figure.bbox.height
        box = self.ax.bbox
        first, last = math.ceil(height - box.y1) + 2, math.floor(height - box.y0) - 2  # inside the frame
        self.pitch = pitch = max(1, (last - first) // LOG_LINES)
        self.top = first + (last - first - LOG_LINES * pitch) // 2
        for i, artist in enumerate(self.texts):
            artist.set_y(height - (self.top + (i + 0.5) * pitch))

    def area(self, first: int, last: int) -> Bbox:
        """Display box of log slots first..last-1 across the whole panel."""
        height, box = self.ax.figure.bbox.height, self.ax.bbox
        top, pitch = self.top, self.pitch
        return Bbox.from_extents(box.x0, height - (top + last * pitch), box.x1, height - (top + first * pitch))

    def frame(self, background, blank_area) -> None:
        """Redraw the panel: scroll it by whole lines when that is all that changed, else draw it anew.

        `background` is the panel without its lines, `blank_area` the slots' area of it.
        """
        fig = self.ax.figure
        canvas = fig.canvas
        now = [artist.get_text() for artist in self.texts]
        drawn = self.drawn
        shift = next((k for k in range(1, LOG_LINES) if drawn[k:] == now[:LOG_LINES - k]), None)
        if shift is None:
            canvas.restore_region(background)
            fresh = self.texts
        else:
            # 1. Move the lines that stay up by `shift` slots (pixels of the canvas as they are);
            # 2. clear the slots freed at the bottom to the panel's background; 3. draw only the new lines.
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
        self.drawn = now

    def mark_drawn(self) -> None:
        """A full frame drew every line as it is."""
        self.drawn = [artist.get_text() for artist in self.texts]
