"""The next wall-clock time an expression matches, found by croniter (or, for what it
cannot read, by ``calendar_search``).

Wall-clock times here are naive datetimes read as the hands of a clock: no zone, no
daylight saving, every day 24 hours long. croniter does this part well; what the times
mean as instants is the trigger's business.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]

from .calendar_search import CalendarSearch
from .expression import CronExpression

#: A fixed day to look for a first match from, so that validation is reproducible.
_PROBE_START = datetime(2000, 1, 1)


class WallClockSearch:
    """Finds matching wall-clock times of one expression: with croniter, or, for what
    croniter cannot read, with the plugin's own calendar search."""

    __slots__ = ("_calendar", "_searches")

    def __init__(self, expression: CronExpression) -> None:
        self._calendar: CalendarSearch | None = None
        self._searches: list[Any] = []
        if not (expression.day_of_month.croniter_reads and expression.day_of_week.croniter_reads):
            self._calendar = CalendarSearch(expression)
        elif expression.days_either:
            # Vixie's "either day field" rule as two searches: croniter's own union of the
            # two fields cannot hold '#', 'L' or 'W' items (it fails to find a date).
            texts = [
                expression.croniter_text(day_of_week=False),
                expression.croniter_text(day_of_month=False),
            ]
        else:
            texts = [expression.croniter_text()]
        if self._calendar is None:
            self._searches = [
                croniter(
                    text, _PROBE_START, ret_type=datetime, day_or=False, second_at_beginning=True
                )
                for text in texts
            ]
        if self.next_after(_PROBE_START) is None:
            raise ValueError(
                f"invalid cron expression {expression.text!r}: no date ever matches "
                f"day of month {expression.day_of_month.text!r}, month "
                f"{expression.month.text!r} and day of week {expression.day_of_week.text!r} "
                f"together, so it never fires"
            )

    def next_after(self, wall: datetime) -> datetime | None:
        """The first matching wall-clock time strictly after ``wall`` (naive)."""
        if self._calendar is not None:
            return self._calendar.next_after(wall)
        start = wall.replace(microsecond=0)
        found: datetime | None = None
        for search in self._searches:
            try:
                candidate: datetime = search.get_next(start_time=start)
            except CroniterBadDateError:
                continue
            if found is None or candidate < found:
                found = candidate
        return found

    def next_from(self, wall: datetime) -> datetime | None:
        """The first matching wall-clock time at or after ``wall`` (whole seconds)."""
        return self.next_after(wall - timedelta(seconds=1))
