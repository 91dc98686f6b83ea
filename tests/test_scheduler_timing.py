"""Interval, one-shot and custom triggers, bounds, pause/resume, on the virtual clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from core_helpers import Recorder, offsets

import sts
from sts.testing import VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_every_fires_on_a_fixed_grid(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule_at(task, "10s")
            await asyncio.sleep(35)

    virtual_clock.run(main())
    assert offsets(virtual_clock, task.starts, START) == [10.0, 20.0, 30.0]


def test_a_week_of_schedule_runs_in_virtual_time(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 1h")
            await asyncio.sleep(7 * 86400 + 1)

    virtual_clock.run(main())
    assert len(task.starts) == 7 * 24
    assert task.starts[-1] == START + timedelta(days=7)


def test_schedule_at_a_datetime_runs_once(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)
    when = START + timedelta(minutes=5)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            job = scheduler.schedule_at(task, when)
            await asyncio.sleep(3600)
            assert job.next_fire is None

    virtual_clock.run(main())
    assert task.starts == [when]


def test_at_text_with_offset(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "at 2026-01-01T09:00+01:00")
            await asyncio.sleep(86400)

    virtual_clock.run(main())
    assert task.starts == [datetime(2026, 1, 1, 8, tzinfo=UTC)]


def test_a_plain_function_is_a_custom_trigger(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    def on_the_quarter_hour(after: datetime) -> datetime | None:
        base = after.replace(second=0, microsecond=0)
        minutes = 15 - base.minute % 15
        return base + timedelta(minutes=minutes)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, on_the_quarter_hour)
            await asyncio.sleep(3600)

    virtual_clock.run(main())
    assert offsets(virtual_clock, task.starts, START) == [900.0, 1800.0, 2700.0, 3600.0]


def test_start_and_end_bound_the_fires(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(
                task,
                sts.IntervalTrigger("10s", anchor=START),
                start=START + timedelta(seconds=25),
                end=START + timedelta(seconds=60),
            )
            await asyncio.sleep(120)

    virtual_clock.run(main())
    assert offsets(virtual_clock, task.starts, START) == [30.0, 40.0, 50.0, 60.0]


def test_pause_stops_fires_and_resume_does_not_replay(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule_at(task, "10s")
            await asyncio.sleep(25)  # fires at 10, 20
            scheduler.pause(task)
            await asyncio.sleep(60)  # 30 .. 80 fall due while paused
            assert scheduler.get_job(task.name).paused
            scheduler.resume(task)  # at 85: next fire 95
            await asyncio.sleep(15)

    virtual_clock.run(main())
    assert offsets(virtual_clock, task.starts, START) == [10.0, 20.0, 95.0]


def test_paused_at_schedule_time(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s", paused=True)
            await asyncio.sleep(100)
            assert task.starts == []
            scheduler.resume(task.name)
            await asyncio.sleep(10)

    virtual_clock.run(main())
    assert offsets(virtual_clock, task.starts, START) == [110.0]


def test_jitter_delays_within_bounds_and_keeps_the_nominal_time(
    virtual_clock: VirtualClock,
) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, seed=7) as scheduler:
            scheduler.schedule(task, "every 60s", jitter="5s")
            await asyncio.sleep(60 * 50 + 10)

    virtual_clock.run(main())
    assert len(task.starts) == 50
    delays = [
        (start - context.fire_time).total_seconds()
        for start, context in zip(task.starts, task.contexts, strict=True)
    ]
    assert all(0 <= delay <= 5 for delay in delays)
    assert len({round(delay, 3) for delay in delays}) > 10, "jitter should vary"
    assert [context.fire_time for context in task.contexts] == [
        START + timedelta(seconds=60 * n) for n in range(1, 51)
    ]


def test_wakes_up_for_a_job_added_while_sleeping(virtual_clock: VirtualClock) -> None:
    late = Recorder(virtual_clock, name="late")
    early = Recorder(virtual_clock, name="early")

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(late, "every 1h")
            await asyncio.sleep(1)
            scheduler.schedule(early, "every 5s")
            await asyncio.sleep(5)

    virtual_clock.run(main())
    assert offsets(virtual_clock, early.starts, START) == [6.0]


@pytest.mark.parametrize("text", ["10", "every", "every ten", "sometimes 5s", "at yesterday"])
def test_bad_schedule_text_is_a_clear_error(text: str) -> None:
    scheduler = sts.TaskScheduler()
    with pytest.raises(ValueError) as error:
        scheduler.schedule(Recorder(VirtualClock()), text)
    message = str(error.value)
    assert repr(text.partition(" ")[2] or text) in message or repr(text) in message
    assert "expected" in message


def test_intervals_count_elapsed_time_across_daylight_saving() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    trigger = sts.IntervalTrigger("1h")
    # 2026-03-29 01:30 CET; the clocks jump from 02:00 to 03:00
    after = datetime(2026, 3, 29, 1, 30, tzinfo=berlin)
    fire = trigger.next_fire_time(after)
    assert fire is not None
    assert fire - after.astimezone(UTC) == timedelta(hours=1)
    assert fire.astimezone(berlin).hour == 3  # 03:30 CEST, one real hour later
    anchored = sts.IntervalTrigger("1h", anchor=datetime(2026, 3, 29, 0, 0, tzinfo=berlin))
    assert anchored.next_fire_time(after) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
