"""The cron trigger, with cronie's daylight-saving rules.

Wall-clock matches come from croniter; this module decides which instants they are:

- a fixed-time job (minute and hour fields do not start with ``*``) fires once for a
  wall-clock time the clock passes twice, on the first pass, and once, at the first
  instant after the gap, for wall-clock times the clock skips;
- a job whose minute or hour field starts with ``*`` follows elapsed time: every instant
  whose wall-clock time matches fires, so skipped times do not and repeated ones twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .expression import CronExpression
from .local_time import Repeated, Unique, resolve
from .wall_clock_search import WallClockSearch

_SECOND = timedelta(seconds=1)


class CronTrigger:
    """Fires when the wall clock in ``timezone`` matches a cron expression.

    :param expression: five fields, six with seconds first, or a macro (``@daily``).
    :param timezone: an IANA name or a tzinfo; UTC by default. (A ``"cron ..."`` schedule
        gets the job's or the scheduler's zone.)
    :param job_name: what ``H`` fields hash, so that each job keeps its own spread.
    :raises ValueError: naming the field, its position and the accepted range.
    """

    __slots__ = ("_search", "expression", "timezone")

    def __init__(
        self, expression: str, *, timezone: str | tzinfo = UTC, job_name: str = ""
    ) -> None:
        self.expression = CronExpression.parse(expression, job_name=job_name)
        self.timezone = _zone(timezone)
        self._search = WallClockSearch(self.expression)

    @classmethod
    def from_spec(
        cls, spec: str, *, timezone: tzinfo = UTC, job_name: str = "", **options: Any
    ) -> CronTrigger:
        """The ``cron`` trigger kind: ``schedule(task, "cron 0 3 * * *")``."""
        return cls(spec, timezone=timezone, job_name=job_name)

    @property
    def follows_elapsed_time(self) -> bool:
        return self.expression.follows_elapsed_time

    def next_fire_time(self, after: datetime) -> datetime | None:
        """The first fire strictly after ``after`` (aware), as an aware UTC datetime."""
        if after.tzinfo is None:
            raise ValueError(f"next_fire_time needs an aware datetime, got {after!r}")
        local = after.astimezone(self.timezone)
        wall = local.replace(tzinfo=None)
        here = resolve(wall, self.timezone)
        if not isinstance(here, Repeated):
            return self._first_pass_after(wall)
        if local.fold == 0:
            found = self._first_pass_after(wall)
            if self.follows_elapsed_time and (found is None or found >= here.change):
                # Nothing left in this first pass: the second pass comes next, and it
                # starts over from the first repeated wall-clock time.
                again = self._search.next_from(here.start)
                if again is not None and again < here.end:
                    return _second_pass(again, here)
            return found
        if self.follows_elapsed_time:
            again = self._search.next_after(wall)
            if again is not None and again < here.end:
                return _second_pass(again, here)
        return self._first_pass_after(here.end - _SECOND)

    def _first_pass_after(self, wall: datetime) -> datetime | None:
        """The earliest fire from wall-clock times after ``wall``, each taken at its
        first instant (the first pass of a repeated time; the gap's end for skipped
        times of fixed-time jobs)."""
        while True:
            found = self._search.next_after(wall)
            if found is None:
                return None
            resolved = resolve(found, self.timezone)
            if isinstance(resolved, Unique):
                return resolved.instant
            if isinstance(resolved, Repeated):
                return resolved.first
            if not self.follows_elapsed_time:
                return resolved.change
            wall = resolved.end - _SECOND

    def __str__(self) -> str:
        return f"cron {self.expression.text}"

    def __repr__(self) -> str:
        return f"CronTrigger({self.expression.text!r}, timezone={str(self.timezone)!r})"


def _second_pass(wall: datetime, region: Repeated) -> datetime:
    """The instant of the repeated wall-clock time ``wall`` on the second pass, when the
    offset is the one after the change (``start`` is the change read on that offset)."""
    offset_after = region.start - region.change.replace(tzinfo=None)
    return (wall - offset_after).replace(tzinfo=UTC)


def _zone(value: str | tzinfo) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: expected an IANA name such as 'Europe/Berlin', "
            f"'America/New_York' or 'UTC'"
        ) from None
