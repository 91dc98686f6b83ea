"""What a run is while it runs (``RunContext``) and what is kept of it (``RunRecord``)."""

from __future__ import annotations

import contextvars
import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class Outcome(enum.StrEnum):
    """How a run (one attempt of it, or a fire that did not run) ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    MISSED = "missed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    NOTIFY_FAILED = "notify_failed"
    """Not a run: a notification about one could not be delivered (the run's own record
    keeps its outcome)."""


@dataclass(slots=True)
class RunContext:
    """The facts of a running attempt, as ``sts.current_run()`` returns them.

    Read them; only ``output`` is meant to be written. (Not a frozen dataclass: building a
    frozen one costs four times as much, on every attempt.)
    """

    run_id: str
    job: str
    fire_time: datetime
    """The nominal instant the trigger fired for (not when the run actually started)."""
    attempt: int
    """1 for the first try, 2 for the first retry, and so on."""
    started_at: datetime
    manual: bool = False
    output: dict[str, str] = field(default_factory=dict)
    """Text a task keeps in its run record for the history (a command's output tail):
    ``sts.current_run().output["stderr"] = tail``."""
    scheduler: str = ""
    """The name of the scheduler running it (for messages that say where they come from)."""
    worker: str = ""
    """Where a remote executor runs it (``host:pid``); empty in the scheduler's process."""
    redelivered: bool = False
    """Whether this attempt was handed to this worker again after the worker that had it
    was lost (it may have done part of its work: use ``idempotency_key``)."""

    @property
    def idempotency_key(self) -> str:
        """``job@fire_time``: the same for every attempt of a fire, and across processes."""
        return f"{self.job}@{self.fire_time.astimezone(UTC).isoformat()}"


@dataclass(slots=True)
class RunRecord:
    """What is kept of an attempt, or of a fire that did not run (missed, skipped)."""

    run_id: str
    job: str
    fire_time: datetime
    outcome: Outcome
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    """One line: the exception's type and message, or why the fire did not run."""
    traceback: str | None = None
    retry_at: datetime | None = None
    """When another attempt follows, its start time; else ``None``."""
    manual: bool = False
    missed_count: int = 0
    """For a ``missed`` record: how many fires it stands for."""
    output: dict[str, str] = field(default_factory=dict)
    """Extra text a task type keeps for the history, like a command's output tail."""

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


_current_run: contextvars.ContextVar[RunContext] = contextvars.ContextVar("sts_current_run")


def current_run() -> RunContext:
    """The facts of the run this code is part of.

    :raises LookupError: when called outside a running task.
    """
    try:
        return _current_run.get()
    except LookupError:
        raise LookupError("sts.current_run() was called outside a running task") from None
