"""The stop-file protocol: the viewer (or `stlar-dl stop`) asks, the trainer polls. Nothing else is shared.

`STOP` holds a JSON object `{"requested_at", "by", "run_id"}`. It appears atomically with its content: a
trainer that sees the name can read the whole request.

Anything under the name is a stop request: its existence is the request, its content only the details.
Content is read only from a regular file (a link to one is followed), at most MAX_STOP_BYTES, never
blocking: a FIFO, a device, a folder, or a link to one of them (such as /dev/zero) is a stop without details,
and `odd_stop` says what it is, so the trainer can say it once.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.atomic import current_umask
from shared.errors import RunDirError

MAX_STOP_BYTES = 64 * 1024  # a request is about 100 bytes; a bigger STOP is not ours: a stop without details


def who(tool: str) -> str:
    """A `by` value that tells people which tool on which host asked: `stlar-dl watch (ana@lab-3)`."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in containers without a passwd entry
        user = "unknown"
    return f"{tool} ({user}@{socket.gethostname()})"


def request_stop(
    stop_path: str | Path, by: str, run_id: str | None, clock: Callable[[], float] = time.time
) -> tuple[bool, dict[str, Any]]:
    """Create the stop file unless it exists; return (created, the request now on disk).

    Two requests at the same moment (two viewers, two `stlar-dl stop`) make one stop file: the content is
    written to a temporary file that is then hard-linked to `STOP`, which fails if `STOP` exists. Where the
    file system has no hard links, a rename is used (the last writer wins; still one stop).
    On a full disk the stop file is created empty (a stop without details). Raises RunDirError if the run
    directory cannot be written.
    """
    stop_path = Path(stop_path)
    request = {"requested_at": clock(), "by": by, "run_id": run_id}
    data = (json.dumps(request) + "\n").encode("utf-8")
    try:
        fd, tmp = tempfile.mkstemp(dir=stop_path.parent, prefix=".STOP.", suffix=".tmp")
    except OSError as exc:
        raise RunDirError(
            f"{stop_path.parent}: cannot write the stop file ({exc.strerror}); ask the run's owner, "
            f"or stop the trainer with Ctrl-C in its terminal"
        ) from exc
    try:
        try:
            with contextlib.suppress(OSError):  # readable like any new file: the trainer may be another user's
                os.chmod(tmp, 0o666 & ~current_umask())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            # No room for the content (a full disk): an empty stop file is still a stop (`read_stop` gives
            # {}), and a user whose disk is full needs the stop most.
            with contextlib.suppress(OSError):
                os.truncate(tmp, 0)
        try:
            os.link(tmp, stop_path)
        except FileExistsError:
            existing = read_stop(stop_path)  # {} for a stop without details: say no more than that
            return False, existing if existing is not None else request
        except OSError:
            try:
                os.replace(tmp, stop_path)
            except OSError as exc:
                raise RunDirError(
                    f"{stop_path}: cannot create the stop file ({exc.strerror}); stop the trainer with Ctrl-C "
                    "in its terminal"
                ) from exc
        return True, request
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def stop_requested(stop_path: str | Path) -> bool:
    """The trainer's poll between batches: one lstat (a dangling link named STOP is a stop request too)."""
    return os.path.lexists(stop_path)


def odd_stop(stop_path: str | Path) -> str | None:
    """What the entry named STOP is when it is not a regular file ("a FIFO", "a folder", ...), else None."""
    try:
        mode = os.stat(stop_path).st_mode
    except FileNotFoundError:
        return "a link to nothing" if os.path.lexists(stop_path) else None
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else
            "not a regular file")
    return f"{kind} (through a link)" if os.path.islink(stop_path) else kind


def read_stop(stop_path: str | Path) -> dict[str, Any] | None:
    """The request in the stop file; None if there is none; `{}` if it has no readable request (still a stop).

    Never blocks and never reads more than MAX_STOP_BYTES: only a regular file is opened for reading
    (non-blocking, so a FIFO swapped in after the check cannot hang us either).
    """
    try:
        if not stat.S_ISREG(os.stat(stop_path).st_mode):
            return {}  # a FIFO, a device, a folder: not opened at all (opening a device can have effects)
        fd = os.open(stop_path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return {} if os.path.lexists(stop_path) else None  # a dangling link is a stop without details
    except OSError:
        return {}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {}  # swapped for something else between our stat and our open
        raw = os.read(fd, MAX_STOP_BYTES + 1)
    except OSError:
        return {}
    finally:
        os.close(fd)
    if len(raw) > MAX_STOP_BYTES:
        return {}
    try:
        obj = json.loads(raw)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def clear_stop(stop_path: str | Path) -> bool:
    """Remove a stop file; True if there was one."""
    try:
        os.unlink(stop_path)
    except FileNotFoundError:
        return False
    return True
