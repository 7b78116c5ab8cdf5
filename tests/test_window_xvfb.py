"""A real window: `stlar-dl watch` on a real training under Xvfb; screenshot it, click Stop with xdotool.

Skipped where Xvfb, xdotool or ImageMagick's `import` is missing (`.ci/run` installs them). The test starts
its own X server on a free display (`Xvfb -displayfd` picks the number and says when it is ready). Set
STLAR_SCREENSHOT_DIR to keep the screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time

import numpy as np
import pytest
from matplotlib.image import imread

from procs import STLAR, Spawned, epochs_in, have, make_demo_data, run, train_args, wait_for_records, xvfb
from shared.logreader import read_log
from shared.rundir import RunDir

TOOLS = ("Xvfb", "xdotool", "import")
pytestmark = pytest.mark.skipif(
    not have(*TOOLS),
    reason=f"needs {', '.join(TOOLS)} (apt-get install xvfb xdotool imagemagick)",
)
SCREEN = (1600, 1200)
GEOMETRY = re.compile(r"\[STLAR_DEBUG_GEOMETRY\] button='(?P<label>[^']*)' x=(?P<x>\d+) y=(?P<y>\d+) "
                      r"w=(?P<w>\d+) h=(?P<h>\d+) epochs=(?P<epochs>\d+)")


@pytest.fixture
def display():
    with xvfb(f"{SCREEN[0]}x{SCREEN[1]}x24") as name:
        yield name


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(tmp_path_factory.mktemp("demo"))


def screenshot(display, path):
    done = run(["import", "-display", display, "-window", "root", str(path)], timeout=60)
    assert done.returncode == 0, done.stderr
    keep = os.environ.get("STLAR_SCREENSHOT_DIR")
    if keep:
        shutil.copy(path, os.path.join(keep, path.name))
    image = imread(path)
    if image.ndim == 2:  # ImageMagick writes a screen without colour as greyscale
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


TRAIN_BLUE = (0x1F / 255, 0x77 / 255, 0xB4 / 255)  # matplotlib's tab:blue, the train-loss line


def screenshot_showing_curves(display, path, timeout=30.0):
    """A screenshot once the train-loss curve is on screen (X shows a draw a little after it is made)."""
    deadline = time.monotonic() + timeout
    while True:
        image = screenshot(display, path)
        blue = np.all(np.abs(image - TRAIN_BLUE) < 0.03, axis=-1).sum()
        if blue > 300:  # the legend's sample line alone is about 40 pixels
            return image
        assert time.monotonic() < deadline, f"no curve on screen after {timeout} s (see {path})"


def assert_not_blank(image, box):
    """The window region holds a drawing: many colours, not one flat fill (a missing window is black)."""
    x, y, w, h = box
    region = image[:y + h, :x + w].reshape(-1, 3)
    assert len(np.unique(region, axis=0)) > 50, "the screenshot looks blank"
    assert region.std() > 0.05


def latest_box(watch, label):
    """The button's last reported screen box with `label` (Tk's scaling can resize the window once)."""
    watch.output  # noqa: B018 - collects the lines read so far
    found = [m for m in map(GEOMETRY.search, watch.lines) if m and m["label"] == label]
    assert found, f"the window never reported its {label!r} button:\n{watch.output}"
    return tuple(int(found[-1][k]) for k in "xywh")


def click(display, box):
    x, y, w, h = box
    done = run(["xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", "1"], DISPLAY=display)
    assert done.returncode == 0, done.stderr


def test_real_window_stop_button_stops_the_training_after_its_epoch(tmp_path, display, demo):
    run_dir = tmp_path / "run"
    with Spawned(train_args(demo, run_dir, epochs=300)) as trainer:
        wait_for_records(run_dir, lambda records: epochs_in(records) >= 2)
        with Spawned(STLAR + ["watch", str(run_dir)], DISPLAY=display, STLAR_DEBUG_GEOMETRY="1") as watch:
            watch.expect("button='Stop Training'", timeout=90)
            # Wait for a draw that shows the epochs (the history is drawn at once on attach).
            while not any(m and int(m["epochs"]) >= 2 for m in map(GEOMETRY.search, watch.lines)):
                watch.expect("[STLAR_DEBUG_GEOMETRY]", timeout=60)
            box = latest_box(watch, "Stop Training")
            x, y, w, h = box
            found = run(["xdotool", "search", "--name", "^stlar-dl watch"], DISPLAY=display)
            names = [run(["xdotool", "getwindowname", wid], DISPLAY=display).stdout.strip()
                     for wid in found.stdout.split()]
            assert f"stlar-dl watch — {run_dir}" in names, f"no window titled with the run dir: {names}"
            assert 0 <= x and x + w <= SCREEN[0] and 0 <= y and y + h <= SCREEN[1]
            assert_not_blank(screenshot_showing_curves(display, tmp_path / "viewer_live.png"), box)
            # Click the middle of the button where the window says it is; should a late rescale have moved
            # it just then, the next report says where to click again.
            for attempt in range(3):
                click(display, latest_box(watch, "Stop Training"))
                try:
                    watch.expect("button='Stopping...'", timeout=10)
                    break
                except AssertionError:
                    if attempt == 2:
                        raise
            # One line for the request, printed once the trainer answered it (see viewer.stop_flow).
            said = watch.expect("Stop requested by stlar-dl watch (", timeout=60)
            assert "the trainer stops after epoch" in said, said
            assert trainer.finish(timeout=120) == 0, trainer.output
            watch.expect("button='Close'", timeout=30)
            box = latest_box(watch, "Close")
            x, y, w, h = box
            image = screenshot(display, tmp_path / "viewer_stopped.png")
            assert_not_blank(image, box)
            # The button is green now (#2ca02c), left of its label.
            assert np.allclose(image[y + h // 2, x + w // 8], (0x2C / 255, 0xA0 / 255, 0x2C / 255), atol=0.02)
            click(display, box)
            assert watch.finish(timeout=30) == 0  # Close closed the window and the viewer exited
    records, _ = read_log(RunDir(run_dir).log)
    stop = next(r for r in records if r["type"] == "stop_requested")
    end = records[-1]
    assert end["type"] == "end" and end["reason"] == "stopped"
    assert end["epochs_run"] == stop["epoch"] < 300  # it finished the epoch it was in, then stopped
    assert stop["stop"]["by"].startswith("stlar-dl watch (")


def test_ctrl_c_closes_the_window_and_exits_0(tmp_path, display):
    from fake_run import write_run

    write_run(RunDir(tmp_path).log, 3, end=None, planned=50, pid=os.getpid())  # live: this test's process
    for _ in range(3):  # the signal can land in a timer tick, a draw or Tk's own wait: all must end the view
        with Spawned(STLAR + ["watch", str(tmp_path)], DISPLAY=display, STLAR_DEBUG_GEOMETRY="1") as watch:
            watch.expect("epochs=3", timeout=60)
            watch.interrupt()
            assert watch.finish(timeout=30) == 0
            assert "Detached; training continues" in watch.output
            assert "Traceback" not in watch.output
    assert not RunDir(tmp_path).stop.exists()


WAKE_SCRIPT = r"""
import sys, time
import viewer.gui as W
import viewer.ticker
from viewer.window import RunWindow
from shared.logwriter import LogWriter
from viewer.follow import Follower
viewer.ticker.TIMER_MS = viewer.ticker.IDLE_MS = 600_000  # no timer tick in the test: only a file event
run_dir = sys.argv[1]
with Follower(run_dir, fallback=600) as follower:
    fig = W.open_figure("wake test")
    window = RunWindow(fig, run_dir, follower, out=None)
    writer = LogWriter(run_dir + "/training_log.jsonl", run_id="wake")
    def frame(_event):
        if window.history.n_epochs and not window._partial_draw:
            print(f"shown after {time.time() - appended:.3f} s", flush=True)
            window.close()
    def append():
        global appended
        appended = time.time()
        writer.write("start", schema=1, config={}, epochs=3, n_train=1, n_val=1, device="cpu")
        writer.write("epoch", epoch=1, epochs=3, train_loss=0.5, val_loss=0.6, lr=0.001, seconds=1.0, best=True,
                     best_epoch=1, best_val_loss=0.6, metrics={})
    fig.canvas.mpl_connect("draw_event", frame)
    fig.canvas.get_tk_widget().after(500, append)
    fig.canvas.get_tk_widget().after(10_000, lambda: (print("not shown within 10 s", flush=True), window.close()))
    W.show(window)
