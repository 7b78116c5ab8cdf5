"""Helpers and fixtures for the trainer's tests: tiny demo data sets, running `python -m stlar_dl`, waiting.

Import the fixtures into a test module (`from trainer_helpers import tiny_data`); pytest puts `tests/` on
sys.path because of its conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.logreader import read_log
from trainer.demo_data import DemoData, write_demo_data

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60.0  # generous: the suite runs on a busy two-core machine


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    """60 demo segments (48 train / 12 val), written once per session. Tests must not modify them."""
    return write_demo_data(tmp_path_factory.mktemp("tiny") / "data", n=60, seed=0)


@pytest.fixture(scope="session")
def slow_data(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    """300 segments: with --batch-size 2 and the ResNet an epoch takes a second or more, long enough for a
    test to act while the epoch is still running."""
    return write_demo_data(tmp_path_factory.mktemp("slow") / "data", n=300, seed=1)


def env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: UTF-8 output, the repo importable, no display."""
    out = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out.update(PYTHONIOENCODING="utf-8", PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    out.update(extra)
    return out


def stlar_cmd(*args: str | Path, prelude: str = "") -> list[str]:
    """`python -m stlar_dl ARGS`; with `prelude`, that Python code runs first in the same process (a test's
    fault injection), then the same CLI."""
    if prelude:
        return [sys.executable, "-c", f"{prelude}\nfrom stlar_dl.cli import main\nmain()", *map(str, args)]
    return [sys.executable, "-m", "stlar_dl", *map(str, args)]


def train_args(data: DemoData, out_dir: str | Path, *extra: str | Path) -> list[str]:
    """train-dl arguments for a small, fast run; `extra` overrides (later options win in click)."""
    return ["train-dl", "--train", str(data.train_manifest), "--val", str(data.val_manifest),
            "--out-dir", str(out_dir), "--model-type", "1", "--num-workers", "0", "--threads", "1", *map(str, extra)]


def _default_signals() -> None:
    # A suite started in the background by a script runs with SIGINT ignored, and children inherit that
    # (the trainer then rightly stays deaf to Ctrl-C). The signal tests need a child that hears it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


PREEXEC = _default_signals if os.name == "posix" else None


def run_stlar(*args: str | Path, cwd: Path, timeout: float = 120.0, **env_extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(stlar_cmd(*args), cwd=cwd, env=env(**env_extra), capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout, preexec_fn=PREEXEC)


def start_stlar(*args: str | Path, cwd: Path, prelude: str = "", **env_extra: str) -> subprocess.Popen:
    """Start `python -m stlar_dl ...` in its own session (like a job in a terminal: killpg reaches it all).

    Its stdout and stderr go to files in `cwd` (`finish` reads them): a pipe nobody drains would fill up
    and block a long-running trainer on its next print.
    """
    out = open(Path(cwd) / "stlar-dl.stdout", "w", encoding="utf-8")
    err = open(Path(cwd) / "stlar-dl.stderr", "w", encoding="utf-8")
    with out, err:  # the child has its own copies of the descriptors
        proc = subprocess.Popen(stlar_cmd(*args, prelude=prelude), cwd=cwd, env=env(**env_extra), stdout=out,
                                stderr=err, start_new_session=True, preexec_fn=PREEXEC)
    proc.output_dir = Path(cwd)  # type: ignore[attr-defined]
    return proc


def wait_for(condition: Callable[[], Any], timeout: float = TIMEOUT_S, what: str = "condition",
             proc: subprocess.Popen | None = None) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` (or if `proc` exits first)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            _, out, err = finish(proc)
            pytest.fail(f"process exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)  # a poll interval, not a fixed wait: the loop ends as soon as the condition holds


def records(log: Path) -> list[dict]:
    recs, warnings = read_log(log)
    assert not warnings, warnings
    return recs


def record_of(log: Path, rtype: str) -> dict | None:
    """The first record of `rtype` in the log's last run, or None (also when there is no log yet)."""
    if not log.exists():
        return None
    recs, _ = read_log(log)
    return next((r for r in recs if r["type"] == rtype), None)


def finish(proc: subprocess.Popen, timeout: float = TIMEOUT_S) -> tuple[int, str, str]:
    """Wait for a process from `start_stlar`; return (exit code, stdout, stderr)."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"trainer did not finish in {timeout} s")
    return proc.returncode, _read(proc, "stlar-dl.stdout"), _read(proc, "stlar-dl.stderr")


def _read(proc: subprocess.Popen, name: str) -> str:
    return (proc.output_dir / name).read_text(encoding="utf-8")  # type: ignore[attr-defined]


def stop_process(proc: subprocess.Popen) -> None:
    """Kill a test's process if it is still running (a failed assertion must not leave a trainer behind)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def run_dir_files(path: Path) -> set[str]:
    """Names in a run dir, hidden lock file excluded."""
    return {p.name for p in path.iterdir() if p.name != ".stlar-dl.lock"} if path.exists() else set()
