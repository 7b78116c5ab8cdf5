"""Helpers for the fault tests (`tests/test_fault_*.py`): modes and seeds, the fork server, run-dir audits,
a tiny file system, another user, hostile payloads, and the report rows `scripts/reliability.py` collects.

Modes: the CI mode (default) is small and fast; `STLAR_FAULTS_FULL=1` is the full run (200 kills, ...).
Every random choice comes from `rng(name)`, seeded by `STLAR_FAULTS_SEED` (default 6); a failure message
names the seed and the iteration, so `STLAR_FAULTS_SEED=<seed> pytest tests/test_fault_kill.py` repeats it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import pickle
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import procs
from shared.logreader import read_log
from shared.records import RecordError, decode

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
ZYGOTE_SCRIPT = TESTS / "fault_zygote.py"

FULL = os.environ.get("STLAR_FAULTS_FULL") == "1"
SEED = int(os.environ.get("STLAR_FAULTS_SEED", "6"))
REPORT_ENV = "STLAR_FAULTS_REPORT"  # a file: each fault test appends its report row (JSON) to it
NOBODY = 65534  # uid and gid of the unprivileged user the permission tests run processes as
TIMEOUT = 120.0 if FULL else 60.0  # seconds for any single wait: generous, the machine is a busy 2-core box


def n(ci: int, full: int) -> int:
    """How many times to do something: `ci` in the CI mode, `full` with STLAR_FAULTS_FULL=1."""
    return full if FULL else ci


def rng(name: str) -> random.Random:
    """A random generator for one test, from the suite seed and the test's name (stable across runs)."""
    return random.Random(SEED * 1_000_003 + zlib.crc32(name.encode()))


def repeat_hint(test_file: str) -> str:
    return f"seed {SEED} (repeat: STLAR_FAULTS_SEED={SEED} STLAR_FAULTS_FULL={int(FULL)} pytest {test_file})"


def child_env(**extra: str | None) -> dict[str, str]:
    """Environment for a stlar-dl child process: UTF-8, the repo importable, no display unless given."""
    out = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out.update(PYTHONIOENCODING="utf-8", PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    for key, value in extra.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def stlar_cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "stlar_dl", *map(str, args)]


def wait_until(condition: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition",
               interval: float = 0.005) -> Any:
    """Poll `condition` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)  # a poll interval, not a fixed wait: the loop ends as soon as the condition holds


# ---- the report ------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the reliability table. `counts` feed `result`, a format string over them."""

    fault: str
    how: str
    result: str
    counts: dict[str, int] = field(default_factory=dict)
    times_key: str = "times"
    command: str = ""

    def add(self, key: str, amount: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + amount

    def get(self, key: str) -> int:
        return self.counts.get(key, 0)

    def text(self) -> str:
        return self.result.format_map(_Zero(self.counts))

    def save(self) -> None:
        """Append this row to the report file, if the report script asked for one."""
        path = os.environ.get(REPORT_ENV)
        if not path:
            return
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"fault": self.fault, "how": self.how, "times": self.get(self.times_key),
                                 "result": self.text(), "counts": self.counts, "command": self.command,
                                 "full": FULL, "seed": SEED}) + "\n")


class _Zero(dict):
    def __missing__(self, key: str) -> int:
        return 0


# ---- the fork server -------------------------------------------------------------------------------------
@dataclass
class Child:
    pid: int
    out: Path  # its stdout (and its stderr, unless `err` is set)
    err: Path | None = None
    exit: int | None = None

    @property
    def output(self) -> str:
        return _text(self.out) + (_text(self.err) if self.err else "")

    @property
    def stdout(self) -> str:
        return _text(self.out)

    @property
    def stderr(self) -> str:
        return _text(self.err) if self.err else ""


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