"""


def test_a_file_event_wakes_the_real_window_without_its_timer(tmp_path, display):
    done = run([sys.executable, "-c", WAKE_SCRIPT, str(tmp_path)], timeout=60, DISPLAY=display)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("shown after "), (done.stdout, done.stderr[-2000:])


MAPPED = re.compile(r"\[STLAR_DEBUG_GEOMETRY\] mapped frames=(?P<frames>\d+) figure=(?P<figure>\d+x\d+) "
                    r"canvas=(?P<canvas>\d+x\d+) epochs=(?P<epochs>\d+)")


@pytest.mark.parametrize("screen", ["1600x1000", "1280x720"])
def test_the_window_appears_with_its_first_frame_drawn_at_its_final_size(tmp_path, screen):
    """Never a blank window, nor a frame of another size: the window is mapped once the run is drawn at the
    size the canvas has on the screen (timing: benchmarks/first_frame.py)."""
    from fake_run import write_run

    write_run(RunDir(tmp_path).log, 12, end=None, planned=50, pid=os.getpid())  # live: this test's process
    with xvfb(f"{screen}x24") as display, \
            Spawned(STLAR + ["watch", str(tmp_path)], DISPLAY=display, STLAR_DEBUG_GEOMETRY="1") as watch:
        mapped = MAPPED.search(watch.expect("mapped frames=", timeout=90))
        assert mapped is not None and int(mapped["frames"]) >= 1, mapped
        assert mapped["figure"] == mapped["canvas"]  # drawn at the size it has on the screen
        assert int(mapped["epochs"]) == 12  # the log's epochs, not an empty figure
        w, h = map(int, mapped["canvas"].split("x"))
        sw, sh = map(int, screen.split("x"))
        assert w <= sw and h <= sh
        screenshot_showing_curves(display, tmp_path / f"first_frame_{screen}.png")  # Tk painted it: not black
        watch.interrupt()
        assert watch.finish(timeout=30) == 0
