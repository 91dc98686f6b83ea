"""A fire loop that cannot die: a broken trigger or store call sets its one job aside
(paused, with the reason, recorded and logged once) while every other job fires on."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from core_helpers import Recorder

import sts
from sts.testing import VirtualClock
from sts_core.service.control.commands import job_row
from sts_core.service.control.stats import SchedulerStats
from sts_core.store import JobState, MemoryStore


class CountingTrigger:
    """Fires every second until ``breaks_after`` answers, then answers ``broken(after)``."""

    def __init__(self, breaks_after: int, broken: object) -> None:
        self.calls = 0
        self.breaks_after = breaks_after
        self.broken = broken
        self.fixed = False

    def next_fire_time(self, after: datetime) -> datetime | None:
        self.calls += 1
        if self.calls <= self.breaks_after or self.fixed:
            return after + timedelta(seconds=1)
        if callable(self.broken):
            return self.broken(after)  # type: ignore[no-any-return]
        raise ZeroDivisionError("the trigger divided by zero")

    def __str__(self) -> str:
        return "counting"


def _raise(after: datetime) -> datetime:
    raise ZeroDivisionError("the trigger divided by zero")


BROKEN_ANSWERS = {
    "raises": _raise,
    "naive": lambda after: after.replace(tzinfo=None) + timedelta(seconds=1),
    "past": lambda after: after - timedelta(seconds=5),
    "equal": lambda after: after,
    "not a datetime": lambda after: 42,
}


@pytest.mark.parametrize("kind", list(BROKEN_ANSWERS))
def test_a_broken_trigger_sets_its_job_aside_and_the_others_fire_on(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    good, bad = Recorder(virtual_clock, name="good"), Recorder(virtual_clock, name="bad")
    trigger = CountingTrigger(breaks_after=3, broken=BROKEN_ANSWERS[kind])
    caplog.set_level(logging.WARNING, logger="sts")

    async def main() -> tuple[sts.TaskScheduler, bool]:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(good, "every 1s")
            scheduler.schedule(bad, trigger)
            await asyncio.sleep(10.5)
            return scheduler, scheduler.running

    scheduler, running = virtual_clock.run(main())
    assert running
    assert len(good.starts) == 10  # every other job fired on, every second
    assert len(bad.starts) == 2  # the fires before the trigger broke
    # Not retried in a tight loop: the trigger is asked once more after it broke.
    assert trigger.calls == 4
    job = scheduler.get_job("bad")
    assert job.paused and job.paused_reason is not None
    expected = "fire failed: ZeroDivisionError" if kind == "raises" else "broken trigger"
    assert expected in job.paused_reason
    # Recorded: a failed record the user sees in the history, saying the job is paused.
    last = scheduler.store.history("bad", limit=1)[0]
    assert last.outcome == sts.Outcome.FAILED
    assert (last.error or "").startswith("job set aside (paused until resumed): ")
    assert expected in (last.error or "")
    assert last.traceback
    # Logged once, with the job's name.
    lines = [r for r in caplog.records if "bad" in r.getMessage() and "set aside" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.ERROR
    # The job row of the control protocol (and so the TUI) carries the reason.
    assert job_row(job, SchedulerStats(), UTC)["paused_reason"] == job.paused_reason


def test_resuming_clears_the_reason_and_a_still_broken_trigger_is_set_aside_again(
    virtual_clock: VirtualClock,
) -> None:
    task = Recorder(virtual_clock, name="flaky")
    trigger = CountingTrigger(breaks_after=1, broken=BROKEN_ANSWERS["past"])

    async def main() -> list[object]:
        seen: list[object] = []
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, trigger)
            await asyncio.sleep(3)
            job = scheduler.get_job("flaky")
            seen.append(job.paused_reason)
            scheduler.resume(job)  # still broken: set aside again at once
            seen.append((job.paused, job.paused_reason))
            trigger.fixed = True
            scheduler.resume(job)
            seen.append((job.paused, job.paused_reason))
            await asyncio.sleep(3.5)
            seen.append(len(task.starts))
        return seen

    reason, again, fixed, starts = virtual_clock.run(main())
    assert "broken trigger 'counting'" in str(reason)
    paused, reason_again = again  # type: ignore[misc]
    assert paused and "broken trigger 'counting'" in reason_again
    assert fixed == (False, None)
    # The fire at 1 s found the trigger broken (recorded failed, not run); then 4, 5, 6.
    assert starts == 3


def test_a_store_that_fails_for_one_job_sets_only_that_job_aside(
    virtual_clock: VirtualClock,
) -> None:
    class FailingStore(MemoryStore):
        def save_job(self, state: JobState) -> None:
            if state.name == "doomed" and state.last_fire is not None:
                raise OSError(28, "No space left on device")
            super().save_job(state)

    good, doomed = Recorder(virtual_clock, name="good"), Recorder(virtual_clock, name="doomed")

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock, store=FailingStore()) as scheduler:
            scheduler.schedule(good, "every 1s")
            scheduler.schedule(doomed, "every 1s")
            await asyncio.sleep(5.5)
            assert scheduler.running
        return scheduler

    scheduler = virtual_clock.run(main())
    assert len(good.starts) == 5
    job = scheduler.get_job("doomed")
    assert job.paused and "fire failed: OSError" in (job.paused_reason or "")
    assert "No space left on device" in (job.paused_reason or "")


def test_running_is_false_when_the_fire_loop_dies(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenClock(VirtualClock):
        """Its time cannot be read after a while (outside any one job's fire)."""

        broken = False

        def timestamp(self) -> float:
            if self.broken:
                raise RuntimeError("the clock is gone")
            return super().timestamp()

    clock = BrokenClock()
    task = Recorder(clock, name="tick")

    async def main() -> tuple[bool, bool]:
        scheduler = sts.TaskScheduler(clock=clock)
        await scheduler.start()
        scheduler.schedule(task, "every 1s")
        await asyncio.sleep(2.5)
        before = scheduler.running
        clock.broken = True
        await asyncio.sleep(1)
        clock.broken = False
        after = scheduler.running
        await scheduler.stop()
        return before, after

    before, after = clock.run(main())
    assert before and not after
    assert any("fire loop" in r.getMessage() for r in caplog.records if r.levelno >= 50)


def test_a_trigger_broken_at_schedule_time_is_the_callers_error_and_adds_nothing(
    virtual_clock: VirtualClock,
) -> None:
    scheduler = sts.TaskScheduler(clock=virtual_clock)
    task = Recorder(virtual_clock, name="never")
    with pytest.raises(ValueError, match=r"broken trigger.*aware datetime"):
        scheduler.schedule(task, lambda after: datetime(2027, 1, 1))
    assert scheduler.jobs == []


def test_a_store_failing_as_a_run_starts_still_records_the_run_and_the_rest_go_on(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    class StartFails(MemoryStore):
        def run_started(self, run: sts.RunContext) -> None:
            if run.job == "unlucky":
                raise OSError(5, "Input/output error")
            super().run_started(run)

    good, unlucky = Recorder(virtual_clock, name="good"), Recorder(virtual_clock, name="unlucky")

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock, store=StartFails()) as scheduler:
            scheduler.schedule(good, "every 1s")
            scheduler.schedule(unlucky, "every 1s")
            await asyncio.sleep(3.5)
            assert scheduler.running and scheduler.runs_in_flight == 0
        return scheduler

    scheduler = virtual_clock.run(main())
    assert len(good.starts) == 3
    records = scheduler.store.history("unlucky")
    assert [record.outcome for record in records] == [sts.Outcome.FAILED] * 3
    assert all("STS failed around the task: OSError" in (r.error or "") for r in records)
    assert sum("failed inside STS" in r.getMessage() for r in caplog.records) == 3


def test_why_a_job_was_set_aside_survives_a_restart(virtual_clock: VirtualClock) -> None:
    """The reason is stored with the pause: a restarted scheduler still says why."""
    store = MemoryStore()

    def build(breaks_after: int) -> sts.TaskScheduler:
        scheduler = sts.TaskScheduler(clock=virtual_clock, store=store)
        trigger = CountingTrigger(breaks_after=breaks_after, broken=_raise)
        scheduler.schedule(Recorder(virtual_clock, name="bad"), trigger)
        return scheduler

    async def main() -> tuple[str | None, bool, str | None]:
        async with build(breaks_after=1) as first:
            await asyncio.sleep(3)
            reason = first.get_job("bad").paused_reason
        async with build(breaks_after=1000) as second:  # mended, but still paused
            job = second.get_job("bad")
            return reason, job.paused, job.paused_reason

    reason, paused, restored = virtual_clock.run(main())
    assert reason is not None and "divided by zero" in reason
    assert paused and restored == reason


def test_a_job_set_aside_comes_back_when_its_schedule_changed_at_a_restart(
    virtual_clock: VirtualClock,
) -> None:
    """Fixing the schedule and restarting resumes the job, as a live reload of the fix
    does; a job paused by hand stays paused."""
    store = MemoryStore()
    store.save_job(JobState("bad", paused=True, schedule="counting", paused_reason="broke"))
    store.save_job(JobState("held", paused=True, schedule="counting"))
    scheduler = sts.TaskScheduler(clock=virtual_clock, store=store)
    scheduler.schedule(Recorder(virtual_clock, name="bad"), "every 5s")
    scheduler.schedule(Recorder(virtual_clock, name="held"), "every 5s")

    async def main() -> tuple[bool, bool]:
        async with scheduler:
            await asyncio.sleep(6)
            return scheduler.get_job("bad").paused, scheduler.get_job("held").paused

    assert virtual_clock.run(main()) == (False, True)


def test_a_one_shot_job_that_fired_before_a_restart_does_not_fire_again(
    virtual_clock: VirtualClock,
) -> None:
    """Its stored state says it fired and has no next fire: the restarted scheduler, given
    the same job, leaves it done (it ran its one fire again, or recorded it missed)."""
    store = MemoryStore()
    when = datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
    task = Recorder(virtual_clock, name="once")

    def build() -> sts.TaskScheduler:
        scheduler = sts.TaskScheduler(clock=virtual_clock, store=store)
        scheduler.schedule(task, sts.DateTrigger(when), name="once")
        return scheduler

    async def main() -> None:
        async with build():
            await asyncio.sleep(5)
        assert len(task.starts) == 1
        async with build() as second:
            await asyncio.sleep(5)
            assert second.get_job("once").next_fire is None

    virtual_clock.run(main())
    assert len(task.starts) == 1
    assert [str(record.outcome) for record in store.history("once")] == ["succeeded"]


def test_a_job_past_its_end_goes_on_when_its_end_moved_later_at_a_restart(
    virtual_clock: VirtualClock,
) -> None:
    store = MemoryStore()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    task = Recorder(virtual_clock, name="bounded")

    def build(end_after: float) -> sts.TaskScheduler:
        scheduler = sts.TaskScheduler(clock=virtual_clock, store=store)
        scheduler.schedule(
            task, "every 2s", name="bounded", end=start + timedelta(seconds=end_after)
        )
        return scheduler

    async def main() -> None:
        async with build(end_after=5):
            await asyncio.sleep(8)  # fires at 2 and 4 s, then past its end
        assert len(task.starts) == 2
        async with build(end_after=20):  # the same schedule, a later end
            await asyncio.sleep(5)

    virtual_clock.run(main())
    assert len(task.starts) > 2
