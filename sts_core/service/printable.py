"""Text safe to show on a terminal: what the ``sts`` commands and the TUI print of job names,
errors and other text that users or their tasks wrote."""

from __future__ import annotations

import re

#: What a terminal would act on instead of showing: C0 and C1 control characters (escape
#: sequences, bell, carriage return), DEL, line and paragraph separators, and the
#: invisible and bidirectional formatting characters that can make text read as other text.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control and formatting characters are shown
    escaped (``\\x1b``, ``\\n``, ``\\u202e``), so that a job name or an error cannot
    move the cursor, clear the screen or hide part of a line."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _ESCAPES:
        return _ESCAPES[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
