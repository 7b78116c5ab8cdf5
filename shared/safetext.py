"""Text from a log or a path, made safe to show: in a terminal (no control characters) and in a figure.

A run id, a host name, an end reason or message, a config string, a metric name and a path all come from
outside: a run id carrying escape sequences would retitle and clear the user's terminal, and a run dir named
`$EXP_$RUN` would be parsed as matplotlib mathtext (a traceback, a blank window). Views pass such text through
`printable` before printing it, and create the text artists that show it with `parse_math=False` (FIGURE_TEXT).
"""

from __future__ import annotations

import re

# C0 and C1 control characters except the newline, DEL, and the bidirectional overrides that reorder what a
# terminal shows ("Trojan source").
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

FIGURE_TEXT = {"parse_math": False}  # text artist options for foreign text: `$` is a dollar sign, not math


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\t":
        return " "
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character (but the newline) shown as an escape (`\\x1b`), a tab as a space."""
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text