class Zygote:
    """Client of tests/fault_zygote.py: `start` forks a `stlar-dl` command there, `wait` gets its exit code.

    One child at a time. No threads: replies are read with select() and a deadline.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ZYGOTE_SCRIPT)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=child_env(), cwd=REPO)
        self._buf = b""
        self._reply(TIMEOUT * 2)
        self.child: Child | None = None

    def _reply(self, timeout: float) -> dict:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply from the fork server within {timeout} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError(f"the fork server exited ({self.proc.wait()})")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def start(self, argv: list[str], cwd: Path, out: Path, *, err: Path | None = None, inject: dict | None = None,
              env: dict[str, str] | None = None, fsize: int | None = None, umask: int | None = None) -> Child:
        """Fork `stlar-dl ARGV` in `cwd`, its output to `out` (stderr to `err` if given); return at once.

        `inject` (see tests/fault_zygote.py) makes it kill itself or write the stop file at a chosen moment;
        `fsize` limits the size of every file it writes (RLIMIT_FSIZE; writes beyond fail with EFBIG).
        """
        if self.child is not None and self.child.exit is None:
            self.kill(self.child)  # one child at a time: a failed test may have left one running
        assert self.proc.stdin is not None
        req = {"argv": [str(a) for a in argv], "cwd": str(cwd), "out": str(out), "err": str(err) if err else None,
               "inject": inject, "env": env or {}, "fsize": fsize, "umask": umask}
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()
        self.child = Child(pid=self._reply(TIMEOUT)["pid"], out=out, err=err)
        return self.child

    def wait(self, child: Child, timeout: float = TIMEOUT) -> int:
        """The child's exit code (negative: killed by that signal); kill it and fail after `timeout`."""
        if child.exit is None:
            try:
                reply = self._reply(timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGKILL)
                self._reply(TIMEOUT)
                pytest.fail(f"stlar-dl child {child.pid} still running after {timeout} s:\n{child.output}")
            assert reply["pid"] == child.pid, reply
            child.exit = reply["exit"]
        return child.exit

    def kill(self, child: Child) -> int:
        """SIGKILL the child if it still runs (a failed test must not leave a trainer behind); its exit code."""
        if child.exit is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
        return self.wait(child)

    def run(self, argv: list[str], cwd: Path, out: Path, timeout: float = TIMEOUT, **kwargs: Any) -> Child:
        child = self.start(argv, cwd, out, **kwargs)
        self.wait(child, timeout)
        return child

    def close(self) -> None:
        if self.child is not None and self.child.exit is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child.pid, signal.SIGKILL)
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


_SHARED: dict[str, Any] = {}  # one fork server and one copy of each data set for the whole session


def _once(name: str, make: Callable[[], Any]) -> Any:
    # Each test module imports these fixtures, and pytest makes a session fixture per module that defines
    # it: without this, every module would start its own fork server (6 s) and write its own data.
    if name not in _SHARED:
        _SHARED[name] = make()
    return _SHARED[name]


def _close_zygote() -> None:
    server = _SHARED.pop("zygote", None)
    if server is not None:
        server.close()


atexit.register(_close_zygote)


@pytest.fixture(scope="session")
def zygote() -> Zygote:
    """The session's fork server (closed when the test process exits)."""
    return _once("zygote", Zygote)


def train_argv(data: Path, out_dir: Path | str, *extra: str | Path) -> list[str]:
    """`train-dl` arguments for a short run on demo data in DATA (the small CNN, in-process loading)."""
    return ["train-dl", "--train", str(Path(data) / "manifest_train.csv"), "--val",
            str(Path(data) / "manifest_val.csv"), "--out-dir", str(out_dir), "--model-type", "1",
            "--num-workers", "0", "--no-plot", "--threads", "1", *map(str, extra)]


def _demo_data(tmp_path_factory: pytest.TempPathFactory, n: int, seed: int) -> Path:
    from trainer.demo_data import write_demo_data

    folder = tmp_path_factory.mktemp("faults") / f"data{n}"
    write_demo_data(folder, n=n, seed=seed)
    return folder


