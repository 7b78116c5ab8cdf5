"""A real compare window under Xvfb: runs overlaid while one trains, a click on a table row highlights it.

Skipped where Xvfb, xdotool or ImageMagick's `import` is missing. Set STLAR_SCREENSHOT_DIR to keep the
screenshots.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

import test_window_xvfb as xw
from fake_run import write_run
from procs import FAKE_RUN, STLAR, Spawned, have, xvfb

TOOLS = ("Xvfb", "xdotool", "import")
pytestmark = pytest.mark.skipif(not have(*TOOLS), reason=f"needs {', '.join(TOOLS)} (apt-get install xvfb "
                                                                   "xdotool imagemagick)")
ROW = re.compile(r"\[STLAR_DEBUG_GEOMETRY\] row=(?P<key>\w+) x=(?P<x>\d+) y=(?P<y>\d+) w=(?P<w>\d+) h=(?P<h>\d+)")
EPOCHS = re.compile(r"\[STLAR_DEBUG_GEOMETRY\] epochs=(\d+)")
HIGHLIGHT = np.array((0xFF, 0xF3, 0xB0)) / 255  # the highlighted row's background


def row_box(compare, key):
    compare.output  # noqa: B018 - collects the lines read so far
    found = [m for m in map(ROW.search, compare.lines) if m and m["key"] == key]
    assert found, f"the window never reported row {key}:\n{compare.output}"
    return tuple(int(found[-1][k]) for k in "xywh")


def highlighted_pixels(image, box):
    x, y, w, h = box
    region = image[y:y + h, x:x + w]
    return int(np.all(np.abs(region - HIGHLIGHT) < 0.03, axis=-1).sum())


def test_real_compare_window_updates_live_and_a_click_highlights_a_run(tmp_path):
    # Curves apart from the live run's (fake_run's own), so each colour shows on screen.
    for name, lr, epochs, lift in (("lr1e-3", 1e-3, 12, 0.3), ("lr1e-4", 1e-4, 8, 0.15)):
        (tmp_path / name).mkdir()
        curve = [(0.5 / e + lift, 0.55 / e + lift + 0.02) for e in range(1, epochs + 1)]
        write_run(tmp_path / name / "training_log.jsonl", curve, lr=lr)
    live = tmp_path / "live"
    with xvfb("1600x1200x24") as display, \
            Spawned(FAKE_RUN + [str(live), "--epochs", "300", "--epoch-seconds", "0.3"]) as trainer, \
            Spawned(STLAR + ["compare", str(tmp_path)], DISPLAY=display, STLAR_DEBUG_GEOMETRY="1") as compare:
        compare.expect("row=run2", timeout=90)  # three rows drawn: the trainer's run joined
        # The window keeps drawing the live run's new epochs (its timer keeps ticking).
        shown = [int(m[1]) for m in map(EPOCHS.search, compare.lines) if m]
        while max(shown) < shown[0] + 3:
            shown.append(int(EPOCHS.search(compare.expect("] epochs=", timeout=60))[1]))
        first = xw.screenshot_showing_curves(display, tmp_path / "compare_live.png")
        xw.assert_not_blank(first, row_box(compare, "run2"))
        for attempt in range(3):  # a late rescale may move the row: the next report says where it is now
            xw.click(display, row_box(compare, "run1"))
            try:
                compare.expect("highlighted=run1", timeout=10)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        deadline = time.monotonic() + 30
        while True:  # X shows the redraw a little after it is made
            image = xw.screenshot(display, tmp_path / "compare_highlighted.png")
            if highlighted_pixels(image, row_box(compare, "run1")) > 200:
                break
            assert time.monotonic() < deadline, "the clicked row never showed highlighted"
        assert highlighted_pixels(image, row_box(compare, "run0")) == 0
        compare.interrupt()
        assert compare.finish(timeout=30) == 0
        assert "Traceback" not in compare.output
        trainer.close()
