"""Text from a log or a path, shown safely: no control characters in a terminal."""

import pytest

from shared.safetext import printable


@pytest.mark.parametrize("text, shown", [
    ("run 3f2a", "run 3f2a"),
    ("\x1b]0;pwned\x07\x1b[2J", "\\x1b]0;pwned\\x07\\x1b[2J"),  # retitle and clear the terminal
    ("a\tb", "a b"),
    ("two\nlines", "two\nlines"),
    ("\x9b31m", "\\x9b31m"),  # the one-byte CSI of C1
    ("abc\u202egnp.exe", "abc\\u202egnp.exe"),  # a bidirectional override
    ("$EXP_$RUN é ✓", "$EXP_$RUN é ✓"),
])
def test_printable(text, shown):
    assert printable(text) == shown

