"""`stop`, `runs` and `--version` without typer: the quick path takes exactly what the typer commands declare,
parses it as typer does, leaves everything else to typer, and says the same things with the same exit codes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from fake_run import write_run
from procs import STLAR, run
from shared.rundir import RunDir
from shared.version import VERSION_LINE
from stlar_dl.app import command
from stlar_dl.cli import QUICK, quick_command


def _typer_command(name: str):
    return command().commands[name]


@pytest.mark.parametrize("name", sorted(QUICK))
def test_the_quick_path_takes_exactly_the_parameters_the_typer_command_declares(name):
    quick, params = QUICK[name], [p for p in _typer_command(name).params if p.name != "help"]
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option"]
    assert [(p.name, p.nargs) for p in arguments] == [(quick.argument, -1 if quick.many else 1)]
    flags = [p for p in options if p.is_flag]
    assert {opt: p.name for p in flags for opt in p.opts + p.secondary_opts} == quick.flags
    assert all(p.default is False for p in flags)
    valued = [p for p in options if not p.is_flag and p.name not in quick.others]
    assert {opt: p.name for p in valued for opt in p.opts} == quick.options
    assert all(p.default is None and p.nargs == 1 for p in valued)
    assert all(p.default is None for p in options if p.name in quick.others)


@pytest.mark.parametrize("args", [
    ["stop"], ["stop", "run"], ["stop", "my run/models"],
    ["runs"], ["runs", "a"], ["runs", "a", "b"], ["runs", "--json"], ["runs", "a", "--json", "b"],
    ["runs", "--json", "--json", "a"],
    ["replay"], ["replay", "run"], ["replay", "run", "--png", "a.png"], ["replay", "--png", "a b.png", "run"],
    ["replay", "--no-window", "run", "--png", "a.png"],
])
def test_a_quick_form_parses_as_typer_parses_it(args):
    call = quick_command(args)
    assert call is not None, args
    (values,) = call.args  # the keywords the command's function gets
    assert values == _typer_command(args[0]).make_context(args[0], args[1:]).params


@pytest.mark.parametrize("args", [
    [], ["-h"], ["--help"], ["--version", "stop"], ["stop", "--version"], ["watch", "run"],
    ["stop", "-h"], ["stop", "--help"], ["stop", "--", "run"], ["stop", "a", "b"], ["stop", ""], ["stop", "-x"],
    ["stop", "--json"], ["runs", "-h"], ["runs", "--js"], ["runs", "--json=1"], ["runs", "--", "-odd"],
    ["replay", "--png"], ["replay", "--png", "-x"], ["replay", "--png", ""], ["replay", "--png", "a", "--png", "b"],
    ["replay", "--png=a.png"], ["replay", "--speed", "2"], ["replay", "run", "-h"],
])
def test_everything_else_goes_to_typer(args):
    assert quick_command(args) is None


def _same_story(quick: list[str], typer: list[str], cwd: Path, between=lambda: None) -> tuple[int, str, str]:
    """Run both forms (`between` them, put things back); assert the same exit code, stdout and stderr (a
    request's age aside); return one."""
    first = run(STLAR + quick, cwd=cwd)
    between()
    second = run(STLAR + typer, cwd=cwd)

    def said(done):  # "... requested by X 0 s ago" can become "1 s ago" between the two
        return done.returncode, re.sub(r"\d+ s ago", "N s ago", done.stdout), done.stderr

    assert said(first) == said(second)
    return first.returncode, first.stdout, first.stderr


def test_the_quick_and_the_typer_stop_say_the_same(tmp_path):
    live, ended = RunDir(tmp_path / "live"), RunDir(tmp_path / "ended")
    for rd in (live, ended):
        rd.path.mkdir()
    write_run(live.log, 2, end=None, planned=10, pid=os.getpid())  # this process: the trainer is alive
    write_run(ended.log, 3)

    code, out, _ = _same_story(["stop", str(live.path)], ["stop", "--", str(live.path)], tmp_path,
                               between=live.stop.unlink)
    assert code == 0 and out.startswith("Stop requested for run ") and live.stop.is_file()
    code, out, _ = _same_story(["stop", "live"], ["stop", "--", "live"], tmp_path)  # relative to the cwd
    assert code == 0 and out.startswith("A stop was already requested")
    code, out, err = _same_story(["stop", str(ended.path)], ["stop", "--", str(ended.path)], tmp_path)
    assert (code, out) == (2, "") and err.startswith("Error: RUN_DIR ") and err.count("\n") == 1
    code, out, err = _same_story(["stop"], ["stop", "--"], tmp_path)  # the default run dir, ./models: none
    assert (code, out) == (2, "") and "models: no such folder" in err


def test_the_quick_and_the_typer_runs_say_the_same(tmp_path):
    for where, end in (("a", "completed"), ("b/c", None)):
        (tmp_path / where).mkdir(parents=True)
        write_run(RunDir(tmp_path / where).log, 3, end=end, planned=5)
    code, out, _ = _same_story(["runs"], ["runs", "--"], tmp_path)
    assert code == 0 and "live" in out and out.endswith("2 runs; every run has the same options\n")
    code, out, _ = _same_story(["runs", "a", "--json"], ["runs", "--json", "--", "a"], tmp_path)
    assert code == 0 and out.startswith("[")
    code, out, err = _same_story(["runs", "nowhere"], ["runs", "--", "nowhere"], tmp_path)
    assert (code, out) == (2, "") and err.startswith("Error: nowhere: no such folder")


def test_the_quick_and_the_typer_replay_say_the_same(tmp_path):
    (tmp_path / "a").mkdir()
    write_run(RunDir(tmp_path / "a").log, 3)
    code, out, _ = _same_story(["replay", "a", "--png", "a.png"], ["replay", "--png", "a.png", "--", "a"], tmp_path)
    assert code == 0 and out.startswith("Wrote a.png (3 epochs; ") and (tmp_path / "a.png").is_file()
    code, out, _ = _same_story(["replay", "a", "--no-window"], ["replay", "--no-window", "--", "a"], tmp_path)
    assert code == 0 and "Epoch 3/3" in out
    code, out, err = _same_story(["replay", "nowhere", "--png", "x.png"], ["replay", "--png", "x.png", "--",
                                                                          "nowhere"], tmp_path)
    assert (code, out) == (2, "") and err.startswith("Error: ") and err.count("\n") == 1


def test_version_says_the_same_either_way(tmp_path):
    quick = run(STLAR + ["--version"], cwd=tmp_path)
    assert (quick.returncode, quick.stdout, quick.stderr) == (0, VERSION_LINE + "\n", "")
    typer_form = run(STLAR + ["--version", "stop"], cwd=tmp_path)  # eager: typer prints it and exits
    assert (typer_form.returncode, typer_form.stdout, typer_form.stderr) == (0, VERSION_LINE + "\n", "")
