"""Start stlar-dl (or any) processes for tests and wait on their output lines with deadlines, never sleeps."""

from __future__ import annotations

import contextlib
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

STLAR = [sys.executable, "-m", "stlar_dl"]
FAKE_RUN = [sys.executable, str(Path(__file__).with_name("fake_run.py"))]


def env(**extra: str | None) -> dict[str, str]:
    """The test environment for a child: UTF-8 output; `NAME=None` removes NAME."""
    out = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    for name, value in extra.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _default_sigint() -> None:
    # A test run started in the background (CI scripts, `cmd &`) ignores SIGINT, and children inherit that;
    # Python then installs no KeyboardInterrupt handler. Ctrl-C tests need the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Spawned:
    """A child process whose stdout+stderr lines are read by a thread into a queue.

    `expect(text)` waits for a line containing `text`; `finish()` waits for the exit. On `close()` a
    running child is killed and the reader thread joined, so no test leaks either.
    """

    def __init__(self, args: list[str], cwd: str | Path | None = None, **extra_env: str | None) -> None:
        self.args = args
        self.proc = subprocess.Popen(args, cwd=cwd, env=env(**extra_env), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8", bufsize=1,
                                     preexec_fn=_default_sigint if os.name == "posix" else None)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"reader-{self.proc.pid}", daemon=True)
        self._reader.start()
        self._eof = False

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _next(self, deadline: float) -> str | None:
        line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        if line is None:
            self._eof = True
        else:
            self.lines.append(line)
        return line

    def expect(self, text: str, timeout: float = 60.0) -> str:
        """The first new line containing `text`; AssertionError with the output so far after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self._eof:
            try:
                line = self._next(deadline)
            except queue.Empty:
                break
            if line is not None and text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout} s from {self.args}:\n" + self.output)

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the exit and for all of the output; return the exit code."""
        deadline = time.monotonic() + timeout
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.args} still running after {timeout} s:\n" + self.output) from None
        while not self._eof:
            self._next(deadline + 5)
        self._reader.join(timeout=5)
        return code

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    @property
    def output(self) -> str:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._eof = True
            else:
                self.lines.append(line)
        return "\n".join(self.lines)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Spawned:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(args: list[str], timeout: float = 60.0, cwd: str | Path | None = None, **extra_env: str | None):
    """Run to completion; the CompletedProcess with text stdout and stderr."""
    return subprocess.run(args, cwd=cwd, env=env(**extra_env), capture_output=True, text=True, encoding="utf-8",
                          timeout=timeout)


# ---- real trainings ------------------------------------------------------------------------------------------
DEMO_N = 600  # segments: about 0.2 s an epoch with --model-type 1 on 2 cores (--n 60 finishes 30 epochs in 0.5 s)


def make_demo_data(folder: Path) -> Path:
    """Synthetic STLAR manifests from `stlar-dl demo-data` (about a second)."""
    done = run(STLAR + ["demo-data", str(folder), "--n", str(DEMO_N)], timeout=120)
    assert done.returncode == 0, done.stderr
    return folder


def train_args(data: Path, out_dir: Path, epochs: int) -> list[str]:
    """`stlar-dl train-dl` on demo data: the small CNN, in-process loading, no early stop, one torch thread (the
    suite runs trainers next to viewers and other tests on few cores: where `--threads` helps)."""
    return STLAR + ["train-dl", "--train", str(data / "manifest_train.csv"), "--val", str(data / "manifest_val.csv"),
                    "--model-type", "1", "--epochs", str(epochs), "--num-workers", "0", "--patience", "1000",
                    "--out-dir", str(out_dir), "--threads", "1"]


def wait_for_records(run_dir: Path, until, timeout: float = 120.0) -> list[dict]:
    """Follow RUN_DIR's log (as the viewer does) until `until(records)`; return the records."""
    from shared.logreader import NewRun
    from viewer.follow import Follower

    records: list[dict] = []
    deadline = time.monotonic() + timeout
    with Follower(run_dir) as follower:
        while not until(records):
            left = deadline - time.monotonic()
            assert left > 0, f"{run_dir}: condition not met within {timeout} s; records: {records[-3:]}"
            if follower.wait(timeout=left):
                for item in follower.drain():
                    if isinstance(item, NewRun):
                        records.clear()
                    else:
                        records.append(item)
    return records


def epochs_in(records: list[dict]) -> int:
    return sum(1 for r in records if r["type"] == "epoch")


# ---- the OS: dead processes, unwritable folders, an X server ----------------------------------------------------
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped (a trainer that is gone)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@contextlib.contextmanager
def unwritable(folder: Path, monkeypatch):
    """`folder` refuses new files as a read-only folder does (EACCES), for root too.

    Root ignores permission bits, so there the stop-file protocol's temporary file gets the same OS error.
    """
    if os.geteuid() == 0:
        import shared.stopfile

        def no_mkstemp(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(shared.stopfile.tempfile, "mkstemp", no_mkstemp)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


@contextlib.contextmanager
def xvfb(screen: str = "1600x1200x24"):
    """A fresh X server on a free display number, as ':N' (`Xvfb -displayfd` picks it and says when ready)."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        assert number.isdigit(), "Xvfb did not report a display within 30 s"
        yield f":{number}"
    finally:
        os.close(read_end)
        server.terminate()
        server.wait(timeout=30)


def have(*tools: str) -> bool:
    return all(shutil.which(tool) is not None for tool in tools)
