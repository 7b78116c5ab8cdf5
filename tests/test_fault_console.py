"""Fault: the trainer's console goes away mid-run: stdout is a file on a disk that fills up (`> train.log`,
a scheduler's output file in a full home directory) or a pipe whose reader dies (`| tee` killed, ssh gone).

The run must go on: a print that fails is not a reason to lose hours of training. The trainer says once on
stderr that the console is gone, trains to the end, writes its log and outputs, and exits as it would have.
"""

from __future__ import annotations

import io
import os
import select
from pathlib import Path

import pytest

from faults import (  # noqa: F401 - fixtures
    TIMEOUT,
    Row,
    audit_run_dir,
    data60,
    n,
    rng,
    tiny_disk,
    train_argv,
    zygote,
)
from trainer.console import Printer

HERE = "tests/test_fault_console.py"
GONE = "stlar-dl train-dl: cannot write to the console any more"


def check_completed(run_dir: Path, child, epochs: int, why: str) -> None:
    assert child.exit == 0, child.output
    audit = audit_run_dir(run_dir)
    assert not audit.problems, audit.problems
    end = [r for r in audit.records if r["type"] == "end"]
    assert end and end[0]["reason"] == "completed" and end[0]["epochs_run"] == epochs, end
    said = [line for line in child.stderr.splitlines() if line.strip()]
    assert said == [f"{GONE} ({why}); training goes on (follow it with stlar-dl watch)"], child.stderr


def test_stdout_on_a_full_disk_does_not_end_the_run(zygote, data60, tmp_path):
    row = Row("Console file on a full disk", "the trainer's stdout a file on a full tmpfs (`> train.log`); "
              "the run dir on another disk", "{runs} runs: {completed} trained to the end and exited 0, saying "
              "once on stderr that the console is gone", times_key="runs", command=f"pytest {HERE} -k full")
    with tiny_disk(tmp_path / "disk", 64 << 10) as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here (needs root); the pipe test covers a dead console")
        for i, leave in enumerate([0, 300, 1500][: n(3, 3)]):
            (disk.path / "console.txt").unlink(missing_ok=True)
            disk.fill(leave)
            run_dir = tmp_path / f"run{i}"
            child = zygote.run(train_argv(data60, run_dir, "--epochs", "5"), tmp_path, disk.path / "console.txt",
                               err=tmp_path / f"err{i}")
            check_completed(run_dir, child, 5, "No space left on device")
            row.add("runs")
            row.add("completed")
    row.save()


def test_stdout_pipe_closed_mid_run_does_not_end_the_run(zygote, data60, tmp_path):
    """The reader of the trainer's stdout pipe goes away after a seeded number of lines."""
    r = rng("console pipe")
    runs = n(2, 10)
    row = Row("Console pipe closed", "the trainer's stdout a pipe whose reader exits after a seeded number of "
              "lines (`| tee` killed)", "{runs} runs: {completed} trained to the end and exited 0, saying once "
              "on stderr that the console is gone", times_key="runs", command=f"pytest {HERE} -k pipe")
    for i in range(runs):
        fifo = tmp_path / f"stdout{i}"
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open first, so the trainer's open does not block
        run_dir = tmp_path / f"run{i}"
        epochs = 8
        child = zygote.start(train_argv(data60, run_dir, "--epochs", str(epochs), "--patience", "1000"),
                             tmp_path, fifo, err=tmp_path / f"err{i}")
        try:
            lines, buf = r.randint(1, 12), b""
            while buf.count(b"\n") < lines:
                ready, _, _ = select.select([reader], [], [], TIMEOUT)
                assert ready, f"no output from the trainer within {TIMEOUT} s"
                chunk = os.read(reader, 4096)
                assert chunk, f"the trainer closed its stdout early: {buf!r}"
                buf += chunk
        finally:
            os.close(reader)  # the reader dies: the trainer's next print gets EPIPE
        zygote.wait(child)
        check_completed(run_dir, child, epochs, "Broken pipe")
        row.add("runs")
        row.add("completed")
    row.save()


class Broken(io.StringIO):
    def write(self, text):
        raise OSError(5, "Input/output error")


@pytest.mark.parametrize("tty", [False, True])
def test_a_printer_whose_stream_fails_stops_printing_and_never_raises(tty, capsys):
    printer = Printer(Broken(), tty=tty)
    printer.line("Epoch 1/3 | Train: 0.6234")
    printer.epoch_start(2, 3, 4)
    printer.batch(1, 4, 0.5)
    printer.epoch_end()
    printer.line("again")
    assert printer.lost
    assert capsys.readouterr().err.count(GONE) == 1
