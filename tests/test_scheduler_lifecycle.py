"""Start, stop, threads, manual runs, the registry, and tasks that misbehave."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from core_helpers import Recorder, offsets

import sts
from sts.testing import VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_graceful_stop_waits_then_cancels(virtual_clock: VirtualClock) -> None:
    quick = Recorder(virtual_clock, name="quick", duration=5)
    slow = Recorder(virtual_clock, name="slow", duration=600)

    async def main() -> tuple[sts.TaskScheduler, float]:
        scheduler = sts.TaskScheduler(clock=virtual_clock, stop_grace="20s")
        await scheduler.start()
        scheduler.schedule(quick, "every 10s")
        scheduler.schedule(slow, "every 10s")
        await asyncio.sleep(11)
        began = virtual_clock.monotonic()
        await scheduler.stop()
        return scheduler, virtual_clock.monotonic() - began

    scheduler, waited = virtual_clock.run(main())
    assert waited == pytest.approx(20.0)
    assert [r.outcome for r in scheduler.store.history("quick")] == [sts.Outcome.SUCCEEDED]
    (slow_record,) = scheduler.store.history("slow")
    assert slow_record.outcome == sts.Outcome.CANCELLED
    assert slow_record.error == "cancelled: the scheduler stopped"
    assert not scheduler.running and scheduler.runs_in_flight == 0


def test_stop_fires_nothing_more(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s")
            await asyncio.sleep(15)
        await asyncio.sleep(100)

    virtual_clock.run(main())
    assert offsets(virtual_clock, task.starts, START) == [10.0]


def test_tasks_that_raise_hang_or_cancel_do_not_stop_the_others(
    virtual_clock: VirtualClock,
) -> None:
    steady = Recorder(virtual_clock, name="steady")

    class Raises(sts.Task):
        async def run(self) -> None:
            raise ValueError("bad data")

    class Exits(sts.Task):
        async def run(self) -> None:
            raise SystemExit(3)

    class Interrupts(sts.Task):
        async def run(self) -> None:
            raise KeyboardInterrupt

    class CancelsItself(sts.Task):
        async def run(self) -> None:
            raise asyncio.CancelledError

    class Hangs(sts.Task):
        async def run(self) -> None:
            await asyncio.Event().wait()

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock, stop_grace=0) as scheduler:
            scheduler.schedule(steady, "every 10s")
            for task in (Raises(), Exits(), Interrupts(), CancelsItself(), Hangs()):
                scheduler.schedule(task, "every 10s", overlap="allow")
            await asyncio.sleep(35)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert offsets(virtual_clock, steady.starts, START) == [10.0, 20.0, 30.0]
    assert [r.error for r in scheduler.store.history("Raises")] == ["ValueError: bad data"] * 3
    assert {r.outcome for r in scheduler.store.history("Exits")} == {sts.Outcome.FAILED}
    assert {r.outcome for r in scheduler.store.history("Interrupts")} == {sts.Outcome.FAILED}
    assert {r.outcome for r in scheduler.store.history("CancelsItself")} == {sts.Outcome.CANCELLED}
    # three hanging runs (allow), cancelled at the stop
    hung = scheduler.store.history("Hangs")
    assert [r.outcome for r in hung] == [sts.Outcome.CANCELLED] * 3


def test_async_with_embeds_in_a_running_app(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def app() -> list[str]:
        events = []
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            assert scheduler.running
            scheduler.schedule(task, "every 1m")
            events.append("app works alongside")
            await asyncio.sleep(150)
        assert not scheduler.running
        return events

    assert virtual_clock.run(app()) == ["app works alongside"]
    assert offsets(virtual_clock, task.starts, START) == [60.0, 120.0]


def test_run_now_runs_at_once_and_returns_the_record(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> sts.RunRecord:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 1h")
            await asyncio.sleep(5)
            return await asyncio.wrap_future(scheduler.run_now(task))

    record = virtual_clock.run(main())
    assert record.outcome == sts.Outcome.SUCCEEDED and record.manual
    assert offsets(virtual_clock, task.starts, START) == [5.0]
    assert task.contexts[0].manual


def test_run_now_on_an_unscheduled_task_is_a_manual_job(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, name="by-hand")

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.add_task(task)
            await asyncio.wrap_future(scheduler.run_now("by-hand"))
            await asyncio.wrap_future(scheduler.run_now(task))
            return scheduler

    scheduler = virtual_clock.run(main())
    assert len(task.starts) == 2
    assert scheduler.get_job("by-hand").schedule == "manual"


def test_current_run_outside_a_run_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match="outside a running task"):
        sts.current_run()


def test_run_facts_are_visible_to_the_task(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, name="facts")

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 30s")
            await asyncio.sleep(31)

    virtual_clock.run(main())
    (context,) = task.contexts
    assert context.job == "facts" and context.attempt == 1 and len(context.run_id) == 16
    assert context.idempotency_key == "facts@2026-01-01T00:00:30+00:00"


def test_sync_functions_run_in_the_thread_pool_via_decorators() -> None:
    clock = VirtualClock(autojump_threshold=0.05)
    seen: list[tuple[str, bool, str]] = []

    async def main() -> None:
        async with sts.TaskScheduler(clock=clock) as scheduler:

            @scheduler.every("10s")
            def blocking_work() -> None:
                time.sleep(0.01)  # real blocking work must not block the loop
                run = sts.current_run()
                seen.append((run.job, threading.current_thread() is threading.main_thread(), ""))

            @scheduler.every("10s", retries=1)
            async def async_work() -> None:
                seen.append((sts.current_run().job, True, "async"))

            await asyncio.sleep(15)

    clock.run(main())
    assert sorted(seen) == [("async_work", True, "async"), ("blocking_work", False, "")]


def test_registry_keeps_creation_order_and_names() -> None:
    scheduler = sts.TaskScheduler()
    clock = VirtualClock()
    first, second, named = Recorder(clock), Recorder(clock), Recorder(clock, name="named")
    for task in (first, second, named):
        scheduler.add_task(task)
    scheduler.add_task(first)  # again: no-op
    assert [task.name for task in scheduler.tasks] == ["Recorder", "Recorder-2", "named"]
    assert scheduler.get_task("Recorder-2") is second
    with pytest.raises(ValueError, match="'named' is already registered"):
        scheduler.add_task(Recorder(clock, name="named"))
    with pytest.raises(KeyError, match="no task named 'nope'; known: Recorder, Recorder-2"):
        scheduler.get_task("nope")


def test_default_names_count_on_and_never_hand_out_a_suffix_twice() -> None:
    # A per-name counter (not a search from -2 upward) names unnamed tasks and jobs, so
    # adding stays O(1) however many there are; a removed job's name is not handed to a
    # new job, which would otherwise inherit its stored history.
    scheduler = sts.TaskScheduler()
    clock = VirtualClock()
    scheduler.add_task(Recorder(clock, name="Recorder-4"))
    tasks = [scheduler.add_task(Recorder(clock)) for _ in range(4)]
    assert [task.name for task in tasks] == ["Recorder", "Recorder-2", "Recorder-3", "Recorder-5"]
    scheduler.remove_task("Recorder-2")
    assert scheduler.add_task(Recorder(clock)).name == "Recorder-6"

    report = Recorder(clock, name="report")
    jobs = [scheduler.schedule(report, "every 1h") for _ in range(3)]
    assert [job.name for job in jobs] == ["report", "report[2]", "report[3]"]
    scheduler.remove_job("report[2]")
    scheduler.schedule(report, "every 1h", name="report[4]")
    assert scheduler.schedule(report, "every 1h").name == "report[5]"


def test_one_task_on_two_schedules_makes_two_jobs(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, name="report")

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule_at(task, "10s")
            scheduler.schedule(task, "every 25s")
            await asyncio.sleep(26)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert [job.name for job in scheduler.jobs] == ["report", "report[2]"]
    assert offsets(virtual_clock, task.starts, START) == [10.0, 20.0, 25.0]


def test_remove_task_stops_its_jobs_and_forgets_them(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)
    other = Recorder(virtual_clock, name="other")

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s")
            scheduler.schedule(other, "every 10s")
            await asyncio.sleep(15)
            scheduler.remove_task(task)
            await asyncio.sleep(30)
            with pytest.raises(KeyError):
                scheduler.remove_task(task)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert len(task.starts) == 1 and len(other.starts) == 4
    assert [job.name for job in scheduler.jobs] == ["other"]
    assert scheduler.store.history("Recorder") == []


def test_blocking_false_runs_in_a_thread_and_the_api_is_thread_safe() -> None:
    hits: list[float] = []
    scheduler = sts.TaskScheduler(blocking=False)

    class Ping(sts.Task):
        async def run(self) -> None:
            hits.append(time.monotonic())

    scheduler.run()  # returns at once
    try:
        assert scheduler.running
        job = scheduler.schedule(Ping(), "every 50ms")  # from this (another) thread
        deadline = time.monotonic() + 5
        while len(hits) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(hits) >= 3
        scheduler.pause(job)
        paused_at = len(hits)
        time.sleep(0.2)
        assert len(hits) <= paused_at + 1  # at most one run already under way
    finally:
        scheduler.stop()
    assert not scheduler.running and scheduler.wait_stopped(1)


def test_sts_blocking_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STS_BLOCKING", "false")
    assert sts.TaskScheduler().blocking is False
    monkeypatch.setenv("STS_BLOCKING", "TRUE")
    assert sts.TaskScheduler().blocking is True
    monkeypatch.setenv("STS_BLOCKING", "sometimes")
    with pytest.raises(ValueError, match="invalid STS_BLOCKING 'sometimes'"):
        sts.TaskScheduler()


def test_a_background_start_that_fails_raises_in_the_caller(tmp_path: Path) -> None:
    occupied = tmp_path / "not-a-socket"
    occupied.write_text("a plain file where the control socket should go")
    scheduler = sts.TaskScheduler(blocking=False, control_socket=occupied)
    with pytest.raises(Exception, match="not-a-socket"):
        scheduler.run()
    assert not scheduler.running
    assert occupied.read_text().startswith("a plain file")


def test_a_burst_starts_running_before_every_due_job_has_fired(
    virtual_clock: VirtualClock,
) -> None:
    seen_pending: list[bool] = []
    at = START + timedelta(seconds=10)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:

            class Probe(sts.Task):
                async def run(self) -> None:
                    last = scheduler.get_job("job-999")
                    seen_pending.append(last.next_fire is not None)

            for number in range(1000):
                scheduler.schedule(Probe(name=f"job-{number}"), sts.DateTrigger(at))
            await asyncio.sleep(20)

    virtual_clock.run(main())
    assert len(seen_pending) == 1000
    assert seen_pending[0], "the first run waited until all 1,000 jobs had fired"
    assert not seen_pending[-1]


def test_sync_tasks_run_in_the_schedulers_own_threads() -> None:
    clock = VirtualClock(autojump_threshold=0.05)
    threads: list[str] = []

    async def main() -> None:
        async with sts.TaskScheduler(clock=clock, name="pool-test", max_workers=2) as scheduler:

            @scheduler.every("10s")
            def work() -> None:
                threads.append(threading.current_thread().name)

            await asyncio.sleep(25)

    clock.run(main())
    assert len(threads) == 2
    assert all(name.startswith("sts-pool-test") for name in threads), threads


class CountingDict(dict):  # type: ignore[type-arg]
    """A dict that counts the membership tests made on it (the cost of naming)."""

    checks = 0

    def __contains__(self, key: object) -> bool:
        CountingDict.checks += 1
        return super().__contains__(key)


@pytest.mark.parametrize("size", [2_000, 20_000])
def test_the_cost_of_naming_an_add_does_not_grow_with_the_jobs(size: int) -> None:
    """Issue 12's item 8, counted rather than timed: the name checks an unnamed add makes
    are the same at 2,000 jobs and at 20,000, for tasks of one class and for one task
    scheduled again and again."""
    from sts_core.job_registry import JobRegistry

    registry = JobRegistry()
    registry.tasks, registry.jobs = CountingDict(), CountingDict()
    clock = VirtualClock()
    report = registry.add_task(Recorder(clock, name="report"))
    CountingDict.checks = 0
    for _ in range(size):
        registry.add_task(Recorder(clock))
    per_task = CountingDict.checks / size
    CountingDict.checks = 0
    for _ in range(size):
        name = registry.job_name(report, None)
        registry.jobs[name] = None  # type: ignore[assignment]
    per_job = CountingDict.checks / size
    assert per_task <= 3 and per_job <= 3, (per_task, per_job)
