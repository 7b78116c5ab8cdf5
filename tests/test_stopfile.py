"""The stop-file protocol: atomic creation, one stop for racing requests, tolerant reading."""

import json
import os
import threading

import pytest

from shared.errors import RunDirError
from shared.stopfile import clear_stop, odd_stop, read_stop, request_stop, stop_requested, who


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


def _fifo(path):
    os.mkfifo(path)


def _folder(path):
    path.mkdir()


def _zero_link(path):
    os.symlink("/dev/zero", path)


def _dangling(path):
    os.symlink(path.with_name("nowhere"), path)


def _huge(path):
    path.write_bytes(b" " * (2 << 20) + b"{}")


def _in_time(fn, *args, timeout=10.0):
    """fn(*args) in a thread; fails (instead of hanging the suite) if it blocks."""
    out = []
    worker = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"{fn.__name__} blocked"
    return out[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file kinds")
@pytest.mark.parametrize("make, kind", [
    (_fifo, "a FIFO"), (_folder, "a folder"), (_zero_link, "a device (through a link)"),
    (_dangling, "a link to nothing"), (_huge, None),
])
def test_a_hostile_stop_is_a_stop_without_details_never_a_hang(tmp_path, make, kind):
    stop = tmp_path / "STOP"
    make(stop)
    assert stop_requested(stop)
    assert _in_time(read_stop, stop) == {}
    assert odd_stop(stop) == kind
    assert _in_time(request_stop, stop, "me", "r") == (False, {}), "already a stop, without details"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file kinds")
def test_the_trainer_poll_takes_a_fifo_as_a_stop_and_says_so_once(tmp_path):
    from trainer.stop_poll import StopPoll

    said = []
    poll = StopPoll(tmp_path / "STOP", "run1", on_foreign=said.append)
    assert not poll.poll()
    os.mkfifo(tmp_path / "STOP")
    assert _in_time(poll.poll) and poll.poll() and poll.read() == {}
    assert said == [f"{tmp_path / 'STOP'} is a FIFO, not a stop file: taken as a stop request without details"]
