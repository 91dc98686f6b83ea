"""Job policies: retries, timeout, overlap, misfire, jitter, bounds.

A policy comes from the task's class attributes, overridden per ``schedule*`` call or
config key. ``JobPolicy.build`` is the one place that validates them, for Python and
config files alike, so both report the same errors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from .booleans import parse_boolean
from .durations import Duration, parse_duration
from .executor_spec import parse_executor
from .importing import import_callable
from .notify_policy import NO_NOTIFY, NotifyPolicy
from .numbers import parse_whole_number
from .suggest import did_you_mean
from .timezones import resolve_timezone
from .triggers import parse_instant

OVERLAP_MODES = ("skip", "queue", "allow", "replace")
#: The most retries of one fire: 1000 retries 5 minutes apart already span 3.5 days.
MAX_RETRIES = 1000
#: The longest ``backoff`` and ``max_backoff``: one day. Far beyond it, the retry time
#: overflows ``datetime`` (10**14 s is three million years).
MAX_BACKOFF = 86400.0
#: Beyond this many doublings ``backoff * 2**n`` exceeds any ``max_backoff``; capping the
#: exponent keeps the arithmetic finite for any attempt number.
_MAX_DOUBLINGS = 64


class PermanentError(Exception):
    """Raise it from a task to fail the run without any retry."""


class RetryAfter(Exception):
    """Raise it (or a subclass) from a task to fail this attempt and ask that the next one
    wait at least ``seconds``, such as a server's ``Retry-After``.

    The retry policy still decides whether there is a next attempt. Its wait is the longer
    of the job's backoff and ``seconds``, capped at ``max_backoff``, so a server cannot
    park a job for a day.

    :param seconds: the least wait before the next attempt; ``0`` for the plain backoff.
    :param message: what went wrong, for the run record (``str(error)``).
    """

    def __init__(self, seconds: float, message: str | None = None) -> None:
        super().__init__(message if message is not None else f"retry after {seconds:g}s")
        self.seconds = max(0.0, float(seconds))


class SetupError(PermanentError):
    """Raise it from a task whose work cannot start for a reason of its set-up: a missing
    executable, file or secret. The run fails without retry (the next fire tries again),
    and the log gets one line a fire, without a traceback (the record keeps it)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failed or timed-out attempt is retried.

    The delay before retry ``n`` (1-based) is ``backoff * 2**(n-1)``, capped at
    ``max_backoff``, then spread by +/- ``backoff_jitter`` (a fraction) and capped again.

    :param retries: attempts after the first (``retries=3`` tries at most four times).
    :param retry_on: exception types that are retried; others fail at once.
    """

    retries: int = 0
    backoff: float = 1.0
    max_backoff: float = 300.0
    backoff_jitter: float = 0.1
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if (
            isinstance(self.retries, bool)
            or not isinstance(self.retries, int)
            or not 0 <= self.retries <= MAX_RETRIES
        ):
            raise ValueError(
                f"invalid retries {self.retries!r}: expected a whole number from 0 to {MAX_RETRIES}"
            )
        for key in ("backoff", "max_backoff"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"invalid {key} {value!r}: expected a number of seconds")
            if not 0 <= value <= MAX_BACKOFF:  # also refuses NaN
                raise ValueError(
                    f"invalid {key} {value!r}: expected a duration from 0 to 1d "
                    f"(0 to {MAX_BACKOFF:g} seconds)"
                )
        if not 0 <= self.backoff_jitter < 1:
            raise ValueError(
                f"invalid backoff_jitter {self.backoff_jitter!r}: expected a fraction in [0, 1)"
            )

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether attempt number ``attempt``, which raised ``error``, gets another try."""
        return (
            attempt <= self.retries
            and not isinstance(error, PermanentError)
            and isinstance(error, self.retry_on)
        )

    def delay(self, attempt: int, rng: random.Random, error: BaseException | None = None) -> float:
        """Seconds to wait after attempt number ``attempt`` failed (with ``error``): at
        least what a :class:`RetryAfter` asks, and never more than ``max_backoff``; finite
        for any attempt number (``2 ** 1024`` would overflow a float)."""
        doublings = min(max(attempt - 1, 0), _MAX_DOUBLINGS)
        base = min(self.max_backoff, self.backoff * 2.0**doublings)
        if self.backoff_jitter:
            base *= 1 + rng.uniform(-self.backoff_jitter, self.backoff_jitter)
        if isinstance(error, RetryAfter):
            base = max(base, error.seconds)
        return float(min(self.max_backoff, base))


