"""A run's row: the verdict in watch's words, epochs, best values, duration; only the log's ends are read."""

from __future__ import annotations

import os

import pytest

from fake_run import Epochs, start_fields, write_run
from shared.history import History
from shared.records import END, EPOCH, PROGRESS, START
from viewer.runsummary import best_point, summarize, summarize_dir

HOST = "this-host"
T0 = 1_700_000_000.0


def records(n_epochs, end=None, *, host=HOST, pid=4242, planned=None, auroc=None, t0=T0):
    planned = planned or max(n_epochs, 1)
    book = Epochs(planned)
    out = [{"type": START, "run_id": "r1", "seq": 0, "time": t0, **start_fields(planned, pid=pid, host=host)}]
    for e in range(1, n_epochs + 1):
        fields = book.fields(e, 0.7 / e, 0.75 / e + 0.05 * e, seconds=10.0)  # best val at epoch 4
        if auroc is not None:
            fields["metrics"] = {"val_auroc": auroc[e - 1]}
        out.append({"type": EPOCH, "run_id": "r1", "seq": e, "time": t0 + 10 * e, **fields})
    if end is not None:
        out.append({"type": END, "run_id": "r1", "seq": n_epochs + 1, "time": t0 + 10 * n_epochs + 1,
                    **book.end_fields(end, n_epochs)})
    return out


def summary(recs, quiet=5.0, archived=False, alive=lambda pid, t: False, path="models"):
    """`quiet`: seconds since the log last grew (the verdict never reads the records' times)."""
    history = History()
    history.extend(recs)
    from pathlib import Path

    return summarize(Path(path), history, quiet, archived=archived, hostname=HOST, alive=alive)


@pytest.mark.parametrize("end, word", [
    ("completed", "finished"), ("early_stopped", "early stopped"), ("stopped", "stopped"),
    ("interrupted", "stopped"), ("diverged", "diverged"), ("failed", "crashed"),
])
def test_an_ended_run_is_named_by_its_end_reason(end, word):
    assert summary(records(4, end)).status == word


def test_a_run_whose_trainer_runs_is_live():
    s = summary(records(3, planned=10), alive=lambda pid, t: pid == 4242)
    assert (s.status, s.epochs_run, s.planned) == ("live", 3, 10)
    assert s.status_text.startswith("live — epoch 4/10")  # watch's own status line


def test_a_run_whose_trainer_is_gone_without_an_end_record_is_crashed():
    # Dead for sure: the pid gone on this host and the log quiet beyond the stall time.
    s = summary(records(3, planned=10), alive=lambda pid, t: False, quiet=600)
    assert s.status == "crashed"
    assert "4242" in s.status_text


def test_a_growing_log_is_live_whatever_the_pid_check_says():
    s = summary(records(3, planned=10), alive=lambda pid, t: False, quiet=5)  # a container's pid
    assert s.status == "live"


def test_a_silent_run_on_another_host_is_stalled():
    s = summary(records(3, planned=10, host="elsewhere"), quiet=3600)
    assert s.status == "stalled"


def test_a_stop_request_reads_stopping():
    recs = records(3, planned=10)
    recs.append({"type": "stop_requested", "run_id": "r1", "seq": 4, "time": T0 + 31, "epoch": 4, "stop": None})
    assert summary(recs, alive=lambda pid, t: True).status == "stopping"


def test_an_archived_run_without_an_end_record_is_crashed_even_if_its_pid_is_taken_again():
    s = summary(records(3, planned=10), archived=True, alive=lambda pid, t: True)
    assert s.status == "crashed"


def test_an_empty_log_is_waiting():
    s = summary([])
    assert (s.status, s.run_id, s.started, s.epochs_run) == ("waiting", None, None, 0)


def test_best_values_and_duration():
    s = summary(records(6, "completed", auroc=[0.6, 0.7, 0.9, 0.8, 0.85, 0.88]))
    assert s.best_epoch == 4 and s.best_val_loss == pytest.approx(0.75 / 4 + 0.2)
    assert s.best_auroc == 0.9 and s.best_auroc_exact
    assert s.duration == pytest.approx(61.0)
    assert s.started == T0


def test_best_point_of_a_metric_is_the_highest_and_of_a_loss_the_trainers_best():
    history = History()
    history.extend(records(5, auroc=[0.6, 0.9, float("nan"), 0.7, 0.8]))
    assert best_point(history, "val_auroc") == (2, 0.9)
    assert best_point(history, "val_loss") == (history.best_epoch, history.val_loss[history.best_epoch - 1])


def test_a_long_log_is_summarized_from_its_ends_with_the_auroc_as_a_bound(tmp_path):
    end = write_run(tmp_path / "training_log.jsonl", 3000, end="early_stopped")[-1]
    s = summarize_dir(tmp_path)
    assert (s.status, s.epochs_run, s.planned) == ("early stopped", 3000, 3000)
    assert (s.best_epoch, s.best_val_loss) == (end["best_epoch"], end["best_val_loss"])  # the end record's
    assert s.best_auroc == 0.6 and not s.best_auroc_exact


def test_an_unreadable_log_is_a_row_that_says_so(tmp_path):
    (tmp_path / "training_log.jsonl").mkdir()  # a folder where the log should be
    s = summarize_dir(tmp_path)
    assert s.status == "unreadable"
    assert "training_log.jsonl" in s.status_text


def test_a_fifo_under_the_log_name_is_unreadable_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "training_log.jsonl")
    s = summarize_dir(tmp_path)
    assert s.status == "unreadable" and "not a regular file" in s.status_text
