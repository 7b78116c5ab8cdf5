"""Finding runs under folders: nested, archived, log-less folders, and folders the user cannot read."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from fake_run import write_run
from faults import TIMEOUT, nobody_env, nobody_home, nobody_python, public_dir, stlar_as_nobody
from shared.errors import InputError
from viewer.discover import find_runs, is_archived, root_arg
from viewer.runs import list_runs


def run_at(folder: Path, epochs: int = 3, **options) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_run(folder / "training_log.jsonl", epochs, **options)
    return folder


@pytest.fixture
def tree(tmp_path):
    """sweep/ holding runs at several depths, an archived run, and folders without a log."""
    root = tmp_path / "sweep"
    runs = [
        run_at(root / "lr1e-3"),
        run_at(root / "lr1e-3" / "archive" / "20261203-101500_aaaaaaaaaaaa"),
        run_at(root / "group" / "deeper" / "lr1e-4"),
    ]
    (root / "empty").mkdir()
    (root / "data" / "segments").mkdir(parents=True)
    (root / "data" / "manifest_train.csv").write_text("segment_path,label\n")
    (root / "notes.txt").write_text("not a run")
    run_at(root / ".venv" / "hidden")  # hidden folders are not searched below a root
    return root, runs


def test_finds_nested_and_archived_runs_and_nothing_else(tree):
    root, runs = tree
    assert sorted(find_runs([root])) == sorted(runs)
    assert [is_archived(p) for p in runs] == [False, True, False]


def test_a_run_directory_itself_and_a_folder_above_it_list_it_once(tree):
    root, runs = tree
    assert sorted(find_runs([runs[0], root, runs[0]])) == sorted(runs)


def test_a_hidden_folder_given_by_name_is_searched(tree):
    root, _ = tree
    assert find_runs([root / ".venv" / "hidden"]) == [root / ".venv" / "hidden"]


def test_a_log_given_by_name_stands_for_its_folder(tree):
    _, runs = tree
    assert root_arg(runs[0] / "training_log.jsonl") == runs[0]


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such folder"),
    (lambda p: p.write_text("x"), "is a file, not a folder"),
])
def test_a_bad_dir_argument_is_one_line_naming_it(tmp_path, make, message):
    path = tmp_path / "where"
    make(path)
    with pytest.raises(InputError, match=message):
        root_arg(path)


def test_a_folder_that_cannot_be_listed_is_reported_and_skipped(tree):
    root, runs = tree
    warnings = []

    def walk(top, on_error):
        for item in os.walk(top):
            if item[0].endswith("group"):
                on_error(PermissionError(13, "Permission denied", item[0]))
                item[1].clear()
                continue
            yield item

    found = find_runs([root], on_warning=warnings.append, walk=walk)
    assert sorted(found) == sorted(runs[:2])
    assert len(warnings) == 1 and "group: cannot be searched (Permission denied)" in warnings[0]


def test_runs_are_listed_oldest_first(tmp_path):
    clock = iter(range(1000, 2000))
    newest = run_at(tmp_path / "a", clock=lambda: 1_800_000_000.0 + next(clock))
    oldest = run_at(tmp_path / "b", clock=lambda: 1_700_000_000.0 + next(clock))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "training_log.jsonl").write_text("")  # nothing logged yet: listed last
    assert [s.path for s in list_runs([tmp_path])] == [oldest, newest, tmp_path / "c"]


# ---- as another user: folders and logs they may not read -----------------------------------------------------
@pytest.fixture(scope="module")
def nobody():
    found = nobody_python()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def test_another_user_lists_what_they_may_read_and_hears_about_the_rest(nobody):
    with public_dir() as base:
        home = nobody_home(base)
        shared = base / "shared"
        open_run = run_at(shared / "alice" / "lr1e-3", lr=1e-3)
        run_at(shared / "bob" / "lr1e-4", lr=1e-4)
        private_log = run_at(shared / "carol" / "lr3e-4", lr=3e-4) / "training_log.jsonl"
        for folder in [shared, *shared.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)
            else:
                folder.chmod(0o644)
        (shared / "bob").chmod(0o700)  # root's: the other user cannot enter it
        private_log.chmod(0o600)  # the folder is open, the log is not
        done = subprocess.run(stlar_as_nobody("runs", shared, "--json"), env=nobody_env(home), cwd=base,
                              capture_output=True, text=True, encoding="utf-8", timeout=TIMEOUT * 2)
    assert done.returncode == 0, done.stderr
    rows = {Path(r["path"]).name: r for r in json.loads(done.stdout)}
    assert set(rows) == {"lr1e-3", "lr3e-4"}
    assert rows["lr1e-3"]["status"] == "finished" and Path(rows["lr1e-3"]["path"]) == open_run
    assert rows["lr3e-4"]["status"] == "unreadable"
    assert "Permission denied" in rows["lr3e-4"]["status_text"]
    assert "bob: cannot be searched (Permission denied); its runs are not listed" in done.stderr
