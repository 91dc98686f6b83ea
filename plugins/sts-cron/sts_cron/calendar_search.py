"""The next matching wall-clock time, found month by month: for the expressions croniter
cannot read (``LW``, a ``W`` item in a list, plain weekdays listed with ``#`` or ``L``).

Days come from ``day_rules``; times of day from the sorted values of the time fields.
Wall-clock times are naive, as in ``wall_clock_search``.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import MAXYEAR, datetime, timedelta

from .day_rules import matching_days
from .expression import CronExpression

#: The Gregorian calendar repeats every 400 years: an expression that matches no day in
#: that many months never matches.
_SEARCH_MONTHS = 400 * 12
#: Months whose matching days are kept: the next fire is nearly always in the next few.
_CACHED_MONTHS = 64


class CalendarSearch:
    """Finds matching wall-clock times of one expression, without croniter."""

    __slots__ = ("_days", "_expression", "_hours", "_minutes", "_months", "_seconds")

    def __init__(self, expression: CronExpression) -> None:
        self._expression = expression
        self._seconds = sorted(expression.second.values) if expression.second else [0]
        self._minutes = sorted(expression.minute.values)
        self._hours = sorted(expression.hour.values)
        self._months = frozenset(expression.month.values)
        self._days: dict[tuple[int, int], list[int]] = {}

    def next_after(self, wall: datetime) -> datetime | None:
        """The first matching wall-clock time strictly after ``wall`` (naive)."""
        start = wall.replace(microsecond=0) + timedelta(seconds=1)
        year, month = start.year, start.month
        for index in range(_SEARCH_MONTHS):
            if month in self._months:
                for day in self._matching_days(year, month):
                    if index == 0 and day < start.day:
                        continue
                    if index == 0 and day == start.day:
                        time = self._time_from(start.hour, start.minute, start.second)
                        if time is None:
                            continue
                        return datetime(year, month, day, *time)
                    return datetime(
                        year, month, day, self._hours[0], self._minutes[0], self._seconds[0]
                    )
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if year > MAXYEAR:
                return None
        return None

    def _matching_days(self, year: int, month: int) -> list[int]:
        key = (year, month)
        days = self._days.get(key)
        if days is None:
            if len(self._days) >= _CACHED_MONTHS:
                self._days.clear()
            days = self._days[key] = matching_days(self._expression, year, month)
        return days

    def _time_from(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        """The first time of day at or after ``hour:minute:second`` the fields match."""
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        for matched_hour in hours[bisect_left(hours, hour) :]:
            if matched_hour > hour:
                return matched_hour, minutes[0], seconds[0]
            for matched_minute in minutes[bisect_left(minutes, minute) :]:
                if matched_minute > minute:
                    return matched_hour, matched_minute, seconds[0]
                index = bisect_left(seconds, second)
                if index < len(seconds):
                    return matched_hour, matched_minute, seconds[index]
        return None
