"""Parse durations: ``"500ms"``, ``"10s"``, ``"5min"``, ``"1h 30min"``, ``"2 days"``, numbers,
timedeltas; the units are systemd.time(7)'s."""

from __future__ import annotations

import math
import re
from datetime import timedelta

#: What ``parse_duration`` accepts, quoted in its error messages.
ACCEPTED_FORMS = (
    "a number of seconds (10, 2.5), a timedelta, or text made of <number><unit> parts "
    "with units ms, s (sec, seconds), m (min, minutes), h (hr, hours), d (days), "
    'w (weeks), as systemd writes them ("500ms", "10s", "5min", "1h30m", "1h 30min", '
    '"2 hours", "1 day")'
)

Duration = str | int | float | timedelta

#: Every unit systemd.time(7) names for a time span, except months and years: a month or
#: a year has no fixed length, and systemd's 30.44-day month would surprise a schedule.
_UNITS: dict[str, float] = {
    name: size
    for names, size in (
        (("ns", "nsec"), 1e-9),
        (("us", "usec", "µs", "μs"), 1e-6),
        (("ms", "msec"), 0.001),
        (("s", "sec", "second", "seconds"), 1.0),
        (("m", "min", "minute", "minutes"), 60.0),
        (("h", "hr", "hour", "hours"), 3600.0),
        (("d", "day", "days"), 86400.0),
        (("w", "week", "weeks"), 604800.0),
    )
    for name in names
}
#: Units refused with a reason of their own, rather than "unknown unit".
_REFUSED = {
    "M": "'M' could mean minutes or months: write 'min' (or 'm') for minutes",
    **{
        unit: f"{unit!r} has no fixed length: write days ('30d') or use a cron schedule"
        for unit in ("month", "months", "y", "year", "years")
    },
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([^\d\s.]*)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class DurationError(ValueError):
    """A duration that cannot be read; ``reason`` says why, without the value."""

    def __init__(self, what: str, value: object, reason: str) -> None:
        super().__init__(f"invalid {what} {value!r}: {reason}")
        self.reason = reason


def parse_duration(value: Duration, *, what: str = "duration") -> float:
    """Return ``value`` in seconds, a finite number >= 0.

    :raises DurationError: (a ``ValueError``) naming the value and the accepted forms.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value, what)
    else:
        raise DurationError(what, value, f"expected {ACCEPTED_FORMS}")
    if not math.isfinite(seconds) or seconds < 0:
        raise DurationError(what, value, "it must be finite and not negative")
    return seconds


def _parse_text(text: str, what: str) -> float:
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        return float(stripped)
    position = 0
    total = 0.0
    for match in _PART.finditer(stripped):
        number, unit = match.groups()
        if match.start() != position or not unit:
            break
        if unit in _REFUSED:
            raise DurationError(what, text, _REFUSED[unit])
        size = _UNITS.get(unit.lower())
        if size is None:
            raise DurationError(
                what, text, f"unknown unit {unit!r} after {number}: expected {ACCEPTED_FORMS}"
            )
        total += float(number) * size
        position = match.end()
    if stripped and position == len(stripped):
        return total
    raise DurationError(what, text, f"expected {ACCEPTED_FORMS}")


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


def duration_problem(error: DurationError) -> str:
    """What a config error says about a bad duration: the specific reason when there is one
    (an ambiguous or unfixed unit), else the accepted forms."""
    if error.reason in _REFUSED.values():
        return error.reason
    return f"expected a duration: {ACCEPTED_FORMS}"
