"""The viewer's commands as a user meets them: one-line errors with exit 2, the no-display fallback, and a
`--help` that imports neither torch nor a GUI toolkit."""

from __future__ import annotations

import pytest

from fake_run import write_run
from procs import STLAR, run
from shared.rundir import RunDir


@pytest.mark.parametrize(
    "args, message",
    [
        (["watch", "{file}"], "RUN_DIR {file}: is a file, not a run directory; pass the folder given to train-dl --out-dir"),
        (["watch", "{dir}", "--png", "{dir}"], "--png {dir}: is a folder; pass a file name such as"),
        (["watch", "{dir}", "--png", "{dir}/no/such/x.png"], "folder {dir}/no/such does not exist"),
        (["replay", "{file}"], "is a file, not a run directory"),
        (["stop", "{file}"], "is a file, not a run directory"),
        (["watch", "{dir}", "--bogus"], "No such option: --bogus"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "file.txt").write_text("x")
    names = {"file": tmp_path / "file.txt", "dir": tmp_path}
    done = run(STLAR + [a.format(**names) for a in args])
    assert done.returncode == 2
    assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert message.format(**names) in done.stderr


def test_without_a_display_watch_falls_back_to_the_terminal_with_a_notice(tmp_path):
    write_run(RunDir(tmp_path).log, 3)
    done = run(STLAR + ["watch", str(tmp_path)], DISPLAY=None, WAYLAND_DISPLAY=None)
    assert done.returncode == 0
    assert done.stderr == ("No window: no display (DISPLAY is not set); following the run in the terminal "
                           "instead (--no-window)\n")
    assert "Training complete!" in done.stdout


def test_replay_without_a_display_prints_the_run(tmp_path):
    write_run(RunDir(tmp_path).log, 2)
    done = run(STLAR + ["replay", str(tmp_path)], DISPLAY=None, WAYLAND_DISPLAY=None)
    assert done.returncode == 0
    assert done.stderr.startswith("No window: no display (DISPLAY is not set); printing the run instead")
    assert "📊 Training Diagnostics:" in done.stdout


def test_watch_help_starts_in_a_blink_without_torch_or_a_gui_toolkit():
    done = run(STLAR[:1] + ["-X", "importtime"] + STLAR[1:] + ["watch", "--help"])
    assert done.returncode == 0 and "--no-window" in done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    for heavy in ("torch", "matplotlib.pyplot", "tkinter", "watchdog.observers"):
        assert heavy not in imported, f"`stlar-dl watch --help` imports {heavy}"


def test_following_a_run_never_imports_torch(tmp_path):
    write_run(RunDir(tmp_path).log, 2)
    done = run(STLAR[:1] + ["-X", "importtime"] + STLAR[1:] + ["watch", str(tmp_path), "--no-window"])
    assert done.returncode == 0
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" not in imported and "watchdog.observers" in imported


@pytest.mark.parametrize("command", [["stop"], ["runs"], ["runs", "--json"]])
def test_stop_and_runs_start_without_typer_numpy_matplotlib_or_torch(tmp_path, command):
    # `stlar-dl stop` is what a script or a tired user runs on a week-long log: it reads the log's two ends
    # and writes one file, so it must not pay for the numeric or drawing stack, nor for typer (and the
    # pydantic it builds its parameters with), at start-up. `runs` reads the ends of many logs.
    write_run(RunDir(tmp_path).log, 2)
    done = run(STLAR[:1] + ["-X", "importtime"] + STLAR[1:] + [command[0], str(tmp_path), *command[1:]])
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert imported, done.stderr
    for heavy in ("numpy", "matplotlib", "torch", "typer", "click", "pydantic"):
        assert heavy not in imported, f"`stlar-dl {' '.join(command)}` imports {heavy}"