@pytest.fixture(scope="session")
def data60(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 demo segments (48 train, 12 val): an epoch takes a few tens of milliseconds."""
    return _once("data60", lambda: _demo_data(tmp_path_factory, 60, 0))


@pytest.fixture(scope="session")
def data600(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 demo segments: an epoch takes a few tenths of a second, time for viewers and `stlar-dl stop` to act."""
    return _once("data600", lambda: _demo_data(tmp_path_factory, 600, 1))


# ---- what a run dir must look like after any fault --------------------------------------------------------
@dataclass
class Audit:
    """What `audit_run_dir` found. `problems` empty means: nothing corrupt, nothing unloadable."""

    records: list[dict] = field(default_factory=list)
    partial_tail: bytes = b""
    checkpoint_epoch: int | None = None
    problems: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str | None:
        return self.records[0]["run_id"] if self.records else None

    @property
    def ended(self) -> bool:
        return any(r["type"] == "end" for r in self.records)


def strict_json(data: bytes) -> Any:
    """Parse strict JSON (NaN and Infinity tokens are errors)."""
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard token {token}")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def audit_log(log: Path, audit: Audit) -> None:
    """Every complete line is a valid record, one run, seq 0, 1, 2 ... without a gap; at most a partial tail."""
    if not log.exists():
        return
    raw = log.read_bytes()
    *lines, tail = raw.split(b"\n")
    audit.partial_tail = tail
    for i, line in enumerate(lines, start=1):
        try:
            audit.records.append(decode(line))
        except RecordError as exc:
            audit.problems.append(f"{log.name} line {i} is not a valid record ({exc}): {line[:120]!r}")
            return
    seqs = [r["seq"] for r in audit.records]
    if seqs != list(range(len(seqs))):
        audit.problems.append(f"{log.name}: seq is not 0, 1, 2 ... without a gap: {seqs}")
    run_ids = {r["run_id"] for r in audit.records}
    if len(run_ids) > 1:
        audit.problems.append(f"{log.name}: records of {len(run_ids)} runs in one log: {sorted(run_ids)}")
    if audit.records and audit.records[0]["type"] != "start":
        audit.problems.append(f"{log.name}: the first record is a {audit.records[0]['type']}, not the start")


def audit_checkpoint(path: Path, audit: Audit) -> None:
    """best.pt, if present, loads with weights_only=True and is a stlar-dl checkpoint."""
    if not path.exists():
        return
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        audit.problems.append(f"{path} does not load with weights_only=True: {type(exc).__name__}: {exc}"[:300])
        return
    if not isinstance(data, dict) or "model_state" not in data or not isinstance(data.get("epoch"), int):
        audit.problems.append(f"{path} is not a stlar-dl checkpoint: {type(data).__name__}")
        return
    audit.checkpoint_epoch = data["epoch"]


def audit_run_dir(run_dir: Path) -> Audit:
    """Check the log, best.pt and every JSON file under `run_dir` (its archive included)."""
    audit = Audit()
    audit_log(run_dir / "training_log.jsonl", audit)
    audit_checkpoint(run_dir / "best.pt", audit)
    for path in sorted(run_dir.rglob("*.json")):
        if is_temp(path):
            continue  # a killed atomic write's temporary file: never read by anything (counted below)
        try:
            strict_json(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            audit.problems.append(f"{path.relative_to(run_dir)} is not valid JSON: {exc}")
    for path in sorted(run_dir.rglob("*.jsonl")):
        if path != run_dir / "training_log.jsonl":
            archived = Audit()
            audit_log(path, archived)
            audit.problems += [f"{path.relative_to(run_dir)}: {p}" for p in archived.problems]
    audit.temp_files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob(".*") if is_temp(p))
    return audit


def is_temp(path: Path) -> bool:
    """A temporary file of an atomic write (`.best.x1y2.tmp.pt`) or of a stop request (`.STOP.x1y2.tmp`)."""
    return path.name.startswith(".") and ".tmp" in path.name


# ---- a tiny file system ----------------------------------------------------------------------------------
class TinyDisk:
    """A small file system to fill up: a tmpfs mount when root (unmounted on close), else None."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(f"cannot mount a tmpfs: {done.stderr.strip()}")

    def fill(self, leave: int) -> int:
        """Fill the disk with a ballast file so that about `leave` bytes stay free; return the free bytes."""
        ballast = self.path / "ballast"
        with contextlib.suppress(FileNotFoundError):
            ballast.unlink()
        free = shutil.disk_usage(self.path).free
        size = max(0, free - leave)
        with open(ballast, "wb") as fh:
            with contextlib.suppress(OSError):
                fh.write(b"\0" * size)
        return shutil.disk_usage(self.path).free

    def free(self) -> int:
        return shutil.disk_usage(self.path).free

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@contextlib.contextmanager
def tiny_disk(path: Path, size: int) -> Iterator[TinyDisk | None]:
    """A `TinyDisk` at `path`, or None where no tmpfs can be mounted (not root): then use RLIMIT_FSIZE."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        yield None
        return
    try:
        disk = TinyDisk(path, size)
    except OSError:
        yield None
        return
    try:
        yield disk
    finally:
        disk.close()


# ---- another user ----------------------------------------------------------------------------------------
def can_switch_user() -> str | None:
    """None if processes can be run as the unprivileged user; else the reason they cannot."""
    if os.geteuid() != 0:
        return "not root: cannot run a process as another user (plain chmod tests cover this case)"
    if not shutil.which("setpriv"):
        return "setpriv (util-linux) is not installed"
    return None


def as_nobody(argv: list[str]) -> list[str]:
    """`argv` run as the unprivileged user (uid/gid 65534, no supplementary groups)."""
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


@functools.lru_cache(maxsize=1)
def nobody_python() -> tuple[tuple[str, ...], str] | str:
    """(interpreter, PYTHONPATH) with which the unprivileged user can import stlar_dl, or why there is none.

    A virtual environment's interpreter may be a link into a folder only root can enter (pyenv under
    /root); then the system interpreter of the same version runs, with the environment's site-packages.
    """
    import site

    why = can_switch_user()
    if why:
        return why
    path = os.pathsep.join([str(REPO), *site.getsitepackages()])
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, getattr(sys, "_base_executable", sys.executable), f"/usr/bin/python{version}",
                  f"/usr/local/bin/python{version}"]
    for exe in dict.fromkeys(candidates):
        done = subprocess.run(as_nobody([exe, "-c", "import stlar_dl.app, stlar_dl.cli, shared.logreader, watchdog"]),
                              env=child_env(PYTHONPATH=path, HOME="/tmp", MPLCONFIGDIR="/tmp"),
                              capture_output=True, text=True, timeout=120)
        if done.returncode == 0:
            return (exe,), path
    return f"no Python {version} that uid {NOBODY} can run with stlar-dl importable"


