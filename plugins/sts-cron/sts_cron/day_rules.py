"""Which days of one month an expression's day fields pick, by cron's and Quartz's rules.

The calendar search uses this for what croniter cannot read (``LW``, ``W`` in a list,
plain weekdays listed with ``#`` or ``L``); the tests check it against a day-by-day
reference and against croniter where both can read an expression.
"""

from __future__ import annotations

import calendar

from .expression import CronExpression
from .fields import CronField

_SATURDAY, _SUNDAY = 6, 0


def matching_days(expression: CronExpression, year: int, month: int) -> list[int]:
    """The days of ``month`` that fire, ascending: either day field when both are
    restricted (Vixie cron), else both."""
    first_weekday, last = calendar.monthrange(year, month)
    # calendar counts Monday as 0; cron counts Sunday as 0.
    sunday_based = (first_weekday + 1) % 7
    weekdays = [(sunday_based + day - 1) % 7 for day in range(1, last + 1)]
    in_month = _month_days(expression.day_of_month, weekdays)
    in_week = _week_days(expression.day_of_week, weekdays)
    days = in_month | in_week if expression.days_either else in_month & in_week
    return sorted(days)


def _weekday(weekdays: list[int], day: int) -> int:
    return weekdays[day - 1]


def _month_days(field: CronField, weekdays: list[int]) -> set[int]:
    last = len(weekdays)
    days = {day for day in field.values if day <= last}
    for item in field.specials:
        if item == "L":
            days.add(last)
        elif item == "LW":
            day = last
            while _weekday(weekdays, day) in (_SATURDAY, _SUNDAY):
                day -= 1
            days.add(day)
        else:  # nW: the weekday nearest day n, never leaving the month
            days.add(_nearest_weekday(int(item[:-1]), weekdays))
    return days


def _nearest_weekday(target: int, weekdays: list[int]) -> int:
    last = len(weekdays)
    day = min(target, last)
    weekday = _weekday(weekdays, day)
    if weekday == _SATURDAY:
        return day - 1 if day > 1 else day + 2
    if weekday == _SUNDAY:
        return day + 1 if day < last else day - 2
    return day


def _week_days(field: CronField, weekdays: list[int]) -> set[int]:
    last = len(weekdays)
    days = {day for day in range(1, last + 1) if weekdays[day - 1] in field.values}
    for item in field.specials:
        if item.startswith("L"):  # Ld: the last weekday d of the month
            wanted, week = int(item[1:]), range(last - 6, last + 1)
        else:  # d#k: the k-th weekday d of the month
            day_text, _, nth = item.partition("#")
            first = 7 * (int(nth) - 1) + 1
            wanted, week = int(day_text), range(first, min(first + 7, last + 1))
        days.update(day for day in week if weekdays[day - 1] == wanted)
    return days
