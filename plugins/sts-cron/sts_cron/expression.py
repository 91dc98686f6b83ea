"""A whole cron expression: macros, field count, and how the day fields combine."""

from __future__ import annotations

from dataclasses import dataclass

from .fields import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    CronField,
    FieldError,
    FieldSpec,
    parse_field,
)

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIVE = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)
_SIX = (SECOND, *_FIVE)
# The most days each month can have: a day of month beyond all of them never comes.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_LABELS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed, valid cron expression.

    :param text: the expression as given (a macro stays a macro).
    :param second: ``None`` for five fields; seconds come first in six.
    """

    text: str
    second: CronField | None
    minute: CronField
    hour: CronField
    day_of_month: CronField
    month: CronField
    day_of_week: CronField

    @classmethod
    def parse(cls, text: str, *, job_name: str = "") -> CronExpression:
        """Parse ``text``; ``H`` fields hash ``job_name``.

        :raises ValueError: naming the field, its position and the accepted range.
        """
        stripped = text.strip()
        body = stripped
        if stripped.startswith("@"):
            macro = MACROS.get(stripped.lower())
            if macro is None:
                raise ValueError(
                    f"invalid cron expression {text!r}: unknown macro; expected one of "
                    f"{', '.join(MACROS)}"
                )
            body = macro
        parts = body.split()
        specs: tuple[FieldSpec, ...]
        if len(parts) == 5:
            specs = _FIVE
        elif len(parts) == 6:
            specs = _SIX
        else:
            raise ValueError(
                f"invalid cron expression {text!r}: expected 5 fields (minute hour "
                f"day-of-month month day-of-week), or 6 with seconds first, or a macro "
                f"such as @daily; got {len(parts)}"
            )
        fields: list[CronField] = []
        for position, (spec, part) in enumerate(zip(specs, parts, strict=True), start=1):
            try:
                fields.append(parse_field(spec, part, job_name))
            except FieldError as error:
                raise ValueError(
                    f"invalid cron expression {text!r}: {spec.name} (field {position}) "
                    f"{error}; {spec.name} accepts {spec.accepted}"
                ) from None
        second = fields.pop(0) if len(fields) == 6 else None
        expression = cls(stripped, second, *fields)
        expression._check_days_exist(len(parts) - 5)
        return expression

    @property
    def fields(self) -> tuple[CronField, ...]:
        head = () if self.second is None else (self.second,)
        return (*head, self.minute, self.hour, self.day_of_month, self.month, self.day_of_week)

    @property
    def days_either(self) -> bool:
        """Vixie cron: with both day fields restricted, a day matching either one fires;
        if either field starts with ``*`` a day must match both."""
        return not (self.day_of_month.starts_with_star or self.day_of_week.starts_with_star)

    @property
    def follows_elapsed_time(self) -> bool:
        """cronie's rule: a job whose minute or hour field starts with ``*`` runs on real
        elapsed time across a clock change; other jobs are fixed-time jobs."""
        return self.minute.starts_with_star or self.hour.starts_with_star

    def croniter_text(self, *, day_of_month: bool = True, day_of_week: bool = True) -> str:
        """The expression for croniter, seconds first; a day field left out is ``*``."""
        fields = [self.second.croniter_text() if self.second is not None else "0"]
        fields += [self.minute.croniter_text(), self.hour.croniter_text()]
        fields.append(self.day_of_month.croniter_text() if day_of_month else "*")
        fields.append(self.month.croniter_text())
        fields.append(self.day_of_week.croniter_text() if day_of_week else "*")
        return " ".join(fields)

    def _check_days_exist(self, offset: int) -> None:
        """A day of month no chosen month has, with nothing else to fire on, never fires."""
        if self.days_either or self.day_of_month.starts_with_star:
            return
        days = set(self.day_of_month.values)
        if self.day_of_month.specials or not days:
            # L and LW exist in every month, and nW keeps to the month (31W in February
            # is the weekday nearest the 28th or 29th), as in Quartz.
            return
        first = min(days)
        months = sorted(self.month.values)
        if any(first <= _MONTH_DAYS[month - 1] for month in months):
            return
        names = ", ".join(_MONTH_LABELS[month - 1] for month in months)
        longest = max(_MONTH_DAYS[month - 1] for month in months)
        raise ValueError(
            f"invalid cron expression {self.text!r}: day of month (field {3 + offset}) "
            f"{self.day_of_month.text} never occurs in month (field {4 + offset}) "
            f"{self.month.text} ({names}: at most {longest} days), so it never fires; "
            f"day of month accepts 1-{longest} in those months"
        )
