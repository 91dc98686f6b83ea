"""Triggers: when a job fires.

A trigger is any object with ``next_fire_time(after) -> datetime | None``: the first fire
strictly after ``after`` (an aware datetime), or ``None`` when it never fires again. A
plain function of that shape is a trigger too. This is the whole custom-scheduling API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol, runtime_checkable

from .durations import Duration, format_duration, parse_duration


@runtime_checkable
class Trigger(Protocol):
    """Decides when a job fires.

    A one-shot trigger may also define ``first_fire_time(now) -> datetime | None``: its
    first fire as the job is scheduled, even one already past, so that the misfire rules
    record it as missed (``next_fire_time(now)`` would skip it silently). ``DateTrigger``
    does; a plugin's one-shot trigger does the same.
    """

    def next_fire_time(self, after: datetime) -> datetime | None:
        """The first fire strictly after ``after`` (aware), or ``None`` for no more fires."""
        ...


#: The longest interval: fires further apart would overflow ``datetime`` (year 9999).
MAX_INTERVAL_SECONDS = 1000 * 365 * 86400.0


class IntervalTrigger:
    """Fires every ``interval``, the first time one interval after it is scheduled.

    :param interval: a duration (``"10s"``, ``timedelta``, seconds).
    :param anchor: an instant on the grid of fires; by default the grid starts when the
        job is scheduled.
    """

    # Only the seconds are kept, not a timedelta too: a million jobs hold a million
    # triggers, and the timedelta made on each fire costs less than it would hold.
    __slots__ = ("_step", "anchor")

    def __init__(self, interval: Duration, *, anchor: datetime | None = None) -> None:
        seconds = parse_duration(interval, what="interval")
        if seconds <= 0:
            raise ValueError(f"invalid interval {interval!r}: it must be longer than zero")
        if seconds > MAX_INTERVAL_SECONDS:  # beyond it, datetime arithmetic overflows
            raise ValueError(f"invalid interval {interval!r}: it must be at most 1000 years")
        self._step = seconds
        if anchor is not None and anchor.tzinfo is None:
            raise ValueError(f"the anchor {anchor!r} must be an aware datetime")
        self.anchor = anchor

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self._step)

    def next_fire_time(self, after: datetime) -> datetime | None:
        # Elapsed time, not wall time: adding to a datetime in a zone with daylight saving
        # would add on the local clock face (02:00 + 1h = 03:00 across a spring-forward
        # gap is no hour at all), so the arithmetic is done in UTC.
        if after.tzinfo is not UTC:
            after = after.astimezone(UTC)
        if self.anchor is None:
            return after + timedelta(seconds=self._step)
        anchor = self.anchor.astimezone(UTC)
        elapsed = (after - anchor).total_seconds()
        steps = int(elapsed // self._step) + 1
        return anchor + self.interval * steps

    def __str__(self) -> str:
        return f"every {format_duration(self._step)}"

    def __repr__(self) -> str:
        return f"IntervalTrigger({format_duration(self._step)!r})"


class DateTrigger:
    """Fires once, at ``at``. A time already past is due at once (and may be missed)."""

    __slots__ = ("at",)

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError(
                f"the time {at.isoformat()} has no time zone: pass an aware datetime, "
                f"e.g. datetime(2027, 1, 1, 9, tzinfo=ZoneInfo('Europe/Berlin'))"
            )
        self.at = at

    def first_fire_time(self, now: datetime) -> datetime | None:
        return self.at

    def next_fire_time(self, after: datetime) -> datetime | None:
        return self.at if self.at > after else None

    def __str__(self) -> str:
        return f"at {self.at.isoformat()}"

    def __repr__(self) -> str:
        return f"DateTrigger({self.at.isoformat()!r})"


class FunctionTrigger:
    """Adapts a plain function ``f(after: datetime) -> datetime | None`` to a trigger."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[[datetime], datetime | None]) -> None:
        self.function = function

    def next_fire_time(self, after: datetime) -> datetime | None:
        result = self.function(after)
        if result is not None and (not isinstance(result, datetime) or result.tzinfo is None):
            raise TypeError(
                f"the trigger function {self.function!r} returned {result!r}; "
                f"it must return an aware datetime or None"
            )
        return result

    def __str__(self) -> str:
        return getattr(self.function, "__name__", repr(self.function))


def parse_instant(text: str, timezone: tzinfo | None = UTC, *, what: str = "time") -> datetime:
    """An ISO 8601 instant; one without an offset is read in ``timezone`` (or, with
    ``timezone=None``, refused).

    :raises ValueError: naming ``what``, the text and the accepted form.
    """
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"invalid {what} {text!r}: expected ISO 8601 such as '2027-01-01T09:00+01:00'"
        ) from None
    if instant.tzinfo is None:
        if timezone is None:
            raise ValueError(
                f"invalid {what} {text!r}: expected an aware datetime (with an offset)"
            )
        instant = instant.replace(tzinfo=timezone)
    return instant


def every_trigger(spec: str, **options: Any) -> IntervalTrigger:
    """The ``every`` kind: ``"every 10s"``."""
    return IntervalTrigger(spec)


def at_trigger(spec: str, *, timezone: tzinfo = UTC, **options: Any) -> DateTrigger:
    """The ``at`` kind: ``"at 2027-01-01T09:00+01:00"``."""
    return DateTrigger(parse_instant(spec, timezone))
