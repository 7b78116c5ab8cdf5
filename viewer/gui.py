"""Opening a real window for the view and running its GUI loop (`stlar-dl watch` and `replay`)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from viewer.layout import FIGSIZE

if TYPE_CHECKING:
    from viewer.window import RunWindow

SCREEN_FILL = 0.9  # a window never covers more than this fraction of the screen's width or height
_BACKENDS = ("TkAgg", "MacOSX", "QtAgg", "GTK4Agg", "GTK3Agg", "WXAgg")


class NoDisplay(Exception):
    """No window can be opened here; the message says why (the CLI falls back to the terminal)."""


def open_figure(title: str) -> Figure:
    """A pyplot figure in a window titled `title`: TkAgg where Tk exists, another interactive backend otherwise.

    Raises NoDisplay when there is no display or no toolkit. A toolkit that imports but cannot reach the
    display ends the search: Qt, asked next, would abort the whole process on the same display.
    """
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NoDisplay("no display (DISPLAY is not set)")
    import matplotlib.pyplot as plt

    reasons = []
    for backend in _BACKENDS:
        try:
            plt.switch_backend(backend)
        except Exception as exc:  # ImportError mostly; some toolkits raise their own errors on import
            reasons.append(f"{backend}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            continue
        try:
            fig = plt.figure(num=title, figsize=FIGSIZE)
        except Exception as exc:
            plt.switch_backend("Agg")
            raise NoDisplay(f"cannot open a window ({' '.join(str(exc).split())})") from None
        _fit_to_screen(fig)
        return fig
    raise NoDisplay("no GUI toolkit for matplotlib (" + "; ".join(reasons[:2]) + "; on Linux install python3-tk)")


def _fit_to_screen(fig: Figure) -> None:
    window = getattr(fig.canvas.manager, "window", None)
    try:
        screen_w, screen_h = window.winfo_screenwidth(), window.winfo_screenheight()  # Tk only
    except Exception:
        return
    w, h = fig.get_size_inches() * fig.dpi
    fit_w, fit_h = fitted_size((w, h), (screen_w, screen_h))
    if (fit_w, fit_h) != (w, h):
        fig.set_size_inches(fit_w / fig.dpi, fit_h / fig.dpi, forward=True)
    # The window's size, set outright: left to Tk, it is the widest request of its children, and the toolbar
    # asks for ~1350 px, which pushed the canvas (and the Stop button) off a 1280-pixel screen.
    toolbar = getattr(fig.canvas.manager, "toolbar", None)
    try:
        bar = toolbar.winfo_reqheight() if toolbar is not None else 0
        window.geometry(f"{int(fit_w)}x{int(fit_h) + bar}")
    except Exception:  # a toolkit without these calls keeps its own size
        pass


def fitted_size(size: tuple[float, float], screen: tuple[int, int]) -> tuple[float, float]:
    """The figure's size in pixels on `screen`: width and height each fit on their own (a wide, short laptop
    screen gets a wide, short window, not a small one); viewer.layout places the parts for that size."""
    return min(size[0], SCREEN_FILL * screen[0]), min(size[1], SCREEN_FILL * screen[1] - 60)  # 60: title bar


def _draw_before_mapping(window: RunWindow) -> None:
    """Tk: draw the first frame while the window is still withdrawn, at the size it gets on the screen, so that
    it never shows a blank canvas, nor a frame of another size (`plt.show()` maps it).

    1. Size: a withdrawn window has no geometry yet (Tk gives it one when it is mapped), but its canvas gets
       the size it asks for, which `_fit_to_screen` set with the window's geometry. The figure and the Tk
       photo take that size now, as matplotlib's resize handler would, without its draw of the empty figure;
       the screen's dpi scaling that matplotlib applies when the canvas is mapped is applied now too, so that
       mapping changes nothing (a window manager that resizes the window still gets a frame drawn anew).
    2. The first frame: what the log holds so far, drawn in full (the window's first tick).
    Elsewhere (other toolkits) the window is shown as the toolkit does and the first tick draws it.
    """
    first_frame = getattr(window, "first_frame", None)  # (the compare window draws as the toolkit maps it)
    if first_frame is None:
        return
    canvas = window.fig.canvas
    widget_of = getattr(canvas, "get_tk_widget", None)
    resize = getattr(canvas, "_resize_figure_for_canvas_size", None)  # matplotlib's <Configure> handler
    if widget_of is not None and resize is not None:
        widget = widget_of()
        canvas.draw_idle = lambda *_args, **_kwargs: None
        try:
            if sys.platform == "linux":  # as matplotlib's <Map> handler does, before the map
                canvas._set_device_pixel_ratio(widget.winfo_fpixels("1i") / 96)
            size = widget.winfo_reqwidth(), widget.winfo_reqheight()
            resize(*size)
        except Exception:  # another matplotlib's internals: the window is drawn as it is mapped, as before
            del canvas.draw_idle
        else:
            _skip_redraw_at_map(canvas, widget, size)
    first_frame()


def _skip_redraw_at_map(canvas, widget, size: tuple[int, int]) -> None:
    """When the mapped canvas gets the size the first frame was drawn at, matplotlib's resize handler would
    draw the same figure again (and the window, seeing a draw it did not make, a third time): skip that one.

    matplotlib's draw_idle stays off (an attribute over the method) until the canvas's first <Configure>
    after this, or a second after its <Map> at most; a canvas that came out another size (a window manager's)
    is drawn anew.
    """
    restored = []

    def restore(event=None) -> None:
        if restored:
            return
        restored.append(True)
        del canvas.draw_idle
        if event is not None and (event.width, event.height) != size:
            canvas.draw_idle()

    widget.bind("<Configure>", restore, "+")  # after matplotlib's own handler
    widget.bind("<Map>", lambda _event: widget.after(1000, restore), "+")  # a canvas mapped without <Configure>


def show(window: RunWindow) -> bool:
    """Run the GUI loop until the window is closed; return True if Ctrl-C in the terminal ended it.

    Ctrl-C only sets a flag that the next tick (within a second: see viewer.ticker) acts on by closing the
    window: raised as KeyboardInterrupt inside a GUI callback, Tk would print it and carry on.
    """
    import matplotlib.pyplot as plt

    if window.on_close is None:
        window.on_close = lambda: plt.close(window.fig)

    def on_sigint(_signum: int, _frame: object) -> None:
        window.interrupted = True

    restore = None
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        restore = signal.signal(signal.SIGINT, on_sigint)
    _draw_before_mapping(window)
    window.start_timer()
    try:
        plt.show()  # maps the window (Tk: drawn already) and runs the GUI loop
    except KeyboardInterrupt:
        return True
    finally:
        if restore is not None:
            signal.signal(signal.SIGINT, restore)
        window.stop_timers()
        plt.close("all")
    return window.interrupted