@dataclass(frozen=True, slots=True)
class JobPolicy:
    """Every policy of a job. Build it with :meth:`build`, which validates."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    overlap: str = "skip"
    misfire_grace: float | None = 60.0
    coalesce: bool = True
    jitter: float = 0.0
    timezone: tzinfo | None = None
    start: datetime | None = None
    end: datetime | None = None
    paused: bool = False
    notify: NotifyPolicy = NO_NOTIFY
    """Where and when the job's failures are notified (``notify_policy.py``)."""
    executor: str | None = None
    """Where the job's attempts run: ``NAME`` or ``NAME:TARGET`` of a registered executor
    (``executors.py``); ``None`` for the scheduler's default (``local``: in process)."""

    #: The keys ``build`` and config files accept.
    KEYS = (
        "retries",
        "backoff",
        "max_backoff",
        "backoff_jitter",
        "retry_on",
        "timeout",
        "overlap",
        "misfire_grace",
        "coalesce",
        "jitter",
        "timezone",
        "start",
        "end",
        "paused",
        "notify",
        "notify_on",
        "notify_interval",
        "notify_options",
        "executor",
    )

    #: Keys for which ``None`` (or the text ``none``) means "no limit" rather than "default".
    NONE_MEANS_UNLIMITED = frozenset({"timeout", "misfire_grace", "start", "end"})

    @classmethod
    def build(cls, task: object = None, /, **overrides: Any) -> JobPolicy:
        """The policy of ``task`` (its class attributes) with ``overrides`` applied.

        An override of ``None`` keeps the task's value, except for ``timeout``,
        ``misfire_grace``, ``start`` and ``end``, where it means "no limit". Every value is
        checked here.

        :raises ValueError: naming the key, the value and what would be valid.
        :raises TypeError: for a key that is not a policy.
        """
        fast_key: tuple[Any, ...] | None = None
        if not overrides:
            # The common case, a task scheduled with its class's policy: one lookup keyed by
            # the class and the attribute values themselves (so a changed attribute misses).
            found = [getattr(task, key, _ABSENT) for key in cls.KEYS]
            # The types are part of the key because 1 == True, yet retries=True is an error.
            attributes = (type(task), *found, *map(type, found))
            try:
                built = _BY_TASK_CLASS.get(attributes)
                fast_key = attributes
            except TypeError:  # an unhashable attribute value: build it the long way
                built = None
            if built is not None:
                return built
        unknown = overrides.keys() - _KEY_SET
        if unknown:
            first = sorted(unknown)[0]
            raise TypeError(
                f"unknown job policy {first!r}{did_you_mean(first, cls.KEYS)}: expected one "
                f"of {', '.join(cls.KEYS)}"
            )
        values = {
            key: value for key in cls.KEYS if (value := getattr(task, key, _ABSENT)) is not _ABSENT
        }
        values.update(
            {
                key: value
                for key, value in overrides.items()
                if value is not None or key in cls.NONE_MEANS_UNLIMITED
            }
        )
        key = _cache_key(values)
        if key is None:
            return cls._from_values(values)
        built = _BUILT.get(key)
        if built is None:
            if len(_BUILT) >= _BUILT_LIMIT:
                _BUILT.clear()
            built = _BUILT[key] = cls._from_values(values)
        if fast_key is not None:
            if len(_BY_TASK_CLASS) >= _BUILT_LIMIT:
                _BY_TASK_CLASS.clear()
            _BY_TASK_CLASS[fast_key] = built
        return built

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> JobPolicy:
        retries = values.get("retries", 0)
        if isinstance(retries, RetryPolicy):
            retry = retries
        else:
            retry = RetryPolicy(
                retries=parse_whole_number(retries, what="retries", maximum=MAX_RETRIES),
                backoff=parse_duration(values.get("backoff", 1.0), what="backoff"),
                max_backoff=parse_duration(values.get("max_backoff", 300.0), what="max_backoff"),
                backoff_jitter=float(values.get("backoff_jitter", 0.1)),
                retry_on=_exception_types(values.get("retry_on", (Exception,))),
            )
        overlap = str(values.get("overlap", "skip")).strip().lower()
        if overlap not in OVERLAP_MODES:
            raise ValueError(
                f"invalid overlap {values['overlap']!r}: expected one of {', '.join(OVERLAP_MODES)}"
            )
        timeout = _unlimited(values.get("timeout"))
        grace = _unlimited(values.get("misfire_grace", 60.0))
        zone = values.get("timezone")
        start, end = _aware("start", values.get("start")), _aware("end", values.get("end"))
        _bounds(start, end)
        return cls(
            retry=retry,
            timeout=None if timeout is None else _positive("timeout", timeout),
            overlap=overlap,
            misfire_grace=None if grace is None else parse_duration(grace, what="misfire_grace"),
            coalesce=_boolean("coalesce", values.get("coalesce", True)),
            jitter=parse_duration(values.get("jitter", 0), what="jitter"),
            timezone=None if zone is None else resolve_timezone(zone),
            start=start,
            end=end,
            paused=_boolean("paused", values.get("paused", False)),
            notify=NotifyPolicy.build(
                values.get("notify"),
                values.get("notify_on"),
                values.get("notify_interval"),
                values.get("notify_options"),
            ),
            executor=_executor(values.get("executor")),
        )


