"""The wall clock stepping: backward steps are noticed, logged and recorded, interval jobs
keep their cadence on elapsed time, cron jobs follow the wall clock; after a forward jump
the ``missed`` record carries the true count."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from core_helpers import Recorder, offsets

import sts
from sts.testing import VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


def missed(scheduler: sts.TaskScheduler, job: str) -> list[sts.RunRecord]:
    history = scheduler.store.history(job, limit=10_000)
    return [record for record in history if record.outcome == sts.Outcome.MISSED]


def test_an_interval_job_keeps_its_cadence_when_the_clock_goes_back_an_hour(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    task = Recorder(virtual_clock, name="tick")
    caplog.set_level(logging.WARNING, logger="sts")

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s")
            await asyncio.sleep(25)  # runs at 10 and 20
            virtual_clock.jump(-3600)  # an NTP step back: wall 25 s becomes -3575 s
            await asyncio.sleep(60)  # a minute of elapsed time
        return scheduler

    scheduler = virtual_clock.run(main())
    # Six more runs, 10 s apart in elapsed time, at wall times an hour earlier.
    assert offsets(virtual_clock, task.starts, START) == [
        10.0,
        20.0,
        *(30.0 - 3600 + 10 * n for n in range(6)),
    ]
    assert [step.seconds for step in scheduler.clock_steps] == [-3600.0]
    warnings = [r.getMessage() for r in caplog.records if "went back" in r.getMessage()]
    assert len(warnings) == 1 and "1h" in warnings[0] and "1 interval job" in warnings[0]
    assert not missed(scheduler, "tick")


def test_a_cron_job_follows_the_wall_clock_back_without_a_silent_hour(
    virtual_clock: VirtualClock,
) -> None:
    pytest.importorskip("sts_cron")
    task = Recorder(virtual_clock, name="minutely")

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, timezone="UTC") as scheduler:
            scheduler.schedule(task, "cron * * * * *")
            await asyncio.sleep(150)  # runs at 00:01 and 00:02, now 00:02:30
            virtual_clock.jump(-3600)  # now 23:02:30 the day before
            await asyncio.sleep(300)

    virtual_clock.run(main())
    stamps = [start.strftime("%d %H:%M:%S") for start in task.starts]
    assert stamps == [
        "01 00:01:00",
        "01 00:02:00",
        "31 23:03:00",
        "31 23:04:00",
        "31 23:05:00",
        "31 23:06:00",
        "31 23:07:00",
    ]


class CountingIntervalTrigger(sts.IntervalTrigger):
    """An interval trigger that counts how often the scheduler asks it for a fire."""

    def __init__(self, interval: str) -> None:
        super().__init__(interval)
        self.calls = 0

    def next_fire_time(self, after: datetime) -> datetime | None:
        self.calls += 1
        return super().next_fire_time(after)


def test_after_a_day_long_jump_the_missed_record_carries_the_true_count(
    virtual_clock: VirtualClock,
) -> None:
    task = Recorder(virtual_clock, name="every-second")
    trigger = CountingIntervalTrigger("1s")

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, trigger, misfire_grace="60s")
            await asyncio.sleep(1.5)  # a run at 1
            virtual_clock.jump(86400)  # suspended for a day
            await asyncio.sleep(1)  # the loop wakes at wall 86,402
            return scheduler

    scheduler = virtual_clock.run(main())
    records = missed(scheduler, "every-second")
    assert len(records) == 1
    # Fires 2 .. 86,402 were due; those more than 60 s late (2 .. 86,341) are missed, the
    # 61 within the grace coalesce into one run, for the latest.
    assert records[0].missed_count == 86_340
    assert "86340 fire(s) missed" in (records[0].error or "")
    assert offsets(virtual_clock, task.starts, START) == [1.0, 86402.0]
    # Counted, not walked fire by fire (a walk asks the trigger 86,400 times).
    assert trigger.calls < 100, trigger.calls


def test_without_coalesce_a_long_catch_up_runs_at_most_the_limit_and_counts_the_rest(
    virtual_clock: VirtualClock,
) -> None:
    task = Recorder(virtual_clock, name="each")

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(
                task, "every 1s", misfire_grace=None, coalesce=False, overlap="allow"
            )
            await asyncio.sleep(1.5)
            virtual_clock.jump(3600)
            await asyncio.sleep(1)
        return scheduler

    scheduler = virtual_clock.run(main())
    records = missed(scheduler, "each")
    # 3,601 fires were due (2 .. 3,602): the latest 1,000 ran, the 2,601 before are missed.
    assert len(task.starts) == 1 + 1000
    assert [record.missed_count for record in records] == [2601]
    assert "at most 1000 fires" in (records[0].error or "")
    fires = [context.fire_time for context in task.contexts[1:]]
    assert fires[0] == START + timedelta(seconds=2603) and fires[-1] == START + timedelta(
        seconds=3602
    )


def test_an_anchored_interval_counts_on_its_grid(virtual_clock: VirtualClock) -> None:
    trigger = sts.IntervalTrigger("10s", anchor=START + timedelta(seconds=3))
    count, last = trigger.count_fires(START, START + timedelta(seconds=100))
    walked = []
    fire = trigger.next_fire_time(START)
    while fire is not None and fire <= START + timedelta(seconds=100):
        walked.append(fire)
        fire = trigger.next_fire_time(fire)
    assert count == len(walked) == 10 and last == walked[-1]
