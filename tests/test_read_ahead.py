"""Work handed to a forked child (replay --png reads its log there): the same result or error as doing it here,
and done here after all when the child cannot deliver."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from shared.errors import InputError
from viewer.read_ahead import ReadAhead

PARENT = os.getpid()
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child is forked on Linux only")


def where() -> dict:
    return {"pid": os.getpid(), "values": [0.5, float("inf"), None]}


@linux
def test_the_work_runs_in_a_child_and_its_result_comes_back():
    result = ReadAhead(where).result()
    assert result["pid"] != PARENT and result["values"] == [0.5, float("inf"), None]


@linux
def test_a_process_running_other_threads_does_the_work_itself():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert ReadAhead(where).result()["pid"] == PARENT
    finally:
        stop.set()
        other.join()


def test_an_error_of_the_work_is_raised_here_with_its_words():
    def refuse():
        raise InputError("run: no valid records to replay")

    with pytest.raises(InputError, match="^run: no valid records to replay$"):
        ReadAhead(refuse).result()


@linux
def test_a_child_that_dies_leaves_the_work_to_this_process():
    def die_in_the_child():
        if os.getpid() != PARENT:
            os.kill(os.getpid(), signal.SIGKILL)
        return where()

    assert ReadAhead(die_in_the_child).result()["pid"] == PARENT


@linux
def test_a_result_that_cannot_cross_is_worked_out_here():
    def unpicklable():
        return {"pid": os.getpid(), "lock": threading.Lock()}

    assert ReadAhead(unpicklable).result()["pid"] == PARENT


@linux
def test_a_large_result_crosses_whole():
    columns = ReadAhead(lambda: [float(i) for i in range(300_000)]).result()
    assert len(columns) == 300_000 and columns[-1] == 299_999.0


def test_the_png_from_the_read_ahead_columns_is_the_png_from_the_history(tmp_path):
    from matplotlib.image import imread

    from fake_run import write_run
    from shared.figure_png import save_png
    from shared.rundir import RunDir
    from viewer.replay import load_plot

    write_run(RunDir(tmp_path).log, [(1.0 / n, 1.2 / n) for n in range(1, 3000)], planned=4000)
    history, columns = ReadAhead(lambda: load_plot(tmp_path)).result()
    save_png(history, tmp_path / "ahead.png", "t", columns=columns)
    save_png(history, tmp_path / "here.png", "t")
    assert (imread(tmp_path / "ahead.png") == imread(tmp_path / "here.png")).all()
