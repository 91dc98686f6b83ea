"""One field of a cron expression: its grammar, its range, and what it expands to.

Fields are parsed here rather than by croniter so that an error can name the field, its
position and the accepted range, and so that croniter only ever sees plain lists of
numbers (it reads some spellings, such as the equal range ``5-5``, unlike cron does).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
WEEKDAY_NAMES = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What one field accepts.

    :param hashed: the range an ``H`` draws from (Jenkins keeps day of month to 1-28 so
        that a hashed day exists in every month).
    """

    name: str
    low: int
    high: int
    names: dict[str, int] | None = None
    hashed: tuple[int, int] | None = None

    @property
    def accepted(self) -> str:
        """The accepted values, as the error messages show them."""
        text = f"{self.low}-{self.high}"
        if self.names is MONTH_NAMES:
            text += " or JAN-DEC"
        elif self.names is WEEKDAY_NAMES:
            text += " or SUN-SAT (0 and 7 are Sunday)"
        return text

    @property
    def hash_range(self) -> tuple[int, int]:
        return self.hashed or (self.low, self.high)


SECOND = FieldSpec("second", 0, 59)
MINUTE = FieldSpec("minute", 0, 59)
HOUR = FieldSpec("hour", 0, 23)
DAY_OF_MONTH = FieldSpec("day of month", 1, 31, hashed=(1, 28))
MONTH = FieldSpec("month", 1, 12, MONTH_NAMES)
DAY_OF_WEEK = FieldSpec("day of week", 0, 7, WEEKDAY_NAMES, hashed=(0, 6))


class FieldError(ValueError):
    """A field is invalid; the message is a sentence about that field alone."""


@dataclass(frozen=True, slots=True)
class CronField:
    """A parsed field.

    :param text: the field as written.
    :param values: the plain values it matches (day of week 7 folded to 0).
    :param specials: ``L``, ``15W`` (day of month), ``5#3``, ``L5`` (day of week, croniter's
        spelling of the last Friday), passed to croniter as they are.
    :param starts_with_star: Vixie cron's test for "unrestricted": it decides how day of
        month and day of week combine, and which daylight-saving rule a job follows.
    """

    spec: FieldSpec
    text: str
    values: frozenset[int]
    specials: tuple[str, ...] = ()

    @property
    def starts_with_star(self) -> bool:
        # Quartz's "no specific value", '?', is an unrestricted day field like '*'.
        return self.text.startswith(("*", "?"))

    @property
    def is_star(self) -> bool:
        return self.text in ("*", "?")

    @property
    def croniter_reads(self) -> bool:
        """Whether croniter can read the field as one list: it cannot read ``LW``, a
        ``W`` item in a list, plain days listed with ``#`` or ``L`` items, or 30 days
        listed with ``L``."""
        if any(item == "LW" for item in self.specials):
            return False
        if (
            self.spec is DAY_OF_MONTH
            and self.specials
            and len(self.values) + len(self.specials) == 31
        ):
            # croniter takes a list of 31 items for '*' and counts 'L' as one of them: 30
            # days and L (L,3-1 is every day but the 2nd) would fire on every day.
            return False
        if any(item.endswith("W") for item in self.specials):
            return len(self.specials) == 1 and not self.values
        if self.spec is DAY_OF_WEEK:
            return not (self.specials and self.values)
        return True

    def croniter_text(self) -> str:
        """The field as croniter reads it: ``*`` or a list of plain numbers and specials."""
        if self.is_star:
            return "*"
        return ",".join([str(value) for value in sorted(self.values)] + list(self.specials))


_STEP = r"(?:/(?P<step>[^/]*))?"
_STAR = re.compile(r"\*" + _STEP + r"$")
_HASH = re.compile(r"H(?:\((?P<low>[^-)]*)-(?P<high>[^)]*)\))?" + _STEP + r"$")
_RANGE = re.compile(r"(?P<low>[^-/]+)(?:-(?P<high>[^/]*))?" + _STEP + r"$")
_NEAREST_WEEKDAY = re.compile(r"(?P<day>\d+)W$")
_NTH_WEEKDAY = re.compile(r"(?P<day>[^#]+)#(?P<nth>.*)$")
_LAST_WEEKDAY = re.compile(r"(?P<day>[^L]+)L$")


