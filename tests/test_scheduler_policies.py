"""Retries, timeouts, overlap modes, misfires and coalescing, on the virtual clock."""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from core_helpers import Recorder, offsets

import sts
from sts.testing import VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


def outcomes(scheduler: sts.TaskScheduler, job: str) -> list[str]:
    return [str(record.outcome) for record in reversed(scheduler.store.history(job, limit=1000))]


def test_retries_back_off_exponentially_within_jitter(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, fail_times=3)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock, seed=1) as scheduler:
            scheduler.schedule(
                task, "at 2026-01-01T00:00:10+00:00", retries=3, backoff="2s", backoff_jitter=0.1
            )
            await asyncio.sleep(600)
        return scheduler

    scheduler = virtual_clock.run(main())
    starts = offsets(virtual_clock, task.starts, START)
    assert len(starts) == 4 and task.finished == 1
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    for gap, nominal in zip(gaps, [2, 4, 8], strict=True):
        assert nominal * 0.9 <= gap <= nominal * 1.1, (gaps, nominal)
    assert [context.attempt for context in task.contexts] == [1, 2, 3, 4]
    assert len({context.run_id for context in task.contexts}) == 1
    assert len({context.idempotency_key for context in task.contexts}) == 1
    assert outcomes(scheduler, task.name) == ["failed", "failed", "failed", "succeeded"]
    records = list(reversed(scheduler.store.history(task.name)))
    assert all(record.retry_at is not None for record in records[:3])
    assert records[3].retry_at is None


def test_backoff_is_capped(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, fail_times=6)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(
                task,
                "at 2026-01-01T00:00:01+00:00",
                retries=6,
                backoff="1s",
                max_backoff="5s",
                backoff_jitter=0,
            )
            await asyncio.sleep(600)

    virtual_clock.run(main())
    starts = offsets(virtual_clock, task.starts, START)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_retries_give_up_after_the_last_attempt(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, fail_times=10)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "at 2026-01-01T00:00:01+00:00", retries=2, backoff="1s")
            await asyncio.sleep(600)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert outcomes(scheduler, task.name) == ["failed", "failed", "failed"]
    last = scheduler.store.history(task.name)[0]
    assert last.error == "RuntimeError: boom" and last.retry_at is None
    assert last.traceback is not None and "RuntimeError: boom" in last.traceback


def test_permanent_errors_and_unlisted_exceptions_do_not_retry(
    virtual_clock: VirtualClock,
) -> None:
    permanent = Recorder(virtual_clock, name="permanent", fail_times=5, error=sts.PermanentError)
    unlisted = Recorder(virtual_clock, name="unlisted", fail_times=5, error=KeyError)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(permanent, "at 2026-01-01T00:00:01+00:00", retries=3)
            scheduler.schedule(
                unlisted, "at 2026-01-01T00:00:01+00:00", retries=3, retry_on=(OSError,)
            )
            await asyncio.sleep(600)

    virtual_clock.run(main())
    assert len(permanent.starts) == 1
    assert len(unlisted.starts) == 1


def test_timeout_cancels_the_run_and_records_it(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, duration=3600)
    cancelled_inside: list[bool] = []

    class Hangs(sts.Task):
        async def run(self) -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled_inside.append(True)
                raise

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 1h", timeout="30s")
            scheduler.schedule(Hangs(), "every 1h", timeout="5s", retries=1, backoff="1s")
            await asyncio.sleep(3600 + 60)
        return scheduler

    scheduler = virtual_clock.run(main())
    (record,) = scheduler.store.history(task.name)
    assert record.outcome == sts.Outcome.TIMED_OUT
    assert record.duration == 30.0
    assert record.error == "timed out after 30s"
    # a timed-out attempt is retried like a failure
    assert outcomes(scheduler, "Hangs") == ["timed_out", "timed_out"]
    assert cancelled_inside == [True, True]


def test_overlap_skip_records_the_skipped_fire(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, duration=25)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s")  # overlap = skip is the default
            await asyncio.sleep(45)
        return scheduler

    scheduler = virtual_clock.run(main())
    # runs at 10 (till 35) and 40; the fires at 20 and 30 are skipped
    assert offsets(virtual_clock, task.starts, START) == [10.0, 40.0]
    skipped = [r for r in scheduler.store.history(task.name) if r.outcome == sts.Outcome.SKIPPED]
    assert sorted(offsets(virtual_clock, [r.fire_time for r in skipped], START)) == [20.0, 30.0]
    assert all("overlap = skip" in (record.error or "") for record in skipped)


def test_overlap_queue_keeps_at_most_one_waiting(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, duration=25)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s", overlap="queue")
            await asyncio.sleep(59)
        return scheduler

    scheduler = virtual_clock.run(main())
    # 10 runs till 35; 20 queues, 30 is skipped; the queued 20 starts at 35 (till 60);
    # 40 queues, 50 is skipped.
    assert offsets(virtual_clock, task.starts, START) == [10.0, 35.0]
    assert [c.fire_time for c in task.contexts] == [
        START + timedelta(seconds=10),
        START + timedelta(seconds=20),
    ]
    skipped = [r for r in scheduler.store.history(task.name) if r.outcome == sts.Outcome.SKIPPED]
    assert sorted(offsets(virtual_clock, [r.fire_time for r in skipped], START)) == [30.0, 50.0]


def test_overlap_allow_runs_concurrently(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, duration=25)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s", overlap="allow")
            await asyncio.sleep(45)

    virtual_clock.run(main())
    assert offsets(virtual_clock, task.starts, START) == [10.0, 20.0, 30.0, 40.0]


