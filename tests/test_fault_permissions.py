"""Fault: permissions on a shared machine. A colleague watches a run in a folder they cannot write (the view
works; Stop explains why it cannot); a trainer is pointed at a folder it cannot write (a clear error before
any training); a colleague reads a run's outputs.

The processes under test run as the unprivileged user (uid/gid 65534) with `setpriv`, as root starts them; the
tests skip with the reason where that is impossible (not root, no setpriv, no interpreter that user may run).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from faults import (  # noqa: F401 - fixtures
    TIMEOUT,
    Row,
    as_nobody,
    data60,
    data600,
    nobody_env,
    nobody_home,
    nobody_python,
    one_error_line,
    public_dir,
    stlar_cli,
    stlar_as_nobody,
    train_argv,
    wait_until,
    zygote,
)
from procs import Spawned
from shared.logreader import read_log

HERE = "tests/test_fault_permissions.py"


@pytest.fixture(scope="module")
def nobody():
    found = nobody_python()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture
def base():
    """A folder every user can enter (pytest's tmp_path is root's alone), with a home for the other user."""
    with public_dir() as path:
        nobody_home(path)
        yield path


def run_as_nobody(base: Path, *args, timeout: float = TIMEOUT * 2) -> subprocess.CompletedProcess:
    return subprocess.run(stlar_as_nobody(*args), env=nobody_env(base / "nobody-home"), capture_output=True,
                          text=True, encoding="utf-8", errors="replace", timeout=timeout, cwd=base)


def python_as_nobody(base: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    exe, _ = nobody_python()
    return subprocess.run(as_nobody([*exe, "-c", code, *args]), env=nobody_env(base / "nobody-home"),
                          capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=TIMEOUT * 2,
                          cwd=base)


# The window's Stop button, clicked by the other user: the window in-process on an Agg canvas, fed by a Follower.
CLICK = """
import sys
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from viewer.follow import Follower
from viewer.window import RunWindow
with Follower(sys.argv[1]) as follower:
    fig = Figure(); FigureCanvasAgg(fig)
    window = RunWindow(fig, sys.argv[1], follower, out=sys.stdout)
    window.apply(follower.drain())
    window.click()
    print("STATUS", window.status.text)
    print("BUTTON", window.button_label)
"""


def test_a_read_only_run_dir_for_the_viewer(nobody, zygote, data600, base):
    """Root trains in a folder the other user can read but not write: watch, replay, window work; Stop explains."""
    row = Row("Read-only run dir for the viewer",
              "a live run in a folder the viewer's user (uid 65534, setpriv) can read but not write: `watch "
              "--no-window` (with `--png` into that folder), `replay`, `stop`, the window's Stop button",
              "{tries} viewer commands: the run shown live and to its end by all; `stop` refused in one line "
              "and the window's Stop explained in its log panel and status line ({explained} of 2), no stop "
              "file written; the PNG into the folder a warning, not a crash", times_key="tries",
              command=f"pytest {HERE} -k read_only")
    run_dir = base / "run"
    child = zygote.start(train_argv(data600, run_dir, "--epochs", "300", "--patience", "1000"), base,
                         base / "trainer.out", umask=0o022)
    try:
        start = wait_until(lambda: _start_of(run_dir, child.pid), what="the run's start record")
        assert oct(run_dir.stat().st_mode & 0o777) == "0o755"
        with Spawned(stlar_as_nobody("watch", run_dir, "--no-window", "--png", run_dir / "mine.png"),
                     **nobody_env(base / "nobody-home")) as watch:
            watch.expect(f"Run {start['run_id']} started", timeout=TIMEOUT)
            watch.expect("Epoch ", timeout=TIMEOUT)
            watch.expect(f"{run_dir / 'mine.png'}: cannot write the figure (Permission denied)", timeout=TIMEOUT)
            row.add("tries")

            done = run_as_nobody(base, "stop", run_dir)
            line = one_error_line(done.stderr)
            assert done.returncode == 2 and "cannot write the stop file (Permission denied)" in line, done
            assert "ask the run's owner" in line, line
            assert not (run_dir / "STOP").exists()
            row.add("tries")
            row.add("explained")

            done = python_as_nobody(base, CLICK, str(run_dir))
            assert done.returncode == 0, done.stderr
            assert "Cannot stop the run:" in done.stdout and "Permission denied" in done.stdout, done.stdout
            assert "STATUS live" in done.stdout and "Stop failed: see the log panel" in done.stdout, done.stdout
            assert "BUTTON Stop Training" in done.stdout, done.stdout  # still offered: the owner may fix it
            assert not (run_dir / "STOP").exists()
            row.add("tries")
            row.add("explained")

            done = run_as_nobody(base, "replay", run_dir, "--no-window")
            assert done.returncode == 0 and "Status: live" in done.stdout, done
            row.add("tries")

            # The owner stops the run: the other user's view follows it to the end.
            stopped = subprocess.run(stlar_cli("stop", run_dir), capture_output=True, text=True, timeout=TIMEOUT)
            assert stopped.returncode == 0, stopped.stderr
            watch.expect("Run ended: stopped on request after", timeout=TIMEOUT)
            assert watch.finish(timeout=TIMEOUT) == 0, watch.output
        assert zygote.wait(child) == 0, child.output
    finally:
        zygote.kill(child)
    row.save()


def _start_of(run_dir: Path, pid: int) -> dict | None:
    records, _ = read_log(run_dir / "training_log.jsonl")
    return records[0] if records and records[0].get("pid") == pid else None


def test_an_unwritable_out_dir_for_the_trainer(nobody, data60, base):
    """The other user's train-dl into folders it cannot write: one line, exit 2, before any training."""
    import shutil

    data60 = Path(shutil.copytree(data60, base / "data"))  # where the other user can read it
    taken = base / "taken"  # an earlier run of root's in a folder everyone may write (as on a shared scratch)
    taken.mkdir()
    taken.chmod(0o777)
    subprocess.run(stlar_cli(*train_argv(data60, taken, "--epochs", "1")), check=True, capture_output=True,
                   timeout=TIMEOUT * 2)
    (base / "readonly").mkdir()
    cases = {
        "an existing folder it may not write": (base / "readonly", "cannot write there (Permission denied)"),
        "a new folder in a folder it may not write": (base / "readonly" / "new", "cannot write there "
                                                                                  "(Permission denied)"),
        "another user's run dir, in a folder everyone may write": (taken, "cannot create the lock file "
                                                                          "(Permission denied)"),
    }
    row = Row("Unwritable out-dir for the trainer",
              "train-dl as uid 65534 into: " + "; ".join(cases), "{tries} runs: {refused} refused with one "
              "`Error:` line naming --out-dir and exit 2 before any epoch; {untouched} left the folder as it "
              "was", times_key="tries", command=f"pytest {HERE} -k unwritable")
    before = {name: _listing(out) for name, (out, _) in cases.items()}
    # The trainers start together: each spends most of its time importing torch.
    procs = {name: subprocess.Popen(stlar_as_nobody(*train_argv(data60, out, "--epochs", "2")),
                                    env=nobody_env(base / "nobody-home"), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, encoding="utf-8", cwd=base)
             for name, (out, _) in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=TIMEOUT * 3)
        folder, expected = cases[name]
        row.add("tries")
        assert proc.returncode == 2, f"{name}: exit {proc.returncode}\n{out}\n{err}"
        line = one_error_line(err)
        assert line.startswith(f"Error: --out-dir {folder}: ") and expected in line, f"{name}: {line}"
        assert "Epoch" not in out, f"{name}: training started:\n{out}"
        row.add("refused")
        assert _listing(folder) == before[name], f"{name}: the folder changed"
        row.add("untouched")
    row.save()


