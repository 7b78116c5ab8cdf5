"""`train-dl --gui` under a real X server: the viewer starts detached and outlives the training.

Skipped without Xvfb. The test starts its own X server on a free display.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from procs import xvfb
from trainer_helpers import records, run_stlar, tiny_data, train_args, wait_for  # noqa: F401 - fixture

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (apt-get install xvfb)")


@pytest.fixture
def display():
    with xvfb("1280x1024x24") as name:
        yield name


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its new parent to reap it counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


def end_viewer(pid: int) -> None:
    """End the viewer this test caused to start (by its pid only); kill it if it ignores SIGTERM."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while not gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # a poll interval while waiting for the exit
        if gone(pid):
            return


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_gui_viewer_is_detached_and_outlives_training(tiny_data, tmp_path, display):
    out = tmp_path / "models"
    proc = run_stlar(*train_args(tiny_data, out, "--epochs", "2", "--gui", "--no-plot"), cwd=tmp_path,
                     DISPLAY=display)
    assert proc.returncode == 0, proc.stderr
    started = [line for line in proc.stdout.splitlines() if line.startswith("Started the viewer")]
    assert len(started) == 1, proc.stdout
    pid = int(re.search(r"pid (\d+)\)$", started[0]).group(1))
    try:
        assert records(out / "training_log.jsonl")[-1]["reason"] == "completed"
        # The training is over and the viewer is still there for review, in a session of its own (a
        # Ctrl-C or hang-up in the trainer's terminal does not reach it).
        assert not gone(pid), (out / "viewer.log").read_text()
        assert os.getsid(pid) == pid != os.getsid(0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:5] == [b"-m", b"stlar_dl", b"watch", str(out).encode()]
        assert (out / "viewer.log").exists()
    finally:
        end_viewer(pid)
