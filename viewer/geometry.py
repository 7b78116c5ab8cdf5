"""Where the window's button is on the screen, for tests that click it on a real display (STLAR_DEBUG_GEOMETRY=1);
and what the window had drawn when it appeared on the screen (tests and benchmarks of the first frame)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from viewer.window import RunWindow

DEBUG_GEOMETRY_ENV = "STLAR_DEBUG_GEOMETRY"  # set to 1: print the Stop button's screen geometry (GUI tests)


def button_screen_box(window: RunWindow) -> tuple[int, int, int, int] | None:
    """The button's (x, y, width, height) in screen pixels, top-left origin; None where unknown (non-Tk)."""
    widget_of = getattr(window.fig.canvas, "get_tk_widget", None)
    if widget_of is None:
        return None
    widget = widget_of()
    if not widget.winfo_ismapped():
        return None
    # Display coordinates are the canvas widget's physical pixels (the figure's dpi already includes
    # Tk's scaling), with the origin at the bottom left; the screen's origin is at the top left.
    box = window.ax_button.get_window_extent()
    top = window.fig.bbox.height - box.y1
    return (int(widget.winfo_rootx() + box.x0), int(widget.winfo_rooty() + top), int(box.width), int(box.height))


def report_geometry(window: RunWindow) -> None:
    """After each complete frame, print to stderr where the button is, what it says and how many epochs are
    drawn, when that changed. (After a draw the canvas has its final size; before the first one the geometry
    can still change.)"""
    last: list[tuple] = []

    def on_draw(_event: object) -> None:
        if window._partial_draw:  # the background pass of a frame: the frame is not on screen yet
            return
        geometry = (button_screen_box(window), window.button_label, window.history.n_epochs)
        if (not last or geometry != last[0]) and geometry[0] is not None:
            last[:] = [geometry]
            x, y, w, h = geometry[0]
            print(f"[{DEBUG_GEOMETRY_ENV}] button={window.button_label!r} x={x} y={y} w={w} h={h} "
                  f"epochs={window.history.n_epochs}", file=sys.stderr, flush=True)

    window.fig.canvas.mpl_connect("draw_event", on_draw)
    widget_of = getattr(window.fig.canvas, "get_tk_widget", None)
    if widget_of is not None:
        widget = widget_of()
        mapped: list[bool] = []

        def on_map(_event: object) -> None:  # the canvas appears on the screen (Tk)
            if mapped:
                return
            mapped.append(True)
            w, h = (int(round(v)) for v in window.fig.bbox.size)
            print(f"[{DEBUG_GEOMETRY_ENV}] mapped frames={window.frames} figure={w}x{h} "
                  f"canvas={widget.winfo_width()}x{widget.winfo_height()} epochs={window.history.n_epochs}",
                  file=sys.stderr, flush=True)

        widget.bind("<Map>", on_map, "+")
