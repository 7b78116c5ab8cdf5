"""The trainer's printer: clean lines when piped, ASCII stand-ins where needed, a bar only in a terminal."""

from __future__ import annotations

import io

from trainer.console import Printer


class Stream(io.StringIO):
    def __init__(self, encoding: str = "utf-8", tty: bool = False):
        super().__init__()
        self._encoding, self._tty = encoding, tty

    @property
    def encoding(self):
        return self._encoding

    def isatty(self):
        return self._tty


def test_piped_output_is_plain_lines():
    s = Stream()
    p = Printer(s)
    p.epoch_start(1, 3, 10)
    for b in range(1, 11):
        p.batch(b, 10, 0.5)
    p.epoch_end()
    p.line("Epoch 1/3 | Train: 0.5000 | Val: 0.6000 | Gap: +0.1000 | Δ: +0.0000")
    p.line("  ✓ New best! Saved to models/best.pt")
    assert s.getvalue() == ("Epoch 1/3 | Train: 0.5000 | Val: 0.6000 | Gap: +0.1000 | Δ: +0.0000\n"
                            "  ✓ New best! Saved to models/best.pt\n")
    assert not p.tty


def test_ascii_stream_gets_stand_ins():
    s = Stream(encoding="ascii")
    p = Printer(s)
    p.line("  ✓ New best! Saved to models/best.pt")
    p.line("⚠️  Early stopping: No improvement for 5 epochs")
    p.line("Gap: +0.1 | Δ: -0.2")
    assert s.getvalue().splitlines() == ["  [OK] New best! Saved to models/best.pt",
                                         "[WARN]  Early stopping: No improvement for 5 epochs",
                                         "Gap: +0.1 | d: -0.2"]


def test_terminal_shows_a_transient_bar_and_keeps_lines_intact():
    s = Stream(tty=True)
    now = [0.0]
    p = Printer(s, clock=lambda: now[0])
    assert p.tty
    p.epoch_start(2, 15, 4)
    for b in range(1, 5):
        now[0] += 1.0
        p.batch(b, 4, 0.25 * b)
    p.line("Stop requested - finishing epoch 2")  # printed above the bar while it is shown
    p.epoch_end()
    p.line("Epoch  2/15 | Train: 0.5000")
    out = s.getvalue()
    assert "\x1b[" in out  # the bar is drawn with control sequences ...
    assert "Epoch  2/15" in out and "4/4" in out and "loss 1.0000" in out
    assert "Stop requested - finishing epoch 2\n" in out and out.endswith("Epoch  2/15 | Train: 0.5000\n")


def test_rich_markup_like_text_survives_in_a_terminal():
    s = Stream(tty=True)
    Printer(s).line("[OK] [WARN] literal brackets")
    assert "[OK] [WARN] literal brackets" in s.getvalue()


def test_close_without_a_bar_is_harmless():
    p = Printer(Stream())
    p.close()
    p.close()