def _listing(folder: Path) -> dict[str, int] | None:
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))}


def test_a_colleague_can_read_the_run_outputs(nobody, zygote, data60, base):
    """Found by this suite: best.pt, training_metrics.json and training_params.json were created 0600
    (mkstemp's mode), so nobody but the trainer's user could read them, whatever the umask said."""
    run_dir = base / "run"
    child = zygote.run(train_argv(data60, run_dir, "--epochs", "2"), base, base / "t.out", umask=0o022)
    assert child.exit == 0, child.output
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in run_dir.iterdir() if not p.name.startswith(".")}
    assert set(modes.values()) == {"0o644"}, modes
    code = ("import json, sys, torch; d = sys.argv[1]; "
            "print(torch.load(d + '/best.pt', weights_only=True)['epoch']); "
            "print(json.load(open(d + '/training_metrics.json'))['epochs_run'])")
    done = python_as_nobody(base, code, str(run_dir))
    assert done.returncode == 0 and done.stdout.split() == ["2", "2"], (done.stdout, done.stderr)
    Row("A colleague reads a run's outputs", "a run with umask 022; another user (uid 65534) loads best.pt "
        "(weights_only) and reads training_metrics.json", "every output 0644 and readable (before the fix "
        "best.pt, the metrics and params were 0600)", counts={"times": 1},
        command=f"pytest {HERE} -k colleague").save()


def test_data_the_trainer_may_not_read(nobody, data60, base):
    """Found by this suite: a manifest or segments in a folder the user may not enter made train-dl print a
    PermissionError traceback (Path.exists() raises there instead of returning False)."""
    import shutil

    locked = base / "locked"
    shutil.copytree(data60, locked / "data")
    locked.chmod(0o700)  # root's: the other user cannot enter it
    segments = base / "open"
    shutil.copytree(data60, segments)
    (segments / "segments").chmod(0o700)  # the manifests readable, the segment files not
    cases = {"a manifest in a folder it may not enter": (locked / "data", "manifest_train.csv: cannot reach it"),
             "segments in a folder it may not enter": (segments, "cannot reach it (Permission denied)")}
    for name, (data, expected) in cases.items():
        done = run_as_nobody(base, *train_argv(data, base / "out", "--epochs", "1"))
        line = one_error_line(done.stderr)
        assert done.returncode == 2 and expected in line and "Permission denied" in line, f"{name}: {line}"
        assert not (base / "out").exists()
    Row("Data the trainer may not read", "train-dl as uid 65534 with the manifest, or the segment files, in a "
        "folder it may not enter", "2 of 2 refused in one line naming the file (a PermissionError traceback "
        "before the fix)", counts={"times": 2},
        command=f"pytest {HERE} -k may_not_read").save()
