"""The command line as a user meets it: help without arguments, -h, one metavar style, exit codes in every
help, the log's path taken for its folder, --patience 0, replay's --speed with --png, a closed pipe, and
training_params.json's absolute paths."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from fake_run import write_run
from procs import STLAR, run
from shared.diagnostics import Settings, check_early_stop
from shared.early_stopping import EarlyStopping
from shared.history import history_of
from shared.rundir import RunDir
from stlar_dl.app import app
from stlar_dl.app import command as command_of_app
from stlar_dl.cli import main
from trainer.outputs import params_dict
from viewer.paths import run_dir_arg

COMMANDS = sorted(c.name or c.callback.__name__.replace("_command", "").replace("_", "-")
                  for c in app.registered_commands)


def call(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_stlar_dl_alone_prints_the_help_and_exits_0(capsys):
    code, out, err = call(capsys)
    assert code == 0 and err == ""
    assert "Usage: stlar-dl" in out and "train-dl" in out and "watch" in out


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_help_answers_h_in_one_style_with_its_exit_codes(capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "200")  # one line per option: the checks below read whole lines
    args = [command] if command else []
    code, short, _ = call(capsys, *args, "-h")
    assert code == 0
    _, long, _ = call(capsys, *args, "--help")
    assert short == long
    assert not re.search(r"<\w+>", short), short  # no <bool>, <int>, <path>
    assert "[[" not in short
    # The usage line as click writes it: `DIR` required, `[DIR]` optional, `DIR...` repeated, UPPERCASE words
    # (`|` between alternatives); typer 0.29 would write `{DIR}`.
    usage = next(line for line in short.splitlines() if "Usage:" in line).split("Usage:")[1].split()
    assert usage[:len(args) + 1] == ["stlar-dl", *args]
    for word in usage[len(args) + 1:]:
        assert re.fullmatch(r"\[?[A-Z][A-Z_]*(\|[A-Za-z_.]+)*\]?(\.\.\.)?", word), usage
    # Every word of the description is shown: none taken for markup (`stlar-dl[tensorboard]`).
    group = command_of_app()
    described = (group.commands[command] if command else group).help
    shown = " ".join(short.split())
    for word in described.replace("\\[", "[").split():
        assert word in shown, (word, short)
    assert "Exit status:" in short or "Exit codes:" in short, short
    for line in short.splitlines():
        assert line.count("default") <= 1, line  # no default said twice


def test_the_logs_path_means_its_folder(tmp_path):
    rd = RunDir(tmp_path)
    write_run(rd.log, 2)
    assert run_dir_arg(rd.log, must_exist=True) == tmp_path
    assert run_dir_arg(tmp_path / "not-yet" / "training_log.jsonl", must_exist=False) == tmp_path / "not-yet"
    done = run(STLAR + ["replay", str(rd.log), "--no-window"])
    assert done.returncode == 0, done.stderr
    assert "Training complete!" in done.stdout


def test_patience_0_turns_early_stopping_off():
    policy = EarlyStopping(patience=0)
    stops = [policy.update(epoch, 1.0)[1] for epoch in range(1, 50)]  # never a new best after epoch 1
    assert not any(stops)
    assert check_early_stop([1.0] * 50, Settings(patience=0)) is None
    assert check_early_stop([1.0] * 3, Settings(patience=2)) is not None


def test_replay_refuses_speed_with_png(tmp_path, capsys):
    write_run(RunDir(tmp_path).log, 2)
    code, out, err = call(capsys, "replay", str(tmp_path), "--png", str(tmp_path / "x.png"), "--speed", "2")
    assert code == 2 and out == ""
    assert err.startswith("Error: --speed 2 with --png: a PNG shows the whole run at once") and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_replay_into_a_pipe_that_closes_early_ends_quietly(tmp_path):
    write_run(RunDir(tmp_path).log, 3000)  # far more output than a pipe holds
    proc = subprocess.Popen(STLAR + ["replay", str(tmp_path), "--no-window"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # what `| head -1` reads before it exits
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert first.startswith(b"(catching up on 3000 epochs") and err == "", err


def test_training_params_record_absolute_paths_and_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records = write_run(RunDir(tmp_path).log, 2, train="data/train.csv", val="data/val.csv", out_dir="models")
    params = params_dict(history_of(records), "completed", "")
    assert params["working_dir"] == os.getcwd()
    assert params["train"] == str(tmp_path / "data" / "train.csv")
    assert params["val"] == str(tmp_path / "data" / "val.csv")
    assert params["out_dir"] == str(tmp_path / "models")
