"""Ctrl-C / SIGTERM handling with real signals sent to this process."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from trainer.interrupt import Interrupts, describe, exit_code_for, shield_workers


@pytest.fixture(autouse=True)
def default_dispositions():
    """Each test starts from Python's own handlers, whatever started pytest: a shell running it in the
    background (`pytest &`, nohup) hands it SIGINT ignored, and Interrupts keeps an ignored signal ignored."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def send(sig: int = signal.SIGINT) -> None:
    # signal.raise_signal runs the Python handler before it returns, so no waiting is needed.
    signal.raise_signal(sig)


def test_first_signal_only_asks_second_aborts():
    with Interrupts() as interrupts:
        assert interrupts() is None
        send()
        assert interrupts() == "SIGINT" and not interrupts.aborted
        with pytest.raises(KeyboardInterrupt):
            send()
        assert interrupts.aborted


def test_sigterm_is_graceful_too_and_named():
    with Interrupts() as interrupts:
        send(signal.SIGTERM)
        assert interrupts() == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            send(signal.SIGTERM)


def test_an_abort_waits_for_the_end_of_a_critical_block():
    done = []
    with Interrupts() as interrupts:
        send()
        with pytest.raises(KeyboardInterrupt):
            with interrupts.critical():
                send()
                done.append("write finished")  # reached: the abort is deferred
        assert done == ["write finished"]


def test_nested_critical_blocks_defer_to_the_outermost():
    with Interrupts() as interrupts:
        send()
        with pytest.raises(KeyboardInterrupt):
            with interrupts.critical():
                with interrupts.critical():
                    send()
                assert not interrupts.aborted  # still inside the outer block
        assert interrupts.aborted


def test_muted_ignores_signals():
    with Interrupts() as interrupts:
        interrupts.mute()
        send()
        send()
        assert interrupts() is None and not interrupts.aborted


def test_previous_handlers_are_restored():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with Interrupts():
        assert signal.getsignal(signal.SIGINT) is not before[0]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_forked_child_ignores_the_signal(monkeypatch):
    # A data-loader worker forked from the trainer inherits the handler: there it must do nothing.
    with Interrupts() as interrupts:
        monkeypatch.setattr(os, "getpid", lambda: -1)
        send()
        send()
        monkeypatch.undo()
        assert interrupts() is None


@pytest.mark.parametrize("name, code", [("SIGINT", 130), ("SIGTERM", 143), (None, 130)])
def test_exit_codes(name, code):
    assert exit_code_for(name) == code


def test_describe():
    assert describe("SIGINT") == ("Interrupted (Ctrl-C)", "press Ctrl-C again to abort at once")
    assert describe("SIGTERM") == ("Terminated (SIGTERM)", "send SIGTERM again to abort at once")


def test_an_ignored_signal_stays_ignored():
    # `cmd &` in a script starts the job with SIGINT ignored; the trainer must not undo that.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with Interrupts() as interrupts:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            send()
            assert interrupts() is None
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


needs_masks = pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal masks (Windows)")


class _WorkerStart:
    """Stands in for a DataLoader: `iter()` is where real loaders fork their workers."""

    num_workers = 2
    worker_init_fn = None

    def __init__(self, during=lambda: None):
        self.during = during
        self.mask_at_start: set[int] = set()

    def __len__(self):
        return 3

    def __iter__(self):
        self.mask_at_start = signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the mask a forked worker inherits
        self.during()
        return iter(range(3))


@needs_masks
def test_workers_start_with_both_signals_blocked_and_the_mask_is_restored():
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    loader = _WorkerStart()
    shielded = shield_workers(loader)
    assert list(shielded) == [0, 1, 2] and len(shielded) == 3
    assert {signal.SIGINT, signal.SIGTERM} <= loader.mask_at_start
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before


@needs_masks
def test_a_signal_while_workers_start_reaches_the_trainer_right_after():
    # Thread-directed, so no other thread can take it while this one has it blocked.
    seen_during = []
    with Interrupts() as interrupts:
        def signal_now():
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
            seen_during.append(interrupts())
        iter(shield_workers(_WorkerStart(signal_now)))
        assert seen_during == [None]  # held back while the workers were being started...
        assert interrupts() == "SIGTERM"  # ...and delivered, not lost, once they were


def test_a_loader_without_workers_is_iterated_as_it_is():
    loader = _WorkerStart()
    loader.num_workers = 0
    shielded = shield_workers(loader)
    assert list(shielded) == [0, 1, 2] and loader.worker_init_fn is None
    shielded.close()  # nothing to stop
