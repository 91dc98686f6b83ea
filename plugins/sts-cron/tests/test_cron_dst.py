"""Daylight saving: cronie's rules on the 2026 and 2027 changes of New York, Berlin and
Lord Howe (a 30-minute shift), a zone without DST, and a brute-force reference that walks
real minutes (and seconds) and knows nothing of croniter or of the trigger's algorithm."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sts_cron import CronTrigger

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Change:
    """A clock change: at ``at`` the wall clock skips (gap) or repeats ``[first, end)``."""

    zone: str
    at: str
    first: str
    end: str
    kind: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def instant(self) -> datetime:
        return datetime.fromisoformat(self.at)

    def wall(self, text: str, days: int = 0) -> datetime:
        """The naive wall-clock time ``text`` on the day of the change (plus ``days``)."""
        day = self.instant.astimezone(self.tz).date() + timedelta(days=days)
        return datetime.combine(day, time.fromisoformat(text))

    def __str__(self) -> str:
        return f"{self.zone}-{self.at[:10]}"


CHANGES = [
    Change("America/New_York", "2026-03-08T07:00Z", "02:00", "03:00", "gap"),
    Change("America/New_York", "2026-11-01T06:00Z", "01:00", "02:00", "repeat"),
    Change("America/New_York", "2027-03-14T07:00Z", "02:00", "03:00", "gap"),
    Change("America/New_York", "2027-11-07T06:00Z", "01:00", "02:00", "repeat"),
    Change("Europe/Berlin", "2026-03-29T01:00Z", "02:00", "03:00", "gap"),
    Change("Europe/Berlin", "2026-10-25T01:00Z", "02:00", "03:00", "repeat"),
    Change("Europe/Berlin", "2027-03-28T01:00Z", "02:00", "03:00", "gap"),
    Change("Europe/Berlin", "2027-10-31T01:00Z", "02:00", "03:00", "repeat"),
    Change("Australia/Lord_Howe", "2026-04-04T15:00Z", "01:30", "02:00", "repeat"),
    Change("Australia/Lord_Howe", "2026-10-03T15:30Z", "02:00", "02:30", "gap"),
    Change("Australia/Lord_Howe", "2027-04-03T15:00Z", "01:30", "02:00", "repeat"),
    Change("Australia/Lord_Howe", "2027-10-02T15:30Z", "02:00", "02:30", "gap"),
]
GAPS = [change for change in CHANGES if change.kind == "gap"]
REPEATS = [change for change in CHANGES if change.kind == "repeat"]


def fires(expression: str, zone: str, after: datetime, count: int) -> list[datetime]:
    trigger = CronTrigger(expression, timezone=zone)
    found: list[datetime] = []
    for _ in range(count):
        fire = trigger.next_fire_time(after)
        assert fire is not None
        found.append(fire)
        after = fire
    return found


def unique(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant of a wall-clock time that happens exactly once."""
    local = wall.replace(tzinfo=zone)
    assert local.replace(fold=1).utcoffset() == local.utcoffset(), f"{wall} is not unique"
    return local.astimezone(UTC)


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_the_table_of_changes_is_what_zoneinfo_says(change: Change) -> None:
    before = (change.instant - timedelta(seconds=1)).astimezone(change.tz)
    after = change.instant.astimezone(change.tz)
    last_before = before.replace(tzinfo=None) + timedelta(seconds=1)
    first_after = after.replace(tzinfo=None)
    if change.kind == "gap":
        assert (last_before, first_after) == (change.wall(change.first), change.wall(change.end))
    else:
        assert (last_before, first_after) == (change.wall(change.end), change.wall(change.first))


# -- fixed-time jobs ------------------------------------------------------------------------


@pytest.mark.parametrize("change", GAPS, ids=str)
def test_a_fixed_time_in_the_gap_fires_once_at_the_first_instant_after_it(
    change: Change,
) -> None:
    wall = change.wall(change.first) + timedelta(minutes=15)
    expression = f"{wall.minute} {wall.hour} * * *"
    got = fires(expression, change.zone, change.instant - DAY - timedelta(hours=2), 3)
    assert got == [
        unique(wall - DAY, change.tz),
        change.instant,
        unique(wall + DAY, change.tz),
    ]


@pytest.mark.parametrize("change", GAPS, ids=str)
def test_several_fixed_times_in_the_gap_fire_once_together(change: Change) -> None:
    first = change.wall(change.first)
    expression = f"{first.minute},{first.minute + 15} {first.hour} * * *"
    got = fires(expression, change.zone, change.instant - timedelta(hours=3), 3)
    assert got == [
        change.instant,
        unique(first + DAY, change.tz),
        unique(first + DAY + timedelta(minutes=15), change.tz),
    ]