_KEY_SET = frozenset(JobPolicy.KEYS)
_ABSENT = object()
#: Policies built before, by the values they were built from. A policy is immutable and
#: most jobs share a few, so a million jobs of one task validate (and hold) one policy.
_BUILT: dict[tuple[Any, ...], JobPolicy] = {}
_BY_TASK_CLASS: dict[tuple[Any, ...], JobPolicy] = {}
_BUILT_LIMIT = 1024
#: Types whose equal values always build equal policies. Datetimes and zones are left
#: out: equal instants in different zones would share the first one's zone.
_CACHEABLE = frozenset({str, int, float, bool, type(None), timedelta, RetryPolicy, tuple})


def _cache_key(values: dict[str, Any]) -> tuple[Any, ...] | None:
    # The type is part of the key because 1 == 1.0 == True, yet retries=True is an error.
    key = []
    for name, value in values.items():
        kind = type(value)
        if kind not in _CACHEABLE or (
            kind is tuple and not all(isinstance(item, str | type) for item in value)
        ):
            return None
        key.append((name, kind, value))
    return tuple(key)


def _executor(value: object) -> str | None:
    if value is None:
        return None
    name, target = parse_executor(value)
    return name if target is None else f"{name}:{target}"


def _boolean(key: str, value: object) -> bool:
    return parse_boolean(value if isinstance(value, bool) else str(value), what=key)


def _unlimited(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() == "none" else value


def _bounds(start: datetime | None, end: datetime | None) -> None:
    # A window that is empty would never fire, silently.
    if start is not None and end is not None and start >= end:
        raise ValueError(
            f"invalid end {end.isoformat()}: it must be after start {start.isoformat()} "
            f"(a job with start >= end never fires)"
        )


def _positive(key: str, value: Duration) -> float:
    seconds = parse_duration(value, what=key)
    if seconds <= 0:
        raise ValueError(f"invalid {key} {value!r}: it must be longer than zero")
    return seconds


def _aware(key: str, value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_instant(value, None, what=key)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"invalid {key} {value!r}: expected an aware datetime (with an offset)")
    return value


def _exception_types(value: object) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, tuple | list) else (value,)
    types = []
    for item in items:
        if isinstance(item, str):
            item = import_callable(item if ":" in item else f"builtins:{item}")
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ValueError(f"invalid retry_on {item!r}: expected exception types")
        types.append(item)
    return tuple(types)
