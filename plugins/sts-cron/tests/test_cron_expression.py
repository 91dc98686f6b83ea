"""Cron syntax: fields, names, specials, macros, hashed fields, day rules and errors."""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from sts_cron import CronExpression, CronTrigger

START = datetime(2026, 1, 1, tzinfo=UTC)


def fire_days(expression: str, end: date = date(2029, 1, 1)) -> list[date]:
    trigger = CronTrigger(expression)
    found: list[date] = []
    fire = trigger.next_fire_time(START - timedelta(microseconds=1))
    while fire is not None and fire.date() < end:
        assert fire.time().hour == 12 and fire.minute == 0, expression
        found.append(fire.date())
        fire = trigger.next_fire_time(fire)
    return found


def days_where(predicate: Callable[[date], bool], end: date = date(2029, 1, 1)) -> list[date]:
    day, found = START.date(), []
    while day < end:
        if predicate(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def weekday(day: date) -> int:
    """Cron's numbering: Sunday is 0."""
    return day.isoweekday() % 7


def nearest_weekday(day: date, target: int) -> bool:
    """Quartz's ``W``: the weekday nearest ``target``, never leaving the month."""
    target = min(target, last_day(day))
    wanted = day.replace(day=target)
    if wanted.weekday() == 5:
        wanted += timedelta(days=-1 if target > 1 else 2)
    elif wanted.weekday() == 6:
        wanted += timedelta(days=1 if target < last_day(day) else -2)
    return day == wanted


def last_weekday(day: date) -> date:
    """Quartz's ``LW``: the last Monday-Friday of the month."""
    last = day.replace(day=last_day(day))
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    return last


DAY_RULES: list[tuple[str, Callable[[date], bool]]] = [
    ("0 12 29 2 *", lambda d: (d.month, d.day) == (2, 29)),
    ("0 12 L * *", lambda d: d.day == last_day(d)),
    ("0 12 L 2 *", lambda d: d.month == 2 and d.day == last_day(d)),
    ("0 12 31 * *", lambda d: d.day == 31),
    ("0 12 30,31 1-3 *", lambda d: d.month <= 3 and d.day >= 30),
    ("0 12 1,L * *", lambda d: d.day in (1, last_day(d))),
    ("0 12 15W * *", lambda d: nearest_weekday(d, 15)),
    ("0 12 1W * *", lambda d: nearest_weekday(d, 1)),
    ("0 12 31W * *", lambda d: nearest_weekday(d, 31)),
    ("0 12 * * 5#3", lambda d: weekday(d) == 5 and (d.day - 1) // 7 == 2),
    ("0 12 * * FRI#5,MON#1", lambda d: (weekday(d), (d.day - 1) // 7) in ((5, 4), (1, 0))),
    ("0 12 * * 5L", lambda d: weekday(d) == 5 and d.day + 7 > last_day(d)),
    ("0 12 * * MON-FRI", lambda d: 1 <= weekday(d) <= 5),
    ("0 12 * * 7", lambda d: weekday(d) == 0),
    ("0 12 * JAN,jul SUN", lambda d: d.month in (1, 7) and weekday(d) == 0),
    # Vixie cron: both day fields restricted, either one matches ...
    ("0 12 13 * 5", lambda d: d.day == 13 or weekday(d) == 5),
    ("0 12 1-7 * 1", lambda d: d.day <= 7 or weekday(d) == 1),
    (
        "0 12 L * 5L",
        lambda d: d.day == last_day(d) or (weekday(d) == 5 and d.day + 7 > last_day(d)),
    ),
    ("0 12 1 * 1#2", lambda d: d.day == 1 or (weekday(d) == 1 and (d.day - 1) // 7 == 1)),
    # ... but a field starting with '*' makes both required.
    ("0 12 */2 * 1", lambda d: d.day % 2 == 1 and weekday(d) == 1),
    ("0 12 13 * */5", lambda d: d.day == 13 and weekday(d) in (0, 5)),
    ("0 12 * * 1", lambda d: weekday(d) == 1),
    # What cronie and Quartz accept beyond that: ranges that wrap, '?', LW, and L, W and #
    # inside lists.
    ("0 12 * * FRI-SUN", lambda d: weekday(d) in (5, 6, 0)),
    ("0 12 * * SAT-MON/2", lambda d: weekday(d) in (6, 1)),
    ("0 12 28-2 * *", lambda d: d.day >= 28 or d.day <= 2),
    ("0 12 * NOV-FEB 1", lambda d: d.month in (11, 12, 1, 2) and weekday(d) == 1),
    ("0 12 ? * MON", lambda d: weekday(d) == 1),
    ("0 12 15 * ?", lambda d: d.day == 15),
    ("0 12 LW * *", lambda d: d == last_weekday(d)),
    ("0 12 LW * ?", lambda d: d == last_weekday(d)),
    ("0 12 1,15W,L * *", lambda d: d.day in (1, last_day(d)) or nearest_weekday(d, 15)),
    ("0 12 1W,LW * *", lambda d: nearest_weekday(d, 1) or d == last_weekday(d)),
    ("0 12 * * MON,FRI#3", lambda d: weekday(d) == 1 or (weekday(d), (d.day - 1) // 7) == (5, 2)),
    ("0 12 * * 1,5L", lambda d: weekday(d) == 1 or (weekday(d) == 5 and d.day + 7 > last_day(d))),
    (
        "0 12 LW * 1#1,SUN",
        lambda d: d == last_weekday(d) or weekday(d) == 0 or (weekday(d) == 1 and d.day <= 7),
    ),
    (
        "0 12 */10 * 2L,5",
        lambda d: d.day in (1, 11, 21, 31)
        and (weekday(d) == 5 or (weekday(d) == 2 and d.day + 7 > last_day(d))),
    ),
]


@pytest.mark.parametrize("expression, predicate", DAY_RULES, ids=[rule[0] for rule in DAY_RULES])
def test_days_over_three_years_including_a_leap_year(
    expression: str, predicate: Callable[[date], bool]
) -> None:
    assert fire_days(expression) == days_where(predicate)


def fire_times(expression: str, count: int, after: datetime = START) -> list[str]:
    """The next ``count`` fires after ``after``, as ``day hour:minute`` (UTC)."""
    trigger, found = CronTrigger(expression), []
    for _ in range(count):
        fire = trigger.next_fire_time(after)
        assert fire is not None
        found.append(fire.strftime("%d %H:%M"))
        after = fire
    return found


def test_times_within_a_day() -> None:
    assert fire_times("*/20 9-10 * * *", 7) == [
        "01 09:00",
        "01 09:20",
        "01 09:40",
        "01 10:00",
        "01 10:20",
        "01 10:40",
        "02 09:00",
    ]


def test_a_range_of_hours_or_minutes_wraps_around_midnight() -> None:
    # 50-5/5 is 50, 55, 0, 5; 22-1 is 22, 23, 0, 1
    assert fire_times("50-5/5 22-1 * * *", 9, START - timedelta(microseconds=1)) == [
        "01 00:00",
        "01 00:05",
        "01 00:50",
        "01 00:55",
        "01 01:00",
        "01 01:05",
        "01 01:50",
        "01 01:55",
        "01 22:00",
    ]


def test_six_fields_put_seconds_first() -> None:
    trigger = CronTrigger("15,45 */30 * * * *")
    fire = trigger.next_fire_time(START)
    assert fire is not None
    assert fire.isoformat() == "2026-01-01T00:00:15+00:00"
    assert trigger.next_fire_time(fire) == datetime(2026, 1, 1, 0, 0, 45, tzinfo=UTC)
    after = datetime(2026, 1, 1, 0, 0, 45, tzinfo=UTC)
    assert trigger.next_fire_time(after) == datetime(2026, 1, 1, 0, 30, 15, tzinfo=UTC)


def test_fires_are_strictly_after_even_within_the_second() -> None:
    trigger = CronTrigger("* * * * *")
    fire = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert trigger.next_fire_time(fire) == fire + timedelta(minutes=1)
    assert trigger.next_fire_time(fire - timedelta(microseconds=1)) == fire
    assert trigger.next_fire_time(fire + timedelta(microseconds=1)) == fire + timedelta(minutes=1)


@pytest.mark.parametrize(
    "macro, equivalent",
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_macros_mean_their_expressions_and_keep_their_name(macro: str, equivalent: str) -> None:
    trigger, plain = CronTrigger(macro.upper()), CronTrigger(equivalent)
    after = START
    for _ in range(4):
        fire = trigger.next_fire_time(after)
        assert fire is not None and fire == plain.next_fire_time(after)
        after = fire
    assert str(trigger) == f"cron {macro.upper()}"
    assert trigger.follows_elapsed_time == (macro == "@hourly")


def test_the_text_is_the_expression_as_given() -> None:
    assert str(CronTrigger(" 0  3 * * MON-FRI ")) == "cron 0  3 * * MON-FRI"
    assert str(CronTrigger.from_spec("H H * * *", job_name="a")) == "cron H H * * *"


def test_the_time_zone_is_kept_and_named_zones_are_resolved() -> None:
    trigger = CronTrigger("0 9 * * *", timezone="Europe/Berlin")
    assert str(trigger.timezone) == "Europe/Berlin"
    assert trigger.next_fire_time(START) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        CronTrigger("0 9 * * *", timezone="Mars/Olympus")


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CronTrigger("* * * * *").next_fire_time(datetime(2026, 1, 1))


# -- hashed fields --------------------------------------------------------------------------


def test_hashed_fields_are_stable_per_job_and_differ_between_jobs() -> None:
    minutes = {
        CronExpression.parse("H * * * *", job_name=f"job-{n}").minute.values for n in range(50)
    }
    assert len(minutes) > 20
    for name in ("backup", "report"):
        first = CronExpression.parse("H H(0-5) H * *", job_name=name)
        again = CronExpression.parse("H H(0-5) H * *", job_name=name)
        assert first == again
        (hour,) = first.hour.values
        (day,) = first.day_of_month.values
        assert 0 <= hour <= 5 and 1 <= day <= 28


def test_hashed_steps_keep_the_step_with_a_hashed_offset() -> None:
    offsets = set()
    for n in range(30):
        values = sorted(CronExpression.parse("H/15 * * * *", job_name=f"j{n}").minute.values)
        assert len(values) == 4 and {b - a for a, b in pairwise(values)} == {15}
        offsets.add(values[0])
    assert len(offsets) > 5
    values = sorted(CronExpression.parse("H(0-29)/10 * * * *", job_name="x").minute.values)
    assert len(values) == 3 and values[0] < 10 and values[-1] <= 29


def test_hashed_fields_do_not_depend_on_the_process() -> None:
    code = (
        "from sts_cron import CronExpression\n"
        "e = CronExpression.parse('H H * * H', job_name='nightly')\n"
        "print(sorted(e.minute.values), sorted(e.hour.values))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(result.stdout)
    here = CronExpression.parse("H H * * H", job_name="nightly")
    assert outputs == {f"{sorted(here.minute.values)} {sorted(here.hour.values)}\n"}


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, message",
    [
        ("61 * * * *", "minute (field 1) has 61, out of range; minute accepts 0-59"),
        ("* 24 * * *", "hour (field 2) has 24, out of range; hour accepts 0-23"),
        ("* * 0 * *", "day of month (field 3) has 0, out of range; day of month accepts 1-31"),
        ("* * * 13 *", "month (field 4) has 13, out of range; month accepts 1-12 or JAN-DEC"),
        ("* * * * 8", "day of week (field 5) has 8, out of range; day of week accepts 0-7"),
        ("60 * * * * *", "second (field 1) has 60, out of range; second accepts 0-59"),
        ("0 60 * * * *", "minute (field 2) has 60"),
        ("* * * JANUARY *", "month (field 4) has the unknown name 'JANUARY'; month accepts 1-12"),
        ("* * * * FUN", "day of week (field 5) has the unknown name 'FUN'"),
        ("*/0 * * * *", "minute (field 1) has the step '0' in '*/0'; a step is a number 1-60"),
        ("* * * * 1#6", "day of week (field 5) has '1#6': the number after '#' is which week"),
        ("1,,2 * * * *", "minute (field 1) has an empty item"),
        ("? * * * *", "minute (field 1) has '?', which is not a number"),
        ("* * ?,1 * *", "day of month (field 3) has '?', which is not a number"),
        ("* * 32W * *", "day of month (field 3) has 32, out of range"),
        ("* * * * 8L", "day of week (field 5) has 8, out of range"),
        ("* * *", "expected 5 fields (minute hour day-of-month month day-of-week), or 6 with"),
        ("* * * * * * *", "or a macro such as @daily; got 7"),
        ("", "got 0"),
        ("@fortnightly", "unknown macro; expected one of @yearly, @annually, @monthly"),
        ("* * 31 2 *", "day of month (field 3) 31 never occurs in month (field 4) 2"),
        ("0 0 0 30 2 *", "day of month (field 4) 30 never occurs in month (field 5) 2"),
        ("* * 31 APR,JUN *", "(April, June: at most 30 days), so it never fires"),
        ("* * 30-31 2 *", "day of month accepts 1-29 in those months"),
        ("* * 30 2 */2", "day of month (field 3) 30 never occurs"),
    ],
)
def test_invalid_expressions_name_the_field_its_position_and_the_range(
    expression: str, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        CronTrigger(expression)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"invalid cron expression {expression.strip()!r}")


def test_a_day_that_only_fails_in_some_months_is_fine() -> None:
    assert fire_days("0 12 31 1-2 *")[:2] == [date(2026, 1, 31), date(2027, 1, 31)]
    # Either day field may fire: the 31st never comes in February, but Mondays do.
    assert fire_days("0 12 31 2 MON")[0] == date(2026, 2, 2)
