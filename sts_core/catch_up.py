"""Fires found overdue together (after a stall, a suspend, a clock step, a restart): which
of them run and which are recorded ``missed``, counted without walking every one.

A job every second, down for a day, has 86,400 overdue fires; the misfire rules need how
many there were, the last one and the next one, which ``Job.count_fires`` answers in O(1)
for interval triggers. Only ``coalesce = false`` walks the fires it is asked to run.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .job import Job

_MICROSECOND = timedelta(microseconds=1)


@dataclass(slots=True)
class Overdue:
    """How the misfire rules sort a job's overdue fires."""

    due: int
    """How many fires were due (the true count)."""
    last_due: datetime
    """The latest fire due now (the job's new ``last_fire``)."""
    following: datetime | None
    """The job's next fire, after now."""
    runs: list[datetime] = field(default_factory=list)
    """The fires to run, oldest first."""
    missed: int = 0
    """How many fires are recorded missed (the true count)."""
    first_missed: datetime | None = None
    last_missed: datetime | None = None
    reason: str = ""
    """Why they are missed, for the record."""


def sort_overdue(job: Job, nominal: datetime, now: float, limit: int) -> Overdue:
    """Sort the fires of ``job`` from ``nominal`` (due) up to ``now`` (a timestamp).

    Fires later than ``misfire_grace`` are missed; of the others, ``coalesce`` runs the
    latest only, otherwise each runs, at most ``limit`` (older ones beyond it are missed).
    """
    policy = job.policy
    grace = policy.misfire_grace
    now_time = datetime.fromtimestamp(now, UTC)
    later, last_due = job.count_fires(nominal, now_time)
    total = 1 + later
    last_due = last_due or nominal
    overdue = Overdue(total, last_due, job.fire_after(last_due))
    last_late = None
    if grace is not None and now - nominal.timestamp() > grace:
        # A fire is late when it is more than the grace before now.
        cutoff = datetime.fromtimestamp(now - grace, UTC) - _MICROSECOND
        more, last_late = job.count_fires(nominal, cutoff)
        last_late = last_late or nominal
        overdue.missed = 1 + more
        overdue.reason = f"misfire_grace is {grace:g}s"
    if overdue.missed == total:
        pass
    elif policy.coalesce:
        overdue.runs = [last_due]
    else:
        _each_within(
            job,
            nominal if last_late is None else job.fire_after(last_late),
            overdue,
            now_time,
            limit,
        )
    if overdue.missed:
        overdue.first_missed = nominal
        overdue.last_missed = overdue.last_missed or last_late
    return overdue


def _each_within(
    job: Job, first: datetime | None, overdue: Overdue, now: datetime, limit: int
) -> None:
    """``coalesce = false``: every fire within the grace runs, up to ``limit``; older ones
    beyond it are missed too, and counted, so none is dropped silently."""
    runs: deque[datetime] = deque(maxlen=limit)
    overflow, last_overflow, fire = 0, None, first
    while fire is not None and fire <= now:
        if len(runs) == limit:
            overflow, last_overflow = overflow + 1, runs[0]
        runs.append(fire)
        fire = job.fire_after(fire)
    overdue.runs = list(runs)
    if overflow:
        overdue.missed += overflow
        overdue.last_missed = last_overflow
        limit_reason = f"at most {limit} fires of a job run at once"
        overdue.reason = f"{overdue.reason}; {limit_reason}" if overdue.reason else limit_reason