def nobody_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a process of the unprivileged user (its own HOME and matplotlib cache)."""
    found = nobody_python()
    assert not isinstance(found, str), found
    return child_env(PYTHONPATH=found[1], HOME=str(home), MPLCONFIGDIR=str(home), **extra)


def stlar_as_nobody(*args: str | Path) -> list[str]:
    """`python -m stlar_dl ARGS` as the unprivileged user (use with `nobody_env`)."""
    found = nobody_python()
    assert not isinstance(found, str), found
    return as_nobody([*found[0], "-m", "stlar_dl", *map(str, args)])


@contextlib.contextmanager
def public_dir(prefix: str = "stlar-dl-faults-") -> Iterator[Path]:
    """A fresh folder under the system temp dir that every user can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def nobody_home(base: Path) -> Path:
    """A writable HOME / MPLCONFIGDIR for the unprivileged user under `base`."""
    home = base / "nobody-home"
    home.mkdir(exist_ok=True)
    os.chown(home, NOBODY, NOBODY)
    return home


# ---- hostile payloads ------------------------------------------------------------------------------------
class Payload:
    """Unpickling this object creates the file `marker`: proof that pickled code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickle_bytes(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker), protocol=2)


# The peak resident memory of this process since its exec: VmHWM (getrusage's ru_maxrss would also count
# the memory its parent had when it forked: pytest's, with torch loaded).
_PEAK = ("def _peak():\n"
         "    import resource\n"
         "    try:\n"
         "        return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
         "    except (OSError, StopIteration):\n"
         "        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n")


def max_rss_wrapper(argv: list[str]) -> list[str]:
    """`python -c ... stlar-dl ARGV` that prints `MAXRSS_KB <n>` (its peak memory) on stderr when it exits."""
    code = (_PEAK + "import atexit, sys\n"
            "atexit.register(lambda: print('MAXRSS_KB', _peak(), file=sys.stderr, flush=True))\n"
            "from stlar_dl.cli import main\nmain(sys.argv[1:])\n")
    return [sys.executable, "-c", code, *map(str, argv)]


def max_rss_kb(stderr: str) -> int:
    for line in stderr.splitlines():
        if line.startswith("MAXRSS_KB "):
            return int(line.split()[1])
    raise AssertionError(f"no MAXRSS_KB line in:\n{stderr[-2000:]}")


def one_error_line(stderr: str) -> str:
    """The single `Error: ...` line a failed command must print; AssertionError otherwise."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"expected one 'Error: ...' line, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


# ---- a display for real windows ---------------------------------------------------------------------------
X_TOOLS = ("Xvfb", "xdotool")


@contextlib.contextmanager
def xvfb(screen: tuple[int, int] = (1600, 1200)) -> Iterator[str | None]:
    """A fresh X server on a free display (`Xvfb -displayfd` picks it and says when ready): ':N', or None
    where Xvfb or xdotool is missing."""
    if any(shutil.which(tool) is None for tool in X_TOOLS):
        yield None
        return
    with procs.xvfb(f"{screen[0]}x{screen[1]}x24") as display:
        yield display


def click_at(display: str, box: tuple[int, int, int, int]) -> None:
    """Click the middle of a screen box (x, y, w, h) with xdotool."""
    x, y, w, h = box
    done = subprocess.run(["xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", "1"],
                          env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def epochs_logged_by(run_dir: Path, pid: int) -> int:
    """Epoch records in run_dir's log if the run there was started by `pid`, else 0."""
    records, _ = read_log(run_dir / "training_log.jsonl")
    if not records or records[0].get("pid") != pid:
        return 0
    return sum(1 for rec in records if rec["type"] == "epoch")
