"""Property: for random expressions, zones and starts, fires strictly increase, exist in
the zone, and match the expression (or are the end of a gap a fixed-time job was in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sts_cron import CronTrigger

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Tokyo", "UTC"]
ZONES += ["Pacific/Chatham", "Europe/Dublin", "America/Sao_Paulo", "Asia/Kolkata"]
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_RANGES = [(1, 31), (1, 12), (0, 6)]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@dataclass(frozen=True)
class Field:
    text: str
    values: frozenset[int]


@st.composite
def fields(draw: st.DrawFn, low: int, high: int, names: list[str] | None = None) -> Field:
    """A field as text, with the values it means worked out here, not by the parser."""
    kind = draw(st.sampled_from(["star", "star_step", "list"]))
    if kind == "star":
        return Field("*", frozenset(range(low, high + 1)))
    if kind == "star_step":
        step = draw(st.integers(1, high - low + 1))
        return Field(f"*/{step}", frozenset(range(low, high + 1, step)))
    texts, values = [], set()
    for _ in range(draw(st.integers(1, 3))):
        first = draw(st.integers(low, high))
        # A range may wrap around (22-2, FRI-MON), as cronie and Quartz read it.
        last = draw(st.integers(low, high))
        step = draw(st.integers(1, 5))
        span = list(range(first, last + 1))
        if first > last:
            span = [*range(first, high + 1), *range(low, last + 1)]

        def name(value: int) -> str:
            named = names is not None and draw(st.booleans())
            return names[value - low] if named and names is not None else str(value)

        shape = draw(st.sampled_from(["value", "range", "range_step"]))
        if shape == "value":
            texts.append(name(first))
            values.add(first)
        elif shape == "range":
            texts.append(f"{name(first)}-{name(last)}")
            values.update(span)
        else:
            texts.append(f"{name(first)}-{name(last)}/{step}")
            values.update(span[::step])
    return Field(",".join(texts), frozenset(values))


@dataclass(frozen=True)
class Expression:
    second: Field | None
    minute: Field
    hour: Field
    day: Field
    month: Field
    weekday: Field

    @property
    def text(self) -> str:
        parts = [self.minute, self.hour, self.day, self.month, self.weekday]
        head = [self.second] if self.second is not None else []
        return " ".join(field.text for field in [*head, *parts])

    @property
    def fixed(self) -> bool:
        return not (self.minute.text.startswith("*") or self.hour.text.startswith("*"))

    def day_matches(self, day: date) -> bool:
        if day.month not in self.month.values:
            return False
        in_month = day.day in self.day.values
        in_week = day.isoweekday() % 7 in self.weekday.values
        if self.day.text.startswith("*") or self.weekday.text.startswith("*"):
            return in_month and in_week
        return in_month or in_week

    def matches(self, wall: datetime) -> bool:
        second = self.second.values if self.second is not None else {0}
        return (
            wall.second in second
            and wall.minute in self.minute.values
            and wall.hour in self.hour.values
            and self.day_matches(wall.date())
        )


@st.composite
def expressions(draw: st.DrawFn) -> Expression:
    second = draw(st.none() | fields(0, 59))
    # Clocks change around 01:00-03:00 local time: hours there are drawn often.
    near_changes = st.sampled_from(["2", "1,2", "1-3", "0-2/2"]).map(
        lambda text: Field(text, frozenset(_hours(text)))
    )
    minute, hour = draw(fields(0, 59)), draw(near_changes | fields(0, 23))
    if draw(st.booleans()):
        # Every day, so that the day of a clock change is one the expression fires on.
        every = [Field("*", frozenset(range(low, high + 1))) for low, high in DAY_RANGES]
        return Expression(second, minute, hour, *every)
    days = [fields(1, 31), fields(1, 12, MONTHS), fields(0, 6, DAYS)]
    return Expression(second, minute, hour, *(draw(field) for field in days))


def _hours(text: str) -> set[int]:
    found: set[int] = set()
    for part in text.split(","):
        span, _, step = part.partition("/")
        first, _, last = span.partition("-")
        found.update(range(int(first), int(last or first) + 1, int(step or 1)))
    return found


def _changes(zone: ZoneInfo) -> list[datetime]:
    found, instant = [], datetime(2026, 1, 1, tzinfo=UTC)
    before = instant.astimezone(zone).utcoffset()
    while instant.year < 2028:
        instant += timedelta(minutes=15)
        offset = instant.astimezone(zone).utcoffset()
        if offset != before:
            found.append(instant)
        before = offset
    return found


CHANGES = {name: _changes(ZoneInfo(name)) for name in ZONES}


@st.composite
def starts(draw: st.DrawFn, zone: str) -> datetime:
    """Half of the starts lie within hours of a clock change, where the rules bite."""
    near = CHANGES[zone]
    close_to_a_change = draw(st.booleans())
    if near and close_to_a_change:
        offset = draw(st.integers(-4 * 3600, 4 * 3600))
        return draw(st.sampled_from(near)) + timedelta(seconds=offset)
    low, high = datetime(2026, 1, 1), datetime(2027, 12, 31)
    return draw(st.datetimes(low, high, timezones=st.just(UTC)))


def is_gap_end(expression: Expression, instant: datetime, zone: ZoneInfo) -> bool:
    """Whether the clock jumped forward at ``instant`` over a time the expression names."""
    step = timedelta(seconds=1) if expression.second is not None else timedelta(minutes=1)
    wall = instant.astimezone(zone).replace(tzinfo=None)
    skipped = (instant - step).astimezone(zone).replace(tzinfo=None) + step
    while skipped < wall:
        if expression.matches(skipped):
            return True
        skipped += step
    return False


@settings(max_examples=150, deadline=None)
@given(data=st.data(), expression=expressions(), zone_name=st.sampled_from(ZONES))
def test_fires_increase_exist_and_match(
    data: st.DataObject, expression: Expression, zone_name: str
) -> None:
    check_fires(expression, ZoneInfo(zone_name), data.draw(starts(zone_name)))


@st.composite
def daily_near_changes(draw: st.DrawFn) -> Expression:
    """Fixed-time and elapsed-time daily jobs at the hours clocks change."""
    expression = draw(expressions())
    hour = draw(st.sampled_from(["1", "2", "1,2", "1-3"]))
    every = [Field("*", frozenset(range(low, high + 1))) for low, high in DAY_RANGES]
    return Expression(
        expression.second, expression.minute, Field(hour, frozenset(_hours(hour))), *every
    )


@settings(max_examples=100, deadline=None)
@given(data=st.data(), expression=daily_near_changes(), zone_name=st.sampled_from(ZONES[:3]))
def test_daily_jobs_near_clock_changes_fire_by_the_rules(
    data: st.DataObject, expression: Expression, zone_name: str
) -> None:
    change = data.draw(st.sampled_from(CHANGES[zone_name]))
    start = change - timedelta(seconds=data.draw(st.integers(0, 4 * 3600)))
    check_fires(expression, ZoneInfo(zone_name), start)


def check_fires(expression: Expression, zone: ZoneInfo, start: datetime) -> None:
    try:
        trigger = CronTrigger(expression.text, timezone=zone)
    except ValueError:
        # Only an expression no date of a 28-year calendar cycle matches may be refused.
        first = date(2024, 1, 1)
        assert not any(
            expression.day_matches(first + timedelta(days=n)) for n in range(366 * 28)
        ), expression.text
        return
    after = start
    for _ in range(6):
        fire = trigger.next_fire_time(after)
        assert fire is not None, expression.text
        assert fire > after and fire.tzinfo is not None
        local = fire.astimezone(zone)
        wall = local.replace(tzinfo=None)
        # The local time exists: read back in the zone, it is the same instant.
        assert wall.replace(tzinfo=zone, fold=local.fold).astimezone(UTC) == fire
        second_pass = local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
        if expression.fixed:
            assert not second_pass, (expression.text, fire)
            assert expression.matches(wall) or is_gap_end(expression, fire, zone)
        else:
            assert expression.matches(wall), (expression.text, fire)
        after = fire
