"""A job: a task on a trigger, with its policy and where it stands."""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime, timedelta, tzinfo

from .policy import JobPolicy
from .store import JobState
from .task import Task
from .triggers import Trigger

_MICROSECOND = timedelta(microseconds=1)


class BrokenTrigger(ValueError):
    """A trigger answered something that is not a fire strictly after the time it was
    given: not an aware datetime, or a time already past. Asking again would spin."""


def next_fire_within(
    trigger: Trigger, after: datetime, start: datetime | None, end: datetime | None
) -> datetime | None:
    """The trigger's first fire strictly after ``after`` that lies within ``start``..``end``.

    :raises BrokenTrigger: when the trigger breaks its contract.
    """
    asked = _asked(after, start)
    fire = trigger.next_fire_time(asked)
    if fire is None:
        return None
    # The one check of every trigger's answer; a comparison costs ~50 ns per fire.
    if not isinstance(fire, datetime) or fire.tzinfo is None or fire <= after:
        raise BrokenTrigger(_broken(trigger, asked, fire))
    if end is not None and fire > end:
        return None
    return fire


def first_fire_within(
    trigger: Trigger, now: datetime, start: datetime | None, end: datetime | None
) -> datetime | None:
    """The first fire of a job added or rescheduled at ``now``: a one-shot trigger's own
    (even one already past, so that the misfire rules record it), unless the start bound
    comes later; else the trigger's next fire after ``now`` within ``start``..``end``.

    One rule for the scheduler and for ``sts jobs`` reading a stored state, so that both
    give a job the same first fire.

    :raises BrokenTrigger: when the trigger breaks its contract.
    """
    first = getattr(trigger, "first_fire_time", None)  # optional in the protocol
    if first is not None and (start is None or start <= now):
        fire: datetime | None = first(now)
        return fire
    return next_fire_within(trigger, now, start, end)


def _broken(trigger: Trigger, after: datetime, fire: object) -> str:
    if not isinstance(fire, datetime) or fire.tzinfo is None:
        wrong = "it must return an aware datetime or None"
    else:
        wrong = "it must return a time strictly after the time it is given, or None"
    answer = fire.isoformat() if isinstance(fire, datetime) else repr(fire)
    return f"broken trigger '{trigger}': answered {answer} after {after.isoformat()}; {wrong}"


def _asked(after: datetime, start: datetime | None) -> datetime:
    """What a trigger is asked for a fire after ``after``: before ``start``, the time just
    before it (a fire at ``start`` itself is within the bounds)."""
    return start - _MICROSECOND if start is not None and after < start else after


def upcoming_fires(
    trigger: Trigger,
    after: datetime,
    count: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[datetime]:
    """The next ``count`` fires after ``after`` (fewer when the trigger ends), for plans."""
    fires: list[datetime] = []
    while len(fires) < count:
        fire = next_fire_within(trigger, after, start, end)
        if fire is None:
            break
        fires.append(fire)
        after = fire
    return fires


class Job:
    """A task on a trigger (or on none: a job that only runs when asked), with its policy,
    its next and last fire, and its runs under way."""

    __slots__ = (
        "_schedule_text",
        "generation",
        "last_fire",
        "name",
        "next_fire",
        "paused",
        "paused_reason",
        "policy",
        "queued",
        "running",
        "task",
        "trigger",
    )

    def __init__(self, name: str, task: Task, trigger: Trigger | None, policy: JobPolicy) -> None:
        self.name = name
        self.task = task
        self.trigger = trigger
        self.policy = policy
        self.next_fire: datetime | None = None
        self.last_fire: datetime | None = None
        self.paused = policy.paused
        #: Why STS paused the job itself (a broken trigger); ``None`` when it runs or a
        #: user paused it. Resuming clears it.
        self.paused_reason: str | None = None
        #: Which of the scheduler's heap entries for this job is current (see TaskScheduler).
        self.generation = 0
        #: Runs under way; ``None`` rather than an empty set, so idle jobs hold none.
        self.running: set[asyncio.Task[None]] | None = None
        #: The fire waiting for the running run to end (overlap = queue).
        self.queued: datetime | None = None
        self._schedule_text: str | None = None

    def as_run_started(self, task: Task, policy: JobPolicy) -> Job:
        """This job as a run that took ``task`` and ``policy`` at its start sees it: a copy
        (its state shared) that a live reload replacing the job's task or policy does not
        change, for code that reads them later in the run (a remote executor)."""
        if task is self.task and policy is self.policy:
            return self
        view = copy.copy(self)
        view.task, view.policy = task, policy
        return view

    @property
    def schedule(self) -> str:
        """The trigger as text (``"every 10s"``, ``"cron 0 3 * * *"``), or ``"manual"``."""
        # Kept once made: every fire saves the job's state, and a trigger never changes.
        text = self._schedule_text
        if text is None:
            text = self._schedule_text = "manual" if self.trigger is None else str(self.trigger)
        return text

    @property
    def timezone(self) -> tzinfo | None:
        return getattr(self.trigger, "timezone", None) or self.policy.timezone

    def fire_after(self, after: datetime) -> datetime | None:
        """The job's first fire strictly after ``after``, within its start and end."""
        assert self.trigger is not None
        return next_fire_within(self.trigger, after, self.policy.start, self.policy.end)

    def count_fires(self, after: datetime, until: datetime) -> tuple[int, datetime | None]:
        """How many of the job's fires lie in ``(after, until]`` within its start and end,
        and the last of them.

        A trigger with ``count_fires(after, until)`` (``IntervalTrigger``) answers at once;
        others are walked, counting without keeping the fires.
        """
        trigger, start, end = self.trigger, self.policy.start, self.policy.end
        assert trigger is not None
        if end is not None and until > end:
            until = end
        if until <= after:
            return 0, None
        counter = getattr(trigger, "count_fires", None)
        if counter is not None:
            counted: tuple[int, datetime | None] = counter(_asked(after, start), until)
            return counted
        count, last, fire = 0, None, self.fire_after(after)
        while fire is not None and fire <= until:
            count, last = count + 1, fire
            fire = self.fire_after(fire)
        return count, last

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        """The job's next ``count`` fires after ``after`` (none for a manual job)."""
        if self.trigger is None:
            return []
        return upcoming_fires(self.trigger, after, count, self.policy.start, self.policy.end)

    def state(self) -> JobState:
        return JobState(
            self.name,
            self.next_fire,
            self.last_fire,
            self.paused,
            self.schedule,
            self.paused_reason,
        )

    def __repr__(self) -> str:
        return f"<Job {self.name!r} {self.schedule} next={self.next_fire}>"
