"""The stop-file protocol: atomic creation, one stop for racing requests, tolerant reading."""

import json
import os
import threading

import pytest

from shared.errors import RunDirError
from shared.stopfile import clear_stop, read_stop, request_stop, stop_requested, who


def test_request_writes_the_json_request(tmp_path):
    stop = tmp_path / "STOP"
    assert not stop_requested(stop)
    created, request = request_stop(stop, by="stlar-dl stop (ana@lab)", run_id="abc", clock=lambda: 12.5)
    assert created and stop_requested(stop)
    assert json.loads(stop.read_text()) == {"requested_at": 12.5, "by": "stlar-dl stop (ana@lab)", "run_id": "abc"}
    assert read_stop(stop) == request
    assert [p.name for p in tmp_path.iterdir()] == ["STOP"], "no temporary file is left behind"


def test_second_request_keeps_the_first(tmp_path):
    stop = tmp_path / "STOP"
    request_stop(stop, by="first", run_id="r", clock=lambda: 1.0)
    created, request = request_stop(stop, by="second", run_id="r", clock=lambda: 2.0)
    assert not created and request["by"] == "first"


def test_racing_requests_make_one_stop(tmp_path):
    stop = tmp_path / "STOP"
    barrier = threading.Barrier(8)
    results = []

    def click(i):
        barrier.wait()
        results.append(request_stop(stop, by=f"viewer {i}", run_id="r")[0])

    threads = [threading.Thread(target=click, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert read_stop(stop)["by"].startswith("viewer ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["STOP"]


def test_unreadable_content_is_still_a_stop(tmp_path):
    stop = tmp_path / "STOP"
    stop.write_bytes(b"\x00garbage")
    assert stop_requested(stop) and read_stop(stop) == {}
    assert read_stop(tmp_path / "nothing") is None


def test_clear(tmp_path):
    stop = tmp_path / "STOP"
    request_stop(stop, by="x", run_id=None)
    assert clear_stop(stop) and not clear_stop(stop) and not stop.exists()


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_dir_is_a_typed_error(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(RunDirError, match="cannot write the stop file"):
            request_stop(tmp_path / "STOP", by="x", run_id=None)
    finally:
        tmp_path.chmod(0o755)


def test_who_names_tool_user_and_host():
    assert who("stlar-dl watch").startswith("stlar-dl watch (") and "@" in who("stlar-dl watch")
