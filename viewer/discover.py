"""Finding runs: every folder under the given ones that holds a `training_log.jsonl`, archived runs included.

Pure apart from the directory walk, which is a parameter (`walk`), so tests can also drive it with a tree
that raises. A folder that cannot be listed is reported once through `on_warning` and skipped: one
colleague's private folder must not hide everyone else's runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from shared.errors import InputError
from shared.rundir import ARCHIVE_NAME, LOG_NAME

Walk = Callable[[Path, Callable[[OSError], None]], Iterable[tuple[str, list[str], list[str]]]]

# Folders never searched below a given one: tool caches and virtual environments hold thousands of folders
# and never a run (a run dir passed by name is always searched, hidden or not).
SKIPPED_NAMES = frozenset({"__pycache__", "node_modules", "site-packages"})


def _os_walk(root: Path, on_error: Callable[[OSError], None]) -> Iterator[tuple[str, list[str], list[str]]]:
    # Symbolic links to folders are not followed: a link back up the tree would never end.
    return os.walk(root, onerror=on_error, followlinks=False)


def root_arg(path: Path) -> Path:
    """A DIR argument as a folder to search: a log file given by name stands for its folder."""
    if path.is_file() and path.name == LOG_NAME:
        return path.parent
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file, not a folder; pass a run directory or a folder that holds runs")
    if not path.exists():
        raise InputError(f"{path}: no such folder; pass a run directory (train-dl --out-dir) or a folder above it")
    return path


def is_archived(run_dir: Path) -> bool:
    """True for an earlier run the trainer moved aside: RUN_DIR/archive/<start time>_<run id>/."""
    return run_dir.parent.name == ARCHIVE_NAME


def find_runs(
    roots: Sequence[Path],
    *,
    on_warning: Callable[[str], None] | None = None,
    walk: Walk = _os_walk,
) -> list[Path]:
    """The run directories under `roots` (each root itself included), each once, in walk order.

    Hidden folders (a leading dot) and SKIPPED_NAMES below a root are not searched. A path reached from
    two roots (a folder and its parent both given) is listed once.
    """
    found: dict[str, Path] = {}  # absolute path -> the path as the walk gave it (relative stays relative)
    for root in roots:
        def on_error(exc: OSError) -> None:
            if on_warning is not None:
                where = exc.filename or root
                on_warning(f"{where}: cannot be searched ({exc.strerror or exc}); its runs are not listed")

        for folder, dirs, files in walk(root, on_error):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_NAMES)
            if LOG_NAME in files:
                found.setdefault(os.path.abspath(folder), Path(folder))
    return list(found.values())
