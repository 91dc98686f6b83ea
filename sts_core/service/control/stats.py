"""What the control server counts while the scheduler runs: per-job outcomes, fires per
minute and lateness. Fed by the scheduler's listener, on its loop; every update is O(1)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from ...records import Outcome, RunContext, RunRecord
from ...store import is_failure

#: Lateness samples kept for the p99 (the newest ones).
LATENESS_WINDOW = 1000
#: Samples handed to a client for its sparkline.
RECENT_SAMPLES = 60
FIRE_WINDOW = 60.0


@dataclass(slots=True)
class JobStats:
    """Outcomes of a job's attempts since the scheduler started (seeded with its last run)."""

    succeeded: int = 0
    failed: int = 0
    last_outcome: str | None = None
    last_duration: float | None = None
    duration_total: float = 0.0
    duration_count: int = 0

    @property
    def mean_duration(self) -> float | None:
        return self.duration_total / self.duration_count if self.duration_count else None

    def add(self, record: RunRecord) -> None:
        self.last_outcome = str(record.outcome)
        if record.outcome is Outcome.SUCCEEDED:
            self.succeeded += 1
        elif is_failure(record.outcome):
            self.failed += 1
        duration = record.duration
        if duration is not None:
            self.last_duration = duration
            self.duration_total += duration
            self.duration_count += 1


class SchedulerStats:
    """Counters of one scheduler, for ``jobs`` and ``stats``."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobStats] = {}
        #: Counts the scheduler's events. A job row carries the count at which it was built
        #: (its ``revision``): of two rows of one job, the larger revision is the newer, so
        #: a client that mixes event rows with ``jobs`` pages keeps the latest.
        self.revision = 0
        #: Counts jobs added and removed: a client paging through ``jobs`` sees the same
        #: number on every page, or knows the list moved under it and starts over.
        self.generation = 0
        self._fires: deque[float] = deque()
        #: Fires from before the scheduler started, run when it did (catch-up runs).
        self.catch_up_runs = 0
        self._lateness: deque[float] = deque(maxlen=LATENESS_WINDOW)

    def job(self, name: str) -> JobStats:
        stats = self.jobs.get(name)
        if stats is None:
            stats = self.jobs[name] = JobStats()
        return stats

    def seed(self, record: RunRecord) -> None:
        """Take a job's last outcome from the stored history (counts start at zero)."""
        stats = self.job(record.job)
        if stats.last_outcome is None:
            stats.last_outcome = str(record.outcome)
            stats.last_duration = record.duration

    def run_started(self, run: RunContext, now: float, since: datetime | None = None) -> None:
        """:param since: when the scheduler started: a fire from before it is a catch-up
        run, late by design (the scheduler was down), counted apart from the lateness."""
        # A fire is counted once, at its first attempt; manual runs are no fires.
        if run.attempt == 1 and not run.manual:
            self._count_fire(now)
            if since is not None and run.fire_time < since:
                self.catch_up_runs += 1
            else:
                self._lateness.append(max(0.0, (run.started_at - run.fire_time).total_seconds()))

    def run_finished(self, record: RunRecord, now: float) -> None:
        if record.outcome in (Outcome.MISSED, Outcome.SKIPPED):
            self._count_fire(now)
        self.job(record.job).add(record)

    def forget(self, job: str) -> None:
        self.jobs.pop(job, None)

    def _count_fire(self, now: float) -> None:
        self._fires.append(now)
        self._prune(now)

    def _prune(self, now: float) -> None:
        fires = self._fires
        while fires and fires[0] <= now - FIRE_WINDOW:
            fires.popleft()

    def fires_last_minute(self, now: float) -> int:
        self._prune(now)
        return len(self._fires)

    def lateness_p99(self) -> float | None:
        if not self._lateness:
            return None
        ordered = sorted(self._lateness)
        # Nearest rank: the smallest sample with at least 99% of the samples at or below it.
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]

    def recent_lateness(self, count: int = RECENT_SAMPLES) -> list[float]:
        samples = list(self._lateness)
        return samples[-count:]