def test_overlap_replace_cancels_the_running_run(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock, duration=25)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s", overlap="replace")
            await asyncio.sleep(45)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert offsets(virtual_clock, task.starts, START) == [10.0, 20.0, 30.0, 40.0]
    # 10, 20 and 30 were replaced; 40 finished within the stop's grace period
    assert outcomes(scheduler, task.name) == ["cancelled"] * 3 + ["succeeded"]
    cancelled = scheduler.store.history(task.name)[1:]
    assert all("overlap = replace" in (record.error or "") for record in cancelled)


def test_a_stall_past_the_grace_is_recorded_as_missed(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 10s", misfire_grace="15s")
            await asyncio.sleep(12)  # one run at 10
            virtual_clock.jump(3600)  # the machine was suspended for an hour
            await asyncio.sleep(10)  # the loop wakes at 20 (monotonic) = 3620 wall
        return scheduler

    scheduler = virtual_clock.run(main())
    missed = [r for r in scheduler.store.history(task.name) if r.outcome == sts.Outcome.MISSED]
    assert len(missed) == 1
    # fires 20 .. 3620 were due: 3620 (0 s late) and 3610 (10 s) are within the grace
    assert missed[0].missed_count == 359
    assert "misfire_grace is 15s" in (missed[0].error or "")
    # coalesce (the default) runs the fires within the grace once, for the latest
    assert offsets(virtual_clock, task.starts, START) == [10.0, 3620.0]
    assert task.contexts[-1].fire_time == START + timedelta(seconds=3620)


def test_without_coalesce_each_fire_within_the_grace_runs(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(
                task, "every 10s", misfire_grace="35s", coalesce=False, overlap="allow"
            )
            await asyncio.sleep(12)
            virtual_clock.jump(100)
            await asyncio.sleep(10)

    virtual_clock.run(main())
    fires = offsets(virtual_clock, [context.fire_time for context in task.contexts], START)
    assert fires == [10.0, 90.0, 100.0, 110.0, 120.0]


def test_unbounded_grace_runs_once_after_a_long_stall(virtual_clock: VirtualClock) -> None:
    task = Recorder(virtual_clock)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 1s", misfire_grace=None)
            await asyncio.sleep(1.5)
            virtual_clock.jump(86400)
            await asyncio.sleep(1)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert len(task.starts) == 2
    assert not [r for r in scheduler.store.history(task.name) if r.outcome == "missed"]


def test_a_one_shot_in_the_past_is_missed_not_silently_dropped(
    virtual_clock: VirtualClock,
) -> None:
    task = Recorder(virtual_clock)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule_at(task, START - timedelta(hours=2))
            await asyncio.sleep(1)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert task.starts == []
    assert outcomes(scheduler, task.name) == ["missed"]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"overlap": "sometimes"}, "expected one of skip, queue, allow, replace"),
        ({"retries": -1}, "invalid retries -1"),
        ({"timeout": "soon"}, "invalid timeout 'soon'"),
        ({"misfire_grace": "-5s"}, "invalid misfire_grace '-5s'"),
        ({"coalesce": "maybe"}, "expected true or false"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"start": "tomorrow"}, "invalid start 'tomorrow'"),
    ],
)
def test_bad_policies_are_clear_errors(policy: dict[str, object], message: str) -> None:
    scheduler = sts.TaskScheduler()
    with pytest.raises(ValueError, match=re.escape(message)):
        scheduler.schedule(Recorder(VirtualClock()), "every 1s", **policy)
    assert scheduler.jobs == []


def test_an_unknown_policy_names_the_valid_ones() -> None:
    with pytest.raises(TypeError, match=r"unknown job policy 'retires'.*retries"):
        sts.TaskScheduler().schedule(Recorder(VirtualClock()), "every 1s", retires=3)


def test_task_class_attributes_set_the_policy(virtual_clock: VirtualClock) -> None:
    class Flaky(Recorder):
        retries = 2
        backoff = "3s"
        timeout = "1m"

    job = sts.TaskScheduler().schedule(Flaky(virtual_clock), "every 1h")
    assert job.policy.retry.retries == 2
    assert job.policy.retry.backoff == 3.0
    assert job.policy.timeout == 60.0
    overridden = sts.TaskScheduler().schedule(Flaky(virtual_clock), "every 1h", retries=0)
    assert overridden.policy.retry.retries == 0


def test_a_changed_class_attribute_changes_the_next_jobs_policy(
    virtual_clock: VirtualClock,
) -> None:
    class Tunable(Recorder):
        retries = 1

    scheduler = sts.TaskScheduler()
    first = scheduler.schedule(Tunable(virtual_clock), "every 1h")
    Tunable.retries = 4
    second = scheduler.schedule(Tunable(virtual_clock), "every 1h")
    assert (first.policy.retry.retries, second.policy.retry.retries) == (1, 4)
    Tunable.retries = True  # type: ignore[assignment]
    with pytest.raises(ValueError, match="invalid retries True"):
        scheduler.schedule(Tunable(virtual_clock), "every 1h")


def test_a_failure_keeps_its_traceback_with_its_cause_and_no_markers() -> None:
    from sts_core.runner import traceback_text

    def inner() -> None:
        raise KeyError("token")

    try:
        try:
            inner()
        except KeyError as error:
            raise RuntimeError("the disk is full") from error
    except RuntimeError as error:
        text = traceback_text(error)
    assert text.count("Traceback (most recent call last):") == 2
    assert 'raise KeyError("token")' in text and "KeyError: 'token'" in text
    assert "direct cause" in text and text.endswith("RuntimeError: the disk is full\n")
    assert "^^^" not in text
