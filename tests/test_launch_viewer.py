"""--gui: the viewer is started detached (own session / process group), or a warning without a display."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trainer.launch_viewer import display_missing, launch_viewer


@pytest.mark.parametrize("env, platform, missing", [
    ({}, "linux", True),
    ({"DISPLAY": ":0"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"DISPLAY": ""}, "linux", True),
    ({}, "freebsd13", True),
    ({}, "darwin", False),
    ({}, "win32", False),
])
def test_display_missing(env, platform, missing):
    assert display_missing(env, platform) is missing


class FakePopen:
    calls: list = []

    def __init__(self, args, **kwargs):
        self.args, self.kwargs, self.pid = args, kwargs, 4321
        FakePopen.calls.append(self)


def test_posix_launch_is_a_new_session_with_output_to_a_file(tmp_path):
    FakePopen.calls = []
    proc, line = launch_viewer(tmp_path, shown="models", env={"DISPLAY": ":0"}, platform="linux", popen=FakePopen)
    assert proc is FakePopen.calls[0]
    assert proc.args == [sys.executable, "-m", "stlar_dl", "watch", str(tmp_path)]
    assert proc.kwargs["start_new_session"] is True
    assert proc.kwargs["stdin"] is subprocess.DEVNULL and proc.kwargs["stderr"] is subprocess.STDOUT
    assert proc.kwargs["stdout"].name == str(tmp_path / "viewer.log")
    assert "creationflags" not in proc.kwargs
    assert line == "Started the viewer (stlar-dl watch models, pid 4321)"


def test_windows_launch_is_detached_in_its_own_process_group(tmp_path):
    FakePopen.calls = []
    proc, _ = launch_viewer(tmp_path, env={}, platform="win32", popen=FakePopen)
    assert proc.kwargs["creationflags"] == 0x200 | 0x8  # CREATE_NEW_PROCESS_GROUP | DETACHED_PROCESS
    assert "start_new_session" not in proc.kwargs


def test_no_display_is_one_warning_and_no_process(tmp_path):
    FakePopen.calls = []
    proc, line = launch_viewer(tmp_path, shown="models", env={}, platform="linux", popen=FakePopen)
    assert proc is None and FakePopen.calls == []
    assert line.startswith("--gui: no display") and "stlar-dl watch models" in line and "\n" not in line


def test_a_viewer_that_cannot_start_is_a_warning(tmp_path):
    def broken(*a, **k):
        raise FileNotFoundError(2, "No such file or directory")

    proc, line = launch_viewer(tmp_path, env={"DISPLAY": ":0"}, platform="linux", popen=broken)
    assert proc is None and line.startswith("--gui: could not start the viewer (No such file or directory)")
