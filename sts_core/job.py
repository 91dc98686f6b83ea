"""A job: a task on a trigger, with its policy and where it stands."""

from __future__ import annotations

import asyncio
from datetime import datetime, tzinfo

from .policy import JobPolicy
from .store import JobState
from .task import Task
from .triggers import Trigger


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

    @property
    def is_running(self) -> bool:
        return bool(self.running)

    def state(self) -> JobState:
        return JobState(self.name, self.next_fire, self.last_fire, self.paused, self.schedule)

    def __repr__(self) -> str:
        return f"<Job {self.name!r} {self.schedule} next={self.next_fire}>"