@pytest.mark.parametrize("change", REPEATS, ids=str)
def test_a_fixed_time_in_the_repeated_period_fires_once_on_the_first_pass(
    change: Change,
) -> None:
    wall = change.wall(change.first) + timedelta(minutes=15)
    expression = f"{wall.minute} {wall.hour} * * *"
    first_pass = change.instant - (change.wall(change.end) - wall)
    got = fires(expression, change.zone, change.instant - DAY - timedelta(hours=2), 3)
    assert got == [unique(wall - DAY, change.tz), first_pass, unique(wall + DAY, change.tz)]
    assert got[1].astimezone(change.tz).fold == 0


# -- jobs that follow elapsed time ----------------------------------------------------------


@pytest.mark.parametrize("change", GAPS, ids=str)
def test_an_elapsed_time_job_does_not_fire_at_times_that_do_not_exist(change: Change) -> None:
    hour = change.wall(change.first).hour
    end = change.wall(change.end)
    walls = [change.wall(f"{hour:02}:{minute:02}") for minute in (0, 15, 30, 45)]
    # Only the quarter hours after the gap exist that day (Lord Howe keeps 02:30, 02:45).
    expected = [change.instant + (wall - end) for wall in walls if wall >= end]
    expected.append(unique(walls[0] + DAY, change.tz))
    got = fires(f"*/15 {hour} * * *", change.zone, change.instant - timedelta(hours=3), 3)
    assert got[: len(expected)] == expected


@pytest.mark.parametrize("change", REPEATS, ids=str)
def test_an_elapsed_time_job_fires_twice_at_times_that_happen_twice(change: Change) -> None:
    first, end = change.wall(change.first), change.wall(change.end)
    walls = [change.wall(f"{first.hour:02}:{minute:02}") for minute in (0, 15, 30, 45)]
    first_pass = [
        change.instant - (end - wall) if wall >= first else unique(wall, change.tz)
        for wall in walls
    ]
    second_pass = [change.instant + (wall - first) for wall in walls if wall >= first]
    expected = [*first_pass, *second_pass, unique(walls[0] + DAY, change.tz)]
    got = fires(f"*/15 {first.hour} * * *", change.zone, change.instant - timedelta(hours=4), 9)
    assert got[: len(expected)] == expected
    local = [fire.astimezone(change.tz).replace(tzinfo=None) for fire in second_pass]
    assert all(wall in walls for wall in local)


def test_hourly_fires_at_both_one_oclocks_in_new_york_and_fixed_one_thirty_once() -> None:
    zone = "America/New_York"
    start = datetime.fromisoformat("2026-11-01T00:30-04:00")
    assert [fire.isoformat() for fire in fires("@hourly", zone, start, 3)] == [
        "2026-11-01T05:00:00+00:00",
        "2026-11-01T06:00:00+00:00",
        "2026-11-01T07:00:00+00:00",
    ]
    assert [fire.isoformat() for fire in fires("30 1 * * *", zone, start, 2)] == [
        "2026-11-01T05:30:00+00:00",
        "2026-11-02T06:30:00+00:00",
    ]


def test_a_zone_without_daylight_saving_fires_every_24_hours() -> None:
    got = fires("30 2 * * *", "Asia/Tokyo", datetime.fromisoformat("2026-03-01T00:00Z"), 60)
    assert got[0] == datetime.fromisoformat("2026-03-01T17:30Z")
    assert {later - earlier for earlier, later in pairwise(got)} == {DAY}


def test_a_fixed_time_after_the_gap_fires_once_when_the_gap_also_asks_for_it() -> None:
    # 02:00 is skipped and moved to 03:00, where the job fires anyway: one run, not two.
    got = fires("0 2,3 * * *", "Europe/Berlin", datetime.fromisoformat("2026-03-29T00:00Z"), 3)
    assert [fire.isoformat() for fire in got] == [
        "2026-03-29T01:00:00+00:00",
        "2026-03-30T00:00:00+00:00",
        "2026-03-30T01:00:00+00:00",
    ]


def test_asking_from_inside_the_repeated_period_continues_where_the_clock_is() -> None:
    zone = ZoneInfo("America/New_York")

    def at(hour: int, minute: int, fold: int, day: int = 1) -> datetime:
        # In UTC: aware datetimes in different zones never compare equal on a fold.
        return datetime(2026, 11, day, hour, minute, tzinfo=zone, fold=fold).astimezone(UTC)

    # 01:20 on the first pass: 01:30 comes next, then the second pass from 01:00.
    assert fires("*/30 * * * *", zone.key, at(1, 20, 0), 3) == [
        at(1, 30, 0),
        at(1, 0, 1),
        at(1, 30, 1),
    ]
    assert fires("*/30 * * * *", zone.key, at(1, 20, 1), 2) == [at(1, 30, 1), at(2, 0, 0)]
    assert fires("30 1 * * *", zone.key, at(1, 20, 1), 1) == [at(1, 30, 0, day=2)]
    assert fires("30 1 * * *", zone.key, at(1, 20, 0), 1) == [at(1, 30, 0)]


