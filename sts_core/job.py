"""A job: a task on a trigger, with its policy and where it stands."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, tzinfo

from .policy import JobPolicy
from .store import JobState
from .task import Task
from .triggers import Trigger

_MICROSECOND = timedelta(microseconds=1)


def next_fire_within(
    trigger: Trigger, after: datetime, start: datetime | None, end: datetime | None
) -> datetime | None:
    """The trigger's first fire strictly after ``after`` that lies within ``start``..``end``."""
    if start is not None and after < start:
        after = start - _MICROSECOND
    fire = trigger.next_fire_time(after)
    if fire is None or (end is not None and fire > end):
        return None
    return fire


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
        #: Which of the scheduler's heap entries for this job is current (see TaskScheduler).
        self.generation = 0
        #: Runs under way; ``None`` rather than an empty set, so idle jobs hold none.
        self.running: set[asyncio.Task[None]] | None = None
        #: The fire waiting for the running run to end (overlap = queue).
        self.queued: datetime | None = None
        self._schedule_text: str | None = None

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

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        """The job's next ``count`` fires after ``after`` (none for a manual job)."""
        if self.trigger is None:
            return []
        return upcoming_fires(self.trigger, after, count, self.policy.start, self.policy.end)

    def state(self) -> JobState:
        return JobState(self.name, self.next_fire, self.last_fire, self.paused, self.schedule)

    def __repr__(self) -> str:
        return f"<Job {self.name!r} {self.schedule} next={self.next_fire}>"
