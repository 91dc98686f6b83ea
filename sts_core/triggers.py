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
#: The shortest interval: below it a job would fire in a tight loop (and show as ``every 0ms``).
MIN_INTERVAL_SECONDS = 0.01


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
        # Beyond the maximum, datetime arithmetic overflows.
        if not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS:
            raise ValueError(
                f"invalid interval {interval!r}: expected from 10ms to 1000 years "
                f"({MIN_INTERVAL_SECONDS:g} to {MAX_INTERVAL_SECONDS:g} seconds)"
            )
        self._step = seconds
        if anchor is not None and anchor.tzinfo is None:
            raise ValueError(f"the anchor {anchor!r} must be an aware datetime")
        self.anchor = anchor

    @property
    def follows_elapsed_time(self) -> bool:
        """Fires count elapsed time, not the calendar: when the wall clock goes back, the
        scheduler moves the next fire back as far, keeping the cadence. An anchored grid
        follows the wall clock instead."""
        return self.anchor is None

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
        # On the microsecond grid of timedelta, like count_fires: the two always agree.
        interval = self.interval
        return anchor + interval * ((after - anchor) // interval + 1)

    def count_fires(self, after: datetime, until: datetime) -> tuple[int, datetime | None]:
        """How many fires lie in ``(after, until]``, and the last of them, in O(1): what
        ``next_fire_time`` walked step by step would find (a day of a job every second
        is 86,400 fires; counting them must not take 86,400 steps)."""
        after, until = after.astimezone(UTC), until.astimezone(UTC)
        interval = self.interval
        if self.anchor is None:
            count = max(0, (until - after) // interval)
            return count, (after + interval * count if count else None)
        anchor = self.anchor.astimezone(UTC)
        first = (after - anchor) // interval + 1
        last = (until - anchor) // interval
        if last < first:
            return 0, None
        return last - first + 1, anchor + interval * last

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
        # What it returns is checked where every trigger's answer is (job.next_fire_within).
        return self.function(after)

    def __str__(self) -> str:
        return getattr(self.function, "__name__", repr(self.function))

    def __repr__(self) -> str:
        return f"FunctionTrigger({self.function!r})"


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
