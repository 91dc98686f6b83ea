"""``sts.RetryAfter``: a task asks for a longer wait before its next attempt (a server's
``Retry-After``); the job's backoff still applies, and ``max_backoff`` caps the wait."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from core_helpers import offsets

import sts
from sts.testing import VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


class AsksToWait(sts.Task):
    """Fails with ``RetryAfter(wait)`` for each wait in ``waits``, then succeeds."""

    def __init__(self, clock: VirtualClock, waits: list[float]) -> None:
        super().__init__(name="asks")
        self.clock = clock
        self.waits = list(waits)
        self.starts: list[datetime] = []

    async def run(self) -> None:
        self.starts.append(self.clock.now())
        if self.waits:
            raise sts.RetryAfter(self.waits.pop(0), "busy, come back later")


def _gaps(clock: VirtualClock, task: AsksToWait, **policy: object) -> list[float]:
    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=clock) as scheduler:
            scheduler.schedule(task, "at 2026-01-01T00:00:01+00:00", **policy)
            await asyncio.sleep(3600)
        return scheduler

    scheduler = clock.run(main())
    records = list(reversed(scheduler.store.history(task.name)))
    assert [str(record.outcome) for record in records][-1] == "succeeded"
    assert records[0].error == "RetryAfter: busy, come back later"
    starts = offsets(clock, task.starts, START)
    return [later - earlier for earlier, later in itertools.pairwise(starts)]


def test_the_next_attempt_waits_at_least_what_the_task_asked(virtual_clock: VirtualClock) -> None:
    task = AsksToWait(virtual_clock, [7, 0, 2])
    gaps = _gaps(virtual_clock, task, retries=3, backoff="1s", backoff_jitter=0)
    # backoff alone would be 1, 2, 4: a longer request wins, a shorter one changes nothing
    assert gaps == [7.0, 2.0, 4.0]


def test_max_backoff_caps_what_the_task_asked(virtual_clock: VirtualClock) -> None:
    task = AsksToWait(virtual_clock, [86400])
    gaps = _gaps(virtual_clock, task, retries=1, backoff="1s", max_backoff="30s")
    assert gaps == [30.0]


def test_retry_after_does_not_add_attempts(virtual_clock: VirtualClock) -> None:
    task = AsksToWait(virtual_clock, [1, 1, 1])

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "at 2026-01-01T00:00:01+00:00", retries=1)
            await asyncio.sleep(3600)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert [str(r.outcome) for r in scheduler.store.history(task.name)] == ["failed", "failed"]
