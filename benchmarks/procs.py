"""Child processes, measured: peak RSS and CPU time from the kernel (/proc, wait4), no psutil needed.

Linux-first: `/proc/PID/stat` gives a live process's CPU time; a child's own peak RSS is the VmHWM it reads
from /proc/self/status as it exits (`stlar_measured_cmd`). Not wait4's ru_maxrss: Linux carries the parent's
resident size at fork into the child's ru_maxrss, so a child of a 400 MB benchmark process would report
400 MB whatever it used itself. Elsewhere the figures that need /proc are skipped with a note.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def stlar_cmd(*args: str) -> list[str]:
    """`stlar-dl ARGS` as this interpreter runs it (the venv's, whatever PATH says)."""
    return [sys.executable, "-m", "stlar_dl", *args]


# `python -m stlar_dl ARGS`, plus an exit hook that writes the process's VmHWM (kB) to the file in argv[1], and
# the peak of the children it waited for (ru_maxrss, kB: replay --png reads its log in a forked child; forked
# before the big imports, so the size it inherits is small).
_HWM_WRAPPER = (
    "import atexit, resource, runpy, sys\n"
    "out = sys.argv[1]\n"
    "def _hwm():\n"
    "    with open('/proc/self/status') as fh:\n"
    "        kb = next(line.split()[1] for line in fh if line.startswith('VmHWM:'))\n"
    "    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "    with open(out, 'w') as fh:\n"
    "        fh.write(f'{kb} {children}')\n"
    "atexit.register(_hwm)\n"
    "sys.argv = ['stlar-dl'] + sys.argv[2:]\n"
    "runpy.run_module('stlar_dl', run_name='__main__', alter_sys=True)\n"
)


def stlar_measured_cmd(hwm_file: Path, *args: str) -> list[str]:
    """`stlar-dl ARGS` that writes its own peak RSS (VmHWM, kB) to `hwm_file` when it exits (read with `read_hwm`)."""
    return [sys.executable, "-c", _HWM_WRAPPER, str(hwm_file), *args]


def read_hwm_mb(hwm_file: Path) -> float:
    return int(hwm_file.read_text().split()[0]) / 1024.0


def read_children_mb(hwm_file: Path) -> float:
    """The peak RSS of the largest child the measured process waited for (0 if none)."""
    words = hwm_file.read_text().split()
    return int(words[1]) / 1024.0 if len(words) > 1 else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process and its threads, from /proc (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read().decode("ascii", "replace")
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15 of stat(5)


@dataclass
class Finished:
    returncode: int
    wall: float  # seconds from start to exit
    max_rss_mb: float  # wait4's ru_maxrss, MiB: includes the parent's size at fork (see the module doc)
    cpu: float  # user + system seconds
    stdout: str
    stderr: str


def run_measured(cmd: list[str], *, timeout: float, cwd: Path | None = None, env: dict | None = None,
                 workdir: Path) -> Finished:
    """Run `cmd` to completion; its own peak RSS and CPU time come from wait4 (not the whole process tree)."""
    out_path, err_path = workdir / f"out-{time.monotonic_ns()}.txt", workdir / f"err-{time.monotonic_ns()}.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        done: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: done.put(os.wait4(proc.pid, 0)), daemon=True).start()
        try:
            _pid, status, usage = done.get(timeout=timeout)
        except queue.Empty:
            proc.kill()
            done.get(timeout=10)
            raise TimeoutError(f"{' '.join(cmd[:4])} ... did not finish within {timeout:g} s") from None
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: keep Popen from waiting again
    return Finished(proc.returncode, wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime,
                    out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))


class LineWatcher:
    """Reads a child's stdout on a thread; `wait_for(text, timeout)` blocks until a line contains `text`."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._q: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self._q.put(line)
        self._q.put(None)

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                return False
            self.lines.append(line)
            if text in line:
                return True

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)
