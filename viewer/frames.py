"""The window's partial-redraw engine: each frame draws as little of the canvas as shows the change.

A full frame draws everything but the changing artists, keeps each changing region of that as its background,
then draws the changing artists on top. Later frames restore a changed region's background and draw its
artists again (blitting); a panel whose axis limits moved is redrawn alone in its cell; the button alone when
its state changed. Every frame produces the pixels a full draw would (tests/test_window.py checks it), and
ends with the canvas's `draw_event`, so a listener can time frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from viewer.log_panel import LOG_LINES, LogPanel

PANEL_PAD = 3  # pixels around a panel that its frame redraws (a spine's line reaches past the axes box)
CELL_PAD = 2  # pixels around a panel's tight box (ticks, labels, title, legend) that a panel redraw clears


def _pixel_box(box: Bbox, pad: int) -> tuple[int, int, int, int]:
    """`box` grown to whole pixels plus `pad` on each side: (x0, y0, x1, y1), display coordinates."""
    return (math.floor(box.x0) - pad, math.floor(box.y0) - pad, math.ceil(box.x1) + pad, math.ceil(box.y1) + pad)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


class Frames:
    """Draws the frames of a window laid out as the panels `axes`, a header, a log panel, a status line and a
    button. `dynamic` are the panel artists that change between epochs without moving the axes; `outside`
    panel artists drawn outside their plot box (never part of a panel's frame). A panel's twins (axes sharing
    its x, such as the loss panel's metric axis) are part of its panel: drawn, cleared and blitted with it;
    one shown or hidden makes the next frame a full one. Callers add the names of
    what they changed to `dirty` ("axes", "header", "log", "status") and call `redraw`.
    """

    def __init__(self, fig: Figure, axes: Sequence[Axes], dynamic: Sequence[Artist], outside: Sequence[Artist], *,
                 header: Text, status: Text, log: LogPanel, ax_button: Axes, caption: Text,
                 button_label: Callable[[], str]) -> None:
        self.fig = fig
        self.axes = tuple(axes)
        # Each panel's twins, in the order a full draw draws them (after the panel).
        self.twins = [tuple(t for t in fig.axes if t is not ax and t in ax.get_shared_x_axes().get_siblings(ax))
                      for ax in self.axes]
        self.dynamic = [*dynamic, header, status, *log.texts, log.note]
        self.outside = list(outside)
        self.header, self.status, self.log = header, status, log
        self.ax_button, self.caption = ax_button, caption
        self._button_label = button_label
        self.dirty: set[str] = set()  # regions changed since the last frame
        self.count = 0  # frames drawn
        self.backgrounds: dict | None = None  # per region, the canvas without the changing artists
        self._regions: dict = {}
        self._blank = None  # the canvas with nothing but the figure's face (see `_full_frame`)
        self._cells: list[tuple[int, int, int, int] | None] = []  # per panel, the pixels its last draw covered
        self._fixed_boxes: dict[str, tuple[int, int, int, int]] | None = None  # what panel redraws must not touch
        self._drawn_layout: tuple | None = None
        self._own_draw = False  # a draw of ours: it leaves the backgrounds valid
        self.partial_draw = False  # our draw of the backgrounds only, the changing artists hidden
        fig.canvas.mpl_connect("draw_event", self._on_draw)

    @property
    def stale(self) -> bool:
        """A draw we did not make (a resize, an expose) left no backgrounds: the next frame must be full."""
        return self.backgrounds is None and getattr(self.fig.canvas, "supports_blit", False)

    def redraw(self) -> None:
        """Show the current state now, drawing as little as that takes:

        - a full draw when the button, the size or the saved backgrounds changed (or on the first frame);
        - a panel redraw for each panel whose axis limits moved: clear its cell (the panel with its ticks,
          labels, title and legend), draw that one panel and keep it as the panel's new background. A full draw
          of this figure costs 4-5 times one panel's; where a cell would touch anything else, a full draw;
        - then, per changed region (each panel, the header, the log, the status line), restore that region's
          background and draw its changing artists (blitting).

        Either way the canvas's `draw_event` fires once the frame is complete, so a listener can time frames.
        """
        canvas = self.fig.canvas
        layout = self._layout()
        drawn = self._drawn_layout
        full = (not getattr(canvas, "supports_blit", False) or self.backgrounds is None or drawn is None
                or layout[2] != drawn[2])
        moved: list[int] = []
        if not full:
            moved = [i for i, (now, before) in enumerate(zip(layout[0], drawn[0])) if now != before]
            full = bool(moved) and not self._panel_frames(moved)
        if not full and layout[1] != drawn[1]:
            full = not self._button_frame()
        if full:
            self._full_frame()
        else:
            for key in self.dirty:
                if key == "log":
                    self.log.frame(self.backgrounds["log"], self.backgrounds["log_area"])
                    continue
                for i, (background, bbox, artists) in enumerate(self._regions[key]):
                    if key == "axes" and i in moved:
                        continue  # drawn by its panel frame just now
                    canvas.restore_region(self.backgrounds[background])
                    for artist in artists:
                        self.fig.draw_artist(artist)
                    canvas.blit(bbox)
        self._drawn_layout = layout
        self.dirty.clear()
        self.count += 1
        self._announce_frame()

    def _panel_frames(self, moved: list[int]) -> bool:
        """Redraw panels `moved` alone (their limits changed); False, drawing nothing, where one cannot be.

        A panel's cell is its tight box before and after the change (old tick labels are cleared, new ones
        fit), padded. Each cell is cleared to the figure's face, the panel drawn without its changing
        artists and kept as its background, then those artists drawn on top: the pixels a full draw makes,
        as long as nothing else of the figure reaches into the cell (checked here).
        """
        canvas = self.fig.canvas
        renderer = canvas.get_renderer()
        self._known_boxes(renderer)
        cells, tight = dict(enumerate(self._cells)), {}
        for i in moved:
            tight[i] = _pixel_box(self._panel_box(i, renderer), CELL_PAD)
            cells[i] = _pixel_box(Bbox.union([Bbox.from_extents(*self._cells[i]), Bbox.from_extents(*tight[i])]), 0)
        figure_box = _pixel_box(self.fig.bbox, 0)
        for i in moved:
            others = [box for j, box in cells.items() if j != i] + list(self._fixed_boxes.values())
            if not _inside(cells[i], figure_box) or any(_overlap(cells[i], box) for box in others):
                return False
        for i in moved:
            name, bbox, layers = self._regions["axes"][i]
            self._clear(cells[i])
            for artist in layers:
                artist.set_visible(False)
            try:
                for ax in self._group(i):
                    self.fig.draw_artist(ax)
            finally:
                for artist in layers:
                    artist.set_visible(True)
            self.backgrounds[name] = canvas.copy_from_bbox(bbox)
            for artist in layers:
                self.fig.draw_artist(artist)
            canvas.blit(Bbox.from_extents(*cells[i]))
            self._cells[i] = tight[i]
        return True

    def _button_frame(self) -> bool:
        """Redraw the button alone (its label and colour changed); False, drawing nothing, where it cannot be."""
        canvas = self.fig.canvas
        renderer = canvas.get_renderer()
        self._known_boxes(renderer)
        box = _pixel_box(self.ax_button.get_tightbbox(renderer), CELL_PAD)
        others = self._cells + [b for name, b in self._fixed_boxes.items() if name != "button"]
        if not _inside(box, _pixel_box(self.fig.bbox, 0)) or any(_overlap(box, other) for other in others):
            return False
        self._clear(box)
        self.fig.draw_artist(self.ax_button)
        canvas.blit(Bbox.from_extents(*box))
        return True

    def _clear(self, box: tuple[int, int, int, int]) -> None:
        """Paint pixel box `box` (display coordinates) with the figure's bare face, as a full draw starts."""
        x0, y0, x1, y1 = box
        height = int(round(self.fig.bbox.height))
        # Image rows grow downwards; xy places the saved region's origin (the blank starts at the canvas's).
        self.fig.canvas.restore_region(self._blank, bbox=(x0, height - y1, x1, height - y0), xy=(0, 0))

    def _known_boxes(self, renderer) -> None:
        """Work out what a partial redraw checks against, where not known since the last full frame: each
        panel's cell as it was drawn, and the boxes of everything else that is drawn."""
        drawn_limits = self._drawn_layout[0]
        for i, ax in enumerate(self.axes):
            if self._cells[i] is None:
                self._cells[i] = _pixel_box(self._tight_box(i, drawn_limits[i], renderer), CELL_PAD)
        if self._fixed_boxes is None:
            boxes = {key: bbox for key in ("header", "log", "status") for _, bbox, _ in self._regions[key]}
            boxes.update(log_panel=self.log.ax.get_tightbbox(renderer), button=self.ax_button.get_tightbbox(renderer),
                         caption=self.caption.get_window_extent(renderer))
            self._fixed_boxes = {name: _pixel_box(box, 0) for name, box in boxes.items()}

    def _group(self, i: int) -> list[Axes]:
        """Panel `i`'s axes as a full draw draws them: the panel, then its shown twins."""
        return [self.axes[i], *(twin for twin in self.twins[i] if twin.get_visible())]

    def _panel_box(self, i: int, renderer) -> Bbox:
        """Panel `i`'s tight box (ticks, labels, title, legend), its twins' included."""
        return Bbox.union([ax.get_tightbbox(renderer) for ax in self._group(i)])

    def _tight_box(self, i: int, limits: tuple, renderer) -> Bbox:
        """Panel `i`'s tight box as it was with `limits` ((x0, x1), (y0, y1))."""
        ax = self.axes[i]
        now = ax.get_xlim(), ax.get_ylim()
        if now == limits:
            return self._panel_box(i, renderer)
        ax.set_xlim(limits[0])
        ax.set_ylim(limits[1])
        try:
            return self._panel_box(i, renderer)
        finally:
            ax.set_xlim(now[0])
            ax.set_ylim(now[1])

    def _layout(self) -> tuple:
        # A twin shown or hidden changes what a panel's region draws: a full frame defines the regions anew.
        shown = tuple(twin.get_visible() for twins in self.twins for twin in twins)
        return (tuple((ax.get_xlim(), ax.get_ylim()) for ax in self.axes), self._button_label(),
                (tuple(self.fig.bbox.bounds), shown))

    def _define_regions(self) -> None:
        """Each region of the canvas that changes, its bounds and the artists drawn into it per frame.

        A frame draws a region's artists over its saved background in the order a full draw would, so the
        pixels come out the same: in a panel that is every artist from the lowest changing z-order up (the
        static ones too: spines, legend, reference lines cover the curves in a full draw), the panel's titles
        aside. No two regions overlap.
        """
        from matplotlib.axis import Axis

        width, height = self.fig.bbox.width, self.fig.bbox.height
        self.log.place()
        self._regions = {"axes": []}
        for i, ax in enumerate(self.axes):
            changing = [a for a in self.dynamic if getattr(a, "axes", None) is ax]
            floor = min(a.get_zorder() for a in changing)
            layers = []
            # A shown twin is drawn after its panel, over it: all of its artists are redrawn over the panel's.
            for member in self._group(i):
                own = [a for a in self.dynamic if getattr(a, "axes", None) is member]
                layers += [a for a in sorted(member.get_children(), key=lambda a: a.get_zorder())
                           if (member is not ax or a.get_zorder() >= floor) and a is not member.patch
                           and not isinstance(a, Axis) and (not isinstance(a, Text) or a in own)
                           and a not in self.outside and a.get_visible()]
            x0, y0, x1, y1 = ax.bbox.extents
            pad = PANEL_PAD
            self._regions["axes"].append((f"ax{i}", Bbox.from_extents(x0 - pad, y0 - pad, x1 + pad, y1 + pad),
                                          layers))
        # The header's band: from its top anchor down by its box at its font size (the header only shrinks
        # its font to fit the width); the status line's: from the bottom up to the log panel and the button.
        header_px = self.header.get_fontsize() * self.fig.dpi / 72
        header_y0 = self.header.get_position()[1] * height - 2.2 * header_px - 2
        status_y1 = min(self.log.ax.bbox.y0, self.ax_button.bbox.y0) - 1
        self._regions["header"] = [("header", Bbox.from_extents(0, header_y0, width, height), [self.header])]
        self._regions["log"] = [("log", self.log.ax.bbox, [*self.log.texts, self.log.note])]
        self._regions["status"] = [("status", Bbox.from_extents(0, 0, width, status_y1), [self.status])]

    def _full_frame(self) -> None:
        canvas = self.fig.canvas
        if not getattr(canvas, "supports_blit", False):
            canvas.draw_idle()
            return
        # 1. Draw everything but what the regions redraw and keep each region of that as its background;
        # 2. draw the regions' artists on top.
        self._define_regions()
        layers = [a for regions in self._regions.values() for _, _, artists in regions for a in artists]
        self._own_draw = self.partial_draw = True
        try:
            # The figure's bare face, kept to clear a panel's cell for a panel redraw (see `_panel_frames`).
            renderer = canvas.get_renderer()
            renderer.clear()
            self.fig.patch.draw(renderer)
            self._blank = canvas.copy_from_bbox(self.fig.bbox)
            for artist in layers:
                artist.set_visible(False)
            canvas.draw()
            self.backgrounds = {name: canvas.copy_from_bbox(bbox)
                                for regions in self._regions.values() for name, bbox, _ in regions}
            self.backgrounds["log_area"] = canvas.copy_from_bbox(self.log.area(0, LOG_LINES))
            # Worked out when a panel redraw first needs them: a panel's tight box costs ~10 ms of tick layout.
            self._cells = [None] * len(self.axes)
            self._fixed_boxes = None
        finally:
            for artist in layers:
                artist.set_visible(True)
            self._own_draw = self.partial_draw = False
        for artist in layers:
            self.fig.draw_artist(artist)
        canvas.blit(self.fig.bbox)
        self.log.mark_drawn()

    def _on_draw(self, _event: object) -> None:
        # A draw we did not make (resize, expose, the toolbar): the screen is right, our backgrounds are stale.
        if not self._own_draw:
            self.backgrounds = None

    def _announce_frame(self) -> None:
        from matplotlib.backend_bases import DrawEvent

        canvas = self.fig.canvas
        renderer = canvas.get_renderer() if hasattr(canvas, "get_renderer") else None
        self._own_draw = True
        try:
            canvas.callbacks.process("draw_event", DrawEvent("draw_event", canvas, renderer))
        finally:
            self._own_draw = False
