"""Fixtures every test gets: a guard against leaked threads, and the Agg backend for figures."""

from __future__ import annotations

import threading
import time

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a thread running (a watchdog observer or timer not stopped and joined)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        leaked[0].join(timeout=0.05)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
