"""The trainer's stop-file poll: stops for its own run or an anonymous request, not for another run."""

from __future__ import annotations

from shared.stopfile import request_stop
from trainer.stop_poll import StopPoll


def test_no_stop_file(tmp_path):
    poll = StopPoll(tmp_path / "STOP", "run1")
    assert not poll.poll() and poll.read() is None


def test_a_request_for_this_run_stops_and_is_kept(tmp_path):
    poll = StopPoll(tmp_path / "STOP", "run1")
    request_stop(tmp_path / "STOP", by="stlar-dl watch (a@b)", run_id="run1")
    assert poll.poll()
    assert poll.read()["by"] == "stlar-dl watch (a@b)"
    (tmp_path / "STOP").unlink()
    assert poll.poll()  # once seen, the request stands


def test_an_anonymous_or_hand_made_request_stops(tmp_path):
    (tmp_path / "STOP").write_text("")  # touch STOP
    poll = StopPoll(tmp_path / "STOP", "run1")
    assert poll.poll() and poll.read() == {}


def test_a_request_for_another_run_is_removed_and_reported(tmp_path):
    said = []
    poll = StopPoll(tmp_path / "STOP", "run2", on_foreign=said.append)
    request_stop(tmp_path / "STOP", by="stlar-dl watch (a@b)", run_id="run1")
    assert not poll.poll()
    assert not (tmp_path / "STOP").exists()
    assert said == ["Ignored and removed a stop file meant for run run1 (by stlar-dl watch (a@b)); this run is run2"]
