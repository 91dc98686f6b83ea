"""The plugin's own calendar search, used for what croniter cannot read (``LW``, ``W`` in a
list, plain weekdays listed with ``#`` or ``L``): checked against a day-by-day brute-force
reference written from the rules, and against croniter where both can read an expression."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sts_cron import CronExpression, CronTrigger
from sts_cron.calendar_search import CalendarSearch
from sts_cron.wall_clock_search import WallClockSearch

FIRST, END = date(2027, 1, 1), date(2029, 1, 1)  # 2028 is a leap year
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
#: Month fields, with the months each means.
MONTHS = {
    "*": set(range(1, 13)),
    "JAN-MAR": {1, 2, 3},
    "NOV-FEB": {11, 12, 1, 2},
    "2": {2},
    "FEB,APR": {2, 4},
    "6-8/2": {6, 8},
}


def last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def weekday(day: date) -> int:
    return day.isoweekday() % 7


def is_weekday(day: date) -> bool:
    return day.weekday() < 5


@dataclass(frozen=True)
class Item:
    """One item of a day field as text, and whether it picks a day, by the rules as the
    docs state them, written without the plugin's code."""

    text: str
    picks: Callable[[date], bool]


def nearest_weekday(target: int) -> Callable[[date], bool]:
    def picks(day: date) -> bool:
        last = last_day(day)
        wanted = day.replace(day=min(target, last))
        candidates = [wanted + timedelta(days=shift) for shift in (0, -1, 1, -2, 2)]
        for candidate in candidates:
            if candidate.month == day.month and is_weekday(candidate):
                return day == candidate
        return False

    return picks


def last_weekday(day: date) -> bool:
    later = [day + timedelta(days=n) for n in range(1, last_day(day) - day.day + 1)]
    return is_weekday(day) and not any(is_weekday(other) for other in later)


def cyclic(first: int, last: int, low: int, high: int, step: int) -> frozenset[int]:
    """The values of ``first-last/step`` on the cycle ``low..high``, wrapping if need be."""
    values, value, size = [], first, high - low + 1
    while True:
        values.append(value)
        if value == last:
            break
        value = low + (value - low + 1) % size
    return frozenset(values[::step])


LAST_DAY = Item("L", lambda d: d.day == last_day(d))


def month_range(first: int, last: int, step: int) -> Item:
    values = cyclic(first, last, 1, 31, step)
    return Item(f"{first}-{last}/{step}", lambda d: d.day in values)


@st.composite
def month_items(draw: st.DrawFn) -> Item:
    kind = draw(st.sampled_from(["value", "range", "L", "LW", "W"]))
    if kind == "L":
        return LAST_DAY
    if kind == "LW":
        return Item("LW", last_weekday)
    n = draw(st.integers(1, 31))
    if kind == "W":
        return Item(f"{n}W", nearest_weekday(n))
    if kind == "value":
        return Item(str(n), lambda d: d.day == n)
    return month_range(n, draw(st.integers(1, 31)), draw(st.integers(1, 4)))