def parse_field(spec: FieldSpec, text: str, job_name: str) -> CronField:
    """Parse one field.

    :param job_name: what ``H`` hashes, so that each job gets its own stable values.
    :raises FieldError: saying what is wrong with the field.
    """
    values: set[int] = set()
    specials: list[str] = []
    if text == "?" and spec in (DAY_OF_MONTH, DAY_OF_WEEK):
        # Quartz's "no specific value": this day field leaves the choice to the other.
        return CronField(spec, text, frozenset(_expand(spec, "*", job_name)))
    items = text.upper().split(",")
    for item in items:
        if not item:
            raise FieldError(f"has an empty item in {text!r}")
        special = _special(spec, item)
        if special is not None:
            if special not in specials:
                specials.append(special)
        else:
            values.update(_expand(spec, item, job_name))
    if spec is DAY_OF_WEEK and 7 in values:
        values = (values - {7}) | {0}
    return CronField(spec, text, frozenset(values), tuple(specials))


def _special(spec: FieldSpec, item: str) -> str | None:
    """``L``, ``LW``, ``nW``, ``n#k`` or ``nL`` in the day fields, in croniter's spelling."""
    if spec is DAY_OF_MONTH:
        if item in ("L", "LW"):
            return item
        match = _NEAREST_WEEKDAY.match(item)
        if match:
            return f"{_number(spec, match['day'])}W"
    elif spec is DAY_OF_WEEK:
        match = _NTH_WEEKDAY.match(item)
        if match:
            day = _number(spec, match["day"]) % 7
            nth = match["nth"]
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise FieldError(
                    f"has {item!r}: the number after '#' is which week of the month, 1-5"
                )
            return f"{day}#{int(nth)}"
        match = _LAST_WEEKDAY.match(item)
        if match:
            return f"L{_number(spec, match['day']) % 7}"
    return None


def _expand(spec: FieldSpec, item: str, job_name: str) -> range | list[int]:
    match = _STAR.match(item)
    if match:
        return range(spec.low, spec.high + 1, _step(spec, match["step"], item))
    match = _HASH.match(item)
    if match:
        return _expand_hashed(spec, item, match, job_name)
    match = _RANGE.match(item)
    if match is None:
        raise FieldError(f"has {item!r}, which is not a value, a range or a step")
    low = _number(spec, match["low"])
    if match["high"] is None:
        # "10/15" is cron shorthand for "10-<max>/15"; a bare value is itself.
        high = spec.high if match["step"] is not None else low
    else:
        high = _number(spec, match["high"])
    step = _step(spec, match["step"], item)
    if spec is DAY_OF_WEEK and low == 7 and high < 7:
        low = 0  # Sunday as 7 starting a range (7-2) is Sunday as 0: no wrap needed
    if low > high:
        return _wrapped(spec, low, high, step)
    return range(low, high + 1, step)


def _wrapped(spec: FieldSpec, low: int, high: int, step: int) -> list[int]:
    """A range that wraps around, as cronie and Quartz read it: ``22-2`` is 22, 23, 0, 1,
    2; ``FRI-SUN`` is Friday, Saturday, Sunday; a step counts on across the wrap."""
    first, last = (0, 6) if spec is DAY_OF_WEEK else (spec.low, spec.high)
    cycle = [*range(low, last + 1), *range(first, high + 1)]
    return cycle[::step]


def _expand_hashed(spec: FieldSpec, item: str, match: re.Match[str], job_name: str) -> range:
    if match["low"] is None:
        low, high = spec.hash_range
    else:
        low, high = _number(spec, match["low"]), _number(spec, match["high"])
        if low > high:
            raise FieldError(f"has {item!r}, whose range runs backwards; write H(low-high)")
    draw = _hash(job_name, spec.name)
    if match["step"] is None:
        value = low + draw % (high - low + 1)
        return range(value, value + 1)
    step = _step(spec, match["step"], item)
    return range(low + draw % min(step, high - low + 1), high + 1, step)


def _hash(job_name: str, field_name: str) -> int:
    # sha256, not hash(): str hashes change with every process (PYTHONHASHSEED).
    digest = hashlib.sha256(f"{job_name}\0{field_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _step(spec: FieldSpec, text: str | None, item: str) -> int:
    if text is None:
        return 1
    size = spec.high - spec.low + 1
    if not text.isdigit() or not 1 <= int(text) <= size:
        raise FieldError(f"has the step {text!r} in {item!r}; a step is a number 1-{size}")
    return int(text)


def _number(spec: FieldSpec, text: str) -> int:
    if text.isdigit():
        value = int(text)
        if not spec.low <= value <= spec.high:
            raise FieldError(f"has {text}, out of range")
        return value
    if spec.names is not None and text in spec.names:
        return spec.names[text]
    if spec.names is not None and text.isalpha():
        raise FieldError(f"has the unknown name {text!r}")
    raise FieldError(f"has {text!r}, which is not a number")