# -- the brute-force reference --------------------------------------------------------------


def values(text: str, low: int, high: int) -> set[int]:
    """A minute, hour or second field: ``*``, ``a``, ``a-b``, steps and lists."""
    found: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (int(number) for number in base.split("-"))
        else:
            first = int(base)
            last = high if step_text else first
        found.update(range(first, last + 1, step))
    return found


def reference(
    expression: str, zone: ZoneInfo, start: datetime, end: datetime, step: timedelta
) -> list[datetime]:
    """Walk real time in ``step``s and apply cronie's rules as its man page states them."""
    parts = expression.split()
    if len(parts) == 5:
        parts.insert(0, "0")
    seconds, minutes = values(parts[0], 0, 59), values(parts[1], 0, 59)
    hours = values(parts[2], 0, 23)
    assert parts[3:] == ["*", "*", "*"], "the reference only knows daily expressions"
    fixed = not (parts[1].startswith("*") or parts[2].startswith("*"))

    def matches(wall: datetime) -> bool:
        return wall.second in seconds and wall.minute in minutes and wall.hour in hours

    found = []
    previous = (start - step).astimezone(zone).replace(tzinfo=None)
    instant = start
    while instant < end:
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None)
        second_pass = local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
        if not fixed:
            fire = matches(wall)
        else:
            skipped = previous + step
            jumped = False
            while skipped < wall:
                jumped = jumped or matches(skipped)
                skipped += step
            fire = jumped or (matches(wall) and not second_pass)
        if fire:
            found.append(instant)
        previous = wall
        instant += step
    return found


def trigger_fires(
    expression: str, zone: ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    trigger = CronTrigger(expression, timezone=zone)
    found: list[datetime] = []
    fire = trigger.next_fire_time(start - timedelta(microseconds=1))
    while fire is not None and fire < end:
        found.append(fire)
        fire = trigger.next_fire_time(fire)
    return found


FIXED = ["30 2 * * *", "0 2 * * *", "15,45 1,2 * * *", "0 1-3 * * *", "59 1 * * *"]
FIXED += ["0 3 * * *", "45 0 * * *", "0,30 2 * * *", "10-50/20 1,2 * * *", "29 1 * * *"]
ELAPSED = ["*/15 * * * *", "0 * * * *", "* 2 * * *", "* 1 * * *", "*/7 1-3 * * *"]
ELAPSED += ["30 */2 * * *", "*/20 2 * * *", "5 */1 * * *", "10-40/15 * * * *"]
WINDOWS = [(change.tz, change.instant) for change in CHANGES]
WINDOWS += [(ZoneInfo("Asia/Tokyo"), datetime.fromisoformat("2026-03-08T07:00Z"))]
WINDOWS += [(ZoneInfo("Asia/Tokyo"), datetime.fromisoformat("2027-10-31T01:00Z"))]


@pytest.mark.parametrize("zone, at", WINDOWS, ids=lambda value: str(value)[:16])
def test_every_minute_around_each_change_agrees_with_the_reference(
    zone: ZoneInfo, at: datetime
) -> None:
    start, end = at - timedelta(hours=14), at + timedelta(hours=14)
    for expression in FIXED + ELAPSED:
        expected = reference(expression, zone, start, end, MINUTE)
        assert trigger_fires(expression, zone, start, end) == expected, expression


@pytest.mark.parametrize("change", CHANGES[4:8], ids=str)
def test_every_second_around_berlins_changes_agrees_with_the_reference(change: Change) -> None:
    start, end = change.instant - timedelta(hours=2), change.instant + timedelta(hours=2)
    for expression in ["*/20 * 2 * * *", "0,30 15 2 * * *", "*/13 */30 * * * *"]:
        expected = reference(expression, change.tz, start, end, timedelta(seconds=1))
        assert trigger_fires(expression, change.tz, start, end) == expected, expression


def test_the_reference_itself_sees_the_rules() -> None:
    # So that agreement above means something: the reference does skip, move and double.
    berlin = ZoneInfo("Europe/Berlin")
    spring, autumn = GAPS[2].instant, REPEATS[2].instant

    def window(expression: str, at: datetime) -> list[datetime]:
        return reference(
            expression, berlin, at - timedelta(hours=3), at + timedelta(hours=3), MINUTE
        )

    assert window("30 2 * * *", spring) == [spring]
    assert window("*/30 2 * * *", spring) == []
    assert window("30 2 * * *", autumn) == [autumn - timedelta(minutes=30)]
    assert window("30 2 * * *", autumn) != window("30 * * * *", autumn)
    assert len(window("*/30 2 * * *", autumn)) == 4