@st.composite
def week_items(draw: st.DrawFn) -> Item:
    kind = draw(st.sampled_from(["value", "range", "nth", "last"]))
    d = draw(st.integers(0, 6))
    name = draw(st.sampled_from([DAYS[d], str(d)] + (["7"] if d == 0 else [])))
    if kind == "value":
        return Item(name, lambda day: weekday(day) == d)
    if kind == "nth":
        k = draw(st.integers(1, 5))
        return Item(f"{name}#{k}", lambda day: weekday(day) == d and (day.day - 1) // 7 == k - 1)
    if kind == "last":
        return Item(f"{name}L", lambda day: weekday(day) == d and day.day + 7 > last_day(day))
    last, step = draw(st.integers(0, 6)), draw(st.integers(1, 3))
    values = cyclic(d, last, 0, 6, step)
    return Item(f"{DAYS[d]}-{DAYS[last]}/{step}", lambda day: weekday(day) in values)


@dataclass(frozen=True)
class DayFields:
    month_day: list[Item] | str  # '*' or '?' when unrestricted
    week_day: list[Item] | str
    month: str

    @property
    def text(self) -> str:
        def field(items: list[Item] | str) -> str:
            return items if isinstance(items, str) else ",".join(item.text for item in items)

        return f"0 12 {field(self.month_day)} {self.month} {field(self.week_day)}"

    def picks(self, day: date) -> bool:
        if day.month not in MONTHS[self.month]:
            return False
        in_month = isinstance(self.month_day, str) or any(i.picks(day) for i in self.month_day)
        in_week = isinstance(self.week_day, str) or any(i.picks(day) for i in self.week_day)
        if isinstance(self.month_day, str) or isinstance(self.week_day, str):
            return in_month and in_week
        return in_month or in_week


@st.composite
def day_fields(draw: st.DrawFn) -> DayFields:
    unrestricted = st.sampled_from(["*", "?"])
    month_day = draw(unrestricted | st.lists(month_items(), min_size=1, max_size=4))
    week_day = draw(unrestricted | st.lists(week_items(), min_size=1, max_size=4))
    return DayFields(month_day, week_day, draw(st.sampled_from(sorted(MONTHS))))


def fire_days(trigger: CronTrigger) -> list[date]:
    found: list[date] = []
    start = datetime(FIRST.year, 1, 1, tzinfo=UTC) - timedelta(microseconds=1)
    fire = trigger.next_fire_time(start)
    while fire is not None and fire.date() < END:
        found.append(fire.date())
        fire = trigger.next_fire_time(fire)
    return found


@settings(max_examples=200, deadline=None)
@given(fields=day_fields())
# 30 days and L: croniter took the 31 items for '*' and fired on the 2nd too.
@example(fields=DayFields([LAST_DAY, month_range(3, 1, 1)], "*", "*"))
@example(fields=DayFields([month_range(30, 28, 1), LAST_DAY], "?", "FEB,APR"))
def test_days_agree_with_the_brute_force_reference(fields: DayFields) -> None:
    days = [FIRST + timedelta(days=n) for n in range((END - FIRST).days)]
    expected = [day for day in days if fields.picks(day)]
    try:
        trigger = CronTrigger(fields.text)
    except ValueError:
        # Refused only if no day of a whole 400-year cycle would fire.
        cycle = [date(2000, 1, 1) + timedelta(days=n) for n in range(146_097)]
        assert not any(fields.picks(day) for day in cycle), fields.text
        return
    assert fire_days(trigger) == expected, fields.text


#: Time fields that wrap, step and list, for the comparison with croniter.
TIMES = st.sampled_from(["*", "0", "*/7", "50-10/5", "5,17,59", "H/15"])
HOURS = st.sampled_from(["*", "12", "22-2", "*/5", "0,23", "9-17/4"])


@st.composite
def croniter_readable(draw: st.DrawFn) -> str:
    """Expressions whose day fields croniter reads, with wrapping and listing time fields."""
    month_day = draw(st.sampled_from(["*", "?", "L", "1,L", "15W", "1W", "31W", "*/3", "28-3"]))
    week_day = draw(st.sampled_from(["*", "?", "MON-FRI", "FRI-MON", "5#3", "FRI#5,MON#1", "5L"]))
    second = draw(st.sampled_from(["", "0 ", "*/20 ", "59 "]))
    minute, hour, month = draw(TIMES), draw(HOURS), draw(st.sampled_from(sorted(MONTHS)))
    return f"{second}{minute} {hour} {month_day} {month} {week_day}"


@settings(max_examples=150, deadline=None)
@given(
    text=croniter_readable(),
    start=st.datetimes(datetime(2026, 1, 1), datetime(2028, 12, 31)),
)
def test_the_calendar_search_agrees_with_croniter_where_both_read(
    text: str, start: datetime
) -> None:
    expression = CronExpression.parse(text, job_name="compare")
    croniter_search, own = WallClockSearch(expression), CalendarSearch(expression)
    after_croniter = after_own = start
    for _ in range(12):
        found = croniter_search.next_after(after_croniter)
        assert own.next_after(after_own) == found, (text, after_own)
        assert found is not None
        after_croniter = after_own = found


def test_the_search_is_chosen_by_what_croniter_reads() -> None:
    def uses_calendar(text: str) -> bool:
        return WallClockSearch(CronExpression.parse(text))._calendar is not None

    assert not uses_calendar("0 12 L * FRI#3,MON#1")
    assert not uses_calendar("0 22-2 15W * FRI-SUN")
    assert not uses_calendar("0 12 L,3-31 * *")  # 29 days and L
    for text in (
        "0 12 LW * *",
        "0 12 1,15W * *",
        "0 12 * * MON,FRI#3",
        "0 12 * * 1,5L",
        "0 12 L,3-1/1 * *",  # 30 days and L, which croniter would take for '*'
    ):
        assert uses_calendar(text), text
