"""A task that blocks the event loop is named in a warning, and the fires it cost other jobs
are recorded: run, or ``missed`` beyond their grace, never lost.

The block is real (``time.sleep`` in an ``async def``), so these tests use the real clock,
with a threshold of a fifth of a second to stay short."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from datetime import timedelta

import pytest

import sts
from sts.testing import VirtualClock


def test_a_blocking_task_is_named_and_the_fires_it_cost_are_recorded_missed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="sts")
    ticks: list[sts.RunContext] = []

    async def tick() -> None:
        ticks.append(sts.current_run())

    async def hog() -> None:
        time.sleep(0.6)  # the mistake: a blocking call in an async task

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(loop_block_threshold=0.2) as scheduler:
            scheduler.schedule(
                sts.FunctionTask(tick, name="tick"),
                "every 50ms",
                misfire_grace="0.1s",
                coalesce=False,
                overlap="allow",
            )
            hog_job = scheduler.schedule(sts.FunctionTask(hog, name="hog"), "every 10s")
            await asyncio.sleep(0.2)
            scheduler.run_now(hog_job)
            await asyncio.sleep(0.9)
            scheduler.pause("tick")
            await asyncio.sleep(0.05)
        return scheduler

    scheduler = asyncio.run(main())
    messages = [r.getMessage() for r in caplog.records]
    named = [m for m in messages if "event loop is blocked" in m]
    assert any("job=hog run=" in m for m in named), messages
    # Measured from the first unanswered ping: at least the 0.6 s sleep less that ping's lag.
    blocked = [re.search(r"was blocked (\d+\.\d+)s by job=hog run=", m) for m in messages]
    assert any(match and float(match[1]) >= 0.5 for match in blocked), messages
    # Every fire of tick, from its first to its last, ran or is counted in a missed record.
    history = scheduler.store.history("tick", limit=1000)
    missed = [record for record in history if record.outcome == sts.Outcome.MISSED]
    assert missed, "the block cost fires beyond their 0.1 s grace"
    counted = len(ticks) + sum(record.missed_count for record in missed)
    fire_times = [context.fire_time for context in ticks] + [r.fire_time for r in missed]
    span = max(fire_times) - min(context.fire_time for context in ticks)
    assert counted == span // timedelta(milliseconds=50) + 1


def test_the_watchdog_leaves_an_idle_scheduler_alone() -> None:
    async def main() -> int:
        async with sts.TaskScheduler(loop_block_threshold=0.05) as scheduler:
            watchdog = scheduler._watchdog
            assert watchdog is not None
            await asyncio.sleep(0.3)  # no run under way: the watchdog thread waits
            return len(watchdog.blocks) + int(watchdog._busy.is_set())

    assert asyncio.run(main()) == 0


def test_the_watchdog_does_not_hold_a_virtual_clock_still() -> None:
    """A virtual loop jumps only when no real I/O comes: the watchdog's pings must not
    keep it from jumping while a run waits an hour of virtual time for its retry."""
    clock = VirtualClock(autojump_threshold=0.5)
    attempts: list[float] = []
    outcomes: list[sts.Outcome] = []

    async def main() -> None:
        async with sts.TaskScheduler(clock=clock) as scheduler:

            @scheduler.every("1d", retries=1, backoff="1h", jitter=0)
            async def flaky() -> None:
                attempts.append(clock.timestamp())
                if len(attempts) == 1:
                    raise RuntimeError("first attempt fails")

            record = await asyncio.wrap_future(scheduler.run_now("flaky"))
            outcomes.append(record.outcome)

    # Held still, the clock would never reach the retry: bound the wait in real time.
    runner = threading.Thread(target=clock.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "virtual time did not jump to the retry"
    assert outcomes == [sts.Outcome.SUCCEEDED]
    assert len(attempts) == 2 and attempts[1] > attempts[0]
