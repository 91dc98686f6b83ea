"""What a wall-clock time in a zone is as an instant: one, two (repeated), or none (skipped).

Relies on PEP 495: for a wall-clock time in a gap, ``fold=0`` applies the offset before the
change and ``fold=1`` the one after; for a repeated one, ``fold=0`` is the first pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Unique:
    """A wall-clock time that happens once."""

    instant: datetime


@dataclass(frozen=True, slots=True)
class Repeated:
    """A wall-clock time the clock passes twice, because it was set back at ``change``.

    The repeated wall-clock times run from ``start`` up to (not including) ``end``.
    """

    first: datetime
    second: datetime
    change: datetime
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Skipped:
    """A wall-clock time that never happens, because the clock jumped at ``change`` from
    just before the gap to ``end``, the first wall-clock time after it."""

    change: datetime
    end: datetime


WallTime = Unique | Repeated | Skipped


def resolve(wall: datetime, zone: tzinfo) -> WallTime:
    """What the naive wall-clock time ``wall`` is in ``zone``; instants are aware, in UTC."""
    before = wall.replace(tzinfo=zone, fold=0).utcoffset() or _ZERO
    after = wall.replace(tzinfo=zone, fold=1).utcoffset() or _ZERO
    if before == after:
        return Unique((wall - before).replace(tzinfo=UTC))
    early = (wall - before).replace(tzinfo=UTC)
    late = (wall - after).replace(tzinfo=UTC)
    if before > after:
        change = _change(early, late, zone, after)
        return Repeated(early, late, change, _wall(change, after), _wall(change, before))
    change = _change(late, early, zone, after)
    return Skipped(change, _wall(change, after))


def offset_at(instant: datetime, zone: tzinfo) -> timedelta:
    return instant.astimezone(zone).utcoffset() or _ZERO


def _wall(instant: datetime, offset: timedelta) -> datetime:
    return (instant + offset).replace(tzinfo=None)


def _change(old: datetime, new: datetime, zone: tzinfo, offset: timedelta) -> datetime:
    """The instant in ``(old, new]`` from which ``zone`` is at ``offset``.

    Bisects whole seconds: zones change at whole seconds, and zoneinfo has no public
    list of transitions to read instead.
    """
    low = math.floor(old.timestamp())
    high = math.ceil(new.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if offset_at(datetime.fromtimestamp(middle, UTC), zone) == offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
