"""Parse durations: ``"500ms"``, ``"10s"``, ``"5m"``, ``"1h30m"``, ``"2d"``, numbers, timedeltas."""

from __future__ import annotations

import math
import re
from datetime import timedelta

#: What ``parse_duration`` accepts, quoted in its error messages.
ACCEPTED_FORMS = (
    "a number of seconds (10, 2.5), a timedelta, or text made of <number><unit> parts "
    'with units ms, s, m, h, d, w ("500ms", "10s", "5m", "1h30m", "2d")'
)

Duration = str | int | float | timedelta

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(value: Duration, *, what: str = "duration") -> float:
    """Return ``value`` in seconds, a finite number >= 0.

    :raises ValueError: naming the value and the accepted forms.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"invalid {what} {value!r}: expected {ACCEPTED_FORMS}")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value, what)
    else:
        raise ValueError(f"invalid {what} {value!r}: expected {ACCEPTED_FORMS}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid {what} {value!r}: it must be finite and not negative")
    return seconds


def _parse_text(text: str, what: str) -> float:
    compact = text.strip().lower().replace(" ", "")
    if _NUMBER.fullmatch(compact):
        return float(compact)
    position = 0
    total = 0.0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if compact and position == len(compact):
        return total
    raise ValueError(f"invalid {what} {text!r}: expected {ACCEPTED_FORMS}")


def format_duration(seconds: float) -> str:
    """The shortest text ``parse_duration`` reads back as ``seconds`` (to the millisecond)."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    parts = []
    remaining = round(seconds * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    if remaining:
        parts.append(f"{remaining}ms")
    return "".join(parts) or "0s"
