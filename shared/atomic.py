"""Atomic file replacement: readers see the old file or the whole new one, never a half-written one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable. Best effort: Windows cannot open a directory for fsync."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds, fsync it and rename it over `path`.

    The temporary name keeps the real suffix (`.best.x1y2.tmp.pt`), so writers that infer the format from
    the extension (matplotlib's savefig) still work. On any error the temporary file is removed and
    `path` is untouched.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    tmp = Path(tmp_name)
    try:
        # mkstemp makes the file 0600; the result should be readable as any new file is (0666 less the umask),
        # or a colleague could not read a run's best.pt or metrics on a shared machine.
        os.close(fd)
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~current_umask())
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def current_umask() -> int:
    """The process's umask. Reading it means setting it (to 022 for a few microseconds): that only matters
    to another thread creating a file at that very moment."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | Path, obj: Any) -> None:
    """Write `obj` as indented strict JSON (non-finite numbers become null)."""
    from shared.records import finite_or_none, utf8

    text = json.dumps(finite_or_none(obj), indent=2, ensure_ascii=False, allow_nan=False, default=str)
    write_bytes(path, utf8(text + "\n"))
