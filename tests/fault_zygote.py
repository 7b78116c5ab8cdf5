"""A fork server for the fault tests: imports torch and stlar-dl once, then forks one `stlar-dl` command per request.

Starting `python -m stlar_dl train-dl` costs about 5 s on the 2-core CI machine (importing torch); a kill test
needs hundreds of short trainings. This process pays the imports once and forks a child per request that
runs `stlar_dl.cli.main(argv)`: the same code as the console script, in a real process that the test kills with
a real SIGKILL. The tests also start some trainings as fresh `python -m stlar_dl` processes, so the two can be
compared (tests/faults.py, `Zygote`).

Protocol (one JSON object per line): the client writes a request
`{"argv": [...], "cwd": DIR, "out": FILE, "err": FILE | null, "env": {...}, "inject": {...} | null,
"fsize": BYTES | null}` (stderr goes to `out` too unless `err` is given);
the server answers `{"pid": PID}` at once and `{"pid": PID, "exit": CODE}` when the child has ended (CODE is
negative for a signal, as in subprocess). One child at a time. The server never trains anything itself, so
every child starts from the same clean state.

`inject` makes the child do something at a chosen moment, from inside:
- `{"kill": POINT, "k": K}` SIGKILLs the child at the K-th occurrence of POINT (see `KILL_POINTS`);
- `{"stop": "train" | "validation", "epoch": E}` writes the stop file (with `shared.stopfile.request_stop`,
  as `stlar-dl stop` does) at the first poll of that phase in epoch E.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Where a child can be killed from inside, each at its K-th occurrence.
KILL_POINTS = {
    "train_batch": "before a training batch (mid-epoch)",
    "validation": "before a validation batch",
    "log_torn": "mid log write: half a record written, then killed",
    "log_unsynced": "a log record written, killed before its fsync",
    "checkpoint_mid": "mid checkpoint save: half the temporary best.pt written",
    "checkpoint_unrenamed": "checkpoint written and fsynced, killed before the rename over best.pt",
    "checkpoint_renamed": "best.pt renamed into place, killed before the epoch record",
    "outputs": "mid write of training_metrics.json / training_params.json / the PNG (temporary file half written)",
    "archive": "while moving the previous run's files to archive/",
}


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class _Phase:
    """Tracks where the training loop is, from the printer calls it makes: the epoch and the phase."""

    def __init__(self) -> None:
        import torch

        import trainer.console as console

        self.epoch = 0
        self.in_epoch = False
        self._torch = torch
        real_start, real_end = console.Printer.epoch_start, console.Printer.epoch_end
        phase = self

        def epoch_start(printer, epoch, *args, **kwargs):
            phase.epoch, phase.in_epoch = epoch, True
            return real_start(printer, epoch, *args, **kwargs)

        def epoch_end(printer, *args, **kwargs):
            phase.in_epoch = False
            return real_end(printer, *args, **kwargs)

        console.Printer.epoch_start, console.Printer.epoch_end = epoch_start, epoch_end

    @property
    def name(self) -> str:
        """"train" before a training batch, "validation" before a validation batch, "after" otherwise."""
        if not self._torch.is_grad_enabled():
            return "validation"
        return "train" if self.in_epoch else "after"


def _on_poll(action) -> None:
    """Call `action(phase, stop_path)` at every stop-file poll of the loop (before each batch)."""
    import trainer.stop_poll as stop_poll

    real_stop_requested = stop_poll.stop_requested
    phase = _Phase()

    def stop_requested(path):
        action(phase, path)
        return real_stop_requested(path)

    stop_poll.stop_requested = stop_requested


def _install_kill(point: str, k: int) -> None:
    """Patch the child so that it SIGKILLs itself at the k-th occurrence of `point`."""
    count = [0]

    def hit() -> bool:
        count[0] += 1
        return count[0] == k

    if point in ("train_batch", "validation"):
        wanted = "train" if point == "train_batch" else "validation"

        def maybe_die(phase, _path):
            if phase.name == wanted and hit():
                _die()

        _on_poll(maybe_die)
    elif point in ("log_torn", "log_unsynced"):
        real_write, real_fsync = os.write, os.fsync

        def write(fd, data):
            if point == "log_torn" and _fd_path(fd).endswith("training_log.jsonl") and hit():
                real_write(fd, bytes(data)[: max(1, len(data) // 2)])
                _die()
            return real_write(fd, data)

        def fsync(fd):
            if point == "log_unsynced" and _fd_path(fd).endswith("training_log.jsonl") and hit():
                _die()
            return real_fsync(fd)

        os.write, os.fsync = write, fsync
    elif point == "checkpoint_mid":
        # Wherever the checkpoint's bytes reach its temporary file (`.best.*.tmp.pt`): torch.save to the
        # path, or Path.write_bytes of a buffer; half of them are written, then the kill.
        import torch

        real_save, real_write_bytes = torch.save, Path.write_bytes

        def save(obj, f, *args, **kwargs):
            real_save(obj, f, *args, **kwargs)
            if isinstance(f, (str, os.PathLike)) and Path(f).name.startswith(".best.") and hit():
                os.truncate(f, os.path.getsize(f) // 2)
                _die()

        def write_bytes(self, data):
            if self.name.startswith(".best.") and hit():
                real_write_bytes(self, bytes(data)[: len(data) // 2])
                _die()
            return real_write_bytes(self, data)

        torch.save, Path.write_bytes = save, write_bytes
    elif point in ("checkpoint_unrenamed", "checkpoint_renamed", "outputs", "archive"):
        real_replace = os.replace
        outputs = ("training_metrics.json", "training_params.json", "training_curves.png")

        def replace(src, dst, *args, **kwargs):
            dst_path = Path(dst)
            # An atomic write renames its hidden temporary file; the archive moves files into archive/.
            atomic = Path(src).name.startswith(".")
            archiving = dst_path.parent.parent.name == "archive"
            if point == "checkpoint_unrenamed" and atomic and dst_path.name == "best.pt" and hit():
                _die()
            if point == "outputs" and atomic and dst_path.name in outputs and hit():
                os.truncate(src, os.path.getsize(src) // 2)
                _die()
            if point == "archive" and archiving and hit():
                _die()
            real_replace(src, dst, *args, **kwargs)
            if point == "checkpoint_renamed" and atomic and dst_path.name == "best.pt" and hit():
                _die()

        os.replace = replace
    else:
        raise SystemExit(f"unknown kill point {point!r}; known: {', '.join(KILL_POINTS)}")


def _install_stop(when: str, epoch: int) -> None:
    """Write the stop file (as `stlar-dl stop` does) at the first poll of phase `when` in epoch `epoch`."""
    from shared.stopfile import request_stop

    done = []

    def maybe_stop(phase, path):
        if not done and phase.name == when and phase.epoch == epoch:
            done.append(True)
            request_stop(path, "fault injection", None)

    _on_poll(maybe_stop)


def _child(req: dict) -> None:
    """Runs in the forked child: never returns."""
    code = 1
    try:
        os.setsid()  # its own process group: the test can reach its data-loader workers too
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        fd = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if req.get("err") else fd
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(err, 2)
        for opened in {fd, err, null}:
            os.close(opened)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)
        os.environ.update(req.get("env") or {})
        if req.get("umask") is not None:
            os.umask(req["umask"])
        os.chdir(req["cwd"])
        if req.get("fsize") is not None:
            import resource

            # Without this, exceeding the limit kills the process; ignored, writes fail with EFBIG.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize"], req["fsize"]))
        inject = req.get("inject") or {}
        if "kill" in inject:
            _install_kill(inject["kill"], int(inject.get("k", 1)))
        if "stop" in inject:
            _install_stop(inject["stop"], int(inject["epoch"]))
        from stlar_dl.cli import main

        try:
            main(req["argv"])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report anything on the child's stderr, then exit
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _send(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _warm_up() -> None:
    """Import what a training imports lazily (torch.optim pulls in torch._dynamo, sympy ...: 2 s).

    A forked child trains one epoch on a few synthetic segments and lists its modules; this process then
    imports them, so later children start in a blink. Importing runs no torch op, so forking stays safe.
    """
    import importlib
    import tempfile

    with tempfile.TemporaryDirectory(prefix="stlar-dl-zygote-") as tmp:
        listing = Path(tmp) / "modules.txt"
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                from trainer.demo_data import write_demo_data

                write_demo_data(Path(tmp) / "data", n=20, seed=0)
                sys.stdout = sys.stderr = open(os.devnull, "w")
                from stlar_dl.cli import main

                data = Path(tmp) / "data"
                try:
                    main(["train-dl", "--train", str(data / "manifest_train.csv"), "--val",
                          str(data / "manifest_val.csv"), "--out-dir", str(Path(tmp) / "run"), "--epochs", "1",
                          "--model-type", "1", "--num-workers", "0"])
                except SystemExit:
                    pass
                listing.write_text("\n".join(sorted(sys.modules)))
                code = 0
            finally:
                os._exit(code)
        os.waitpid(pid, 0)
        names = listing.read_text().split() if listing.exists() else []
    for name in names:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a module that cannot be imported here is simply not warmed
                pass


def serve() -> None:
    # The heavy imports, once. Nothing here runs a torch op, so forking afterwards is safe.
    import matplotlib

    matplotlib.use("Agg")
    import numpy  # noqa: F401
    import torch  # noqa: F401

    import shared.figure_png  # noqa: F401
    import stlar_dl.app  # noqa: F401 (the typer app; stlar_dl.cli imports it only when a command needs it)
    import stlar_dl.cli  # noqa: F401
    import trainer.checkpoint  # noqa: F401
    import trainer.data  # noqa: F401
    import trainer.loop  # noqa: F401
    import trainer.models  # noqa: F401
    import trainer.train_dl  # noqa: F401

    _warm_up()
    _send({"ready": True, "pid": os.getpid()})
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(req)
        _send({"pid": pid})
        _, status = os.waitpid(pid, 0)
        _send({"pid": pid, "exit": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    serve()
