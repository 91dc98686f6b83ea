"""The executor seam: a job's attempts carried out elsewhere, reported back, and kept by
the scheduler like local runs (overlap, retries and backoff, records, misses)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import sts
from sts.testing import VirtualClock
from sts_core.service.sqlite_store import SQLiteStore
from sts_core.store import MemoryStore

Script = Callable[[sts.Fire], sts.AttemptReport]


class ScriptedExecutor:
    """An executor whose outcomes a test scripts, after ``delay`` seconds."""

    instances: list[ScriptedExecutor] = []

    def __init__(self, scheduler_name: str, *, delay: float = 0.0) -> None:
        self.scheduler_name = scheduler_name
        self.delay = delay
        self.fires: list[sts.Fire] = []
        self.started = self.closed = False
        self.script: Script = lambda fire: sts.AttemptReport(sts.Outcome.SUCCEEDED)
        self.late: Any = None
        ScriptedExecutor.instances.append(self)

    async def start(self, late: Any) -> None:
        self.started, self.late = True, late

    async def execute(self, job: sts.Job, fire: sts.Fire) -> sts.AttemptReport:
        self.fires.append(fire)
        await asyncio.sleep(self.delay)
        return self.script(fire)

    async def aclose(self) -> None:
        self.closed = True


class ScriptedPlugin:
    @sts.hookimpl
    def sts_register_executors(self, register: Any) -> None:
        register("scripted", ScriptedExecutor)


class Noop(sts.Task):
    async def run(self) -> None:
        raise AssertionError("a remote job's task never runs in the scheduler")


@pytest.fixture
def scripted(register_plugin: Callable[..., str]) -> list[ScriptedExecutor]:
    ScriptedExecutor.instances = []
    register_plugin(ScriptedPlugin(), name="scripted-executor")
    return ScriptedExecutor.instances


def _scheduler(clock: VirtualClock, **options: Any) -> sts.TaskScheduler:
    return sts.TaskScheduler(clock=clock, loop_block_threshold=None, **options)


def test_a_remote_attempt_is_recorded_like_a_local_run(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock
) -> None:
    scheduler = _scheduler(virtual_clock, executor="scripted:gpu")

    async def main() -> None:
        scheduler.schedule(Noop(), "every 10s", name="job")
        async with scheduler:
            (executor,) = scripted  # made on first use, once
            executor.script = lambda fire: sts.AttemptReport(
                sts.Outcome.SUCCEEDED,
                started_at=fire.fire_time,
                finished_at=fire.fire_time,
                output={"stdout": "done"},
                worker="host-b:42",
            )
            await asyncio.sleep(35)
        assert executor.started and executor.closed

    virtual_clock.run(main())
    (executor,) = scripted
    assert [fire.target for fire in executor.fires] == ["gpu"] * 3
    assert executor.scheduler_name == "sts"
    first = executor.fires[0]
    assert first.idempotency_key == f"job@{first.fire_time.isoformat()}"
    assert first.attempt == 1 and not first.manual
    records = scheduler.store.history("job")
    assert [r.outcome for r in records] == [sts.Outcome.SUCCEEDED] * 3
    assert records[0].output == {"stdout": "done", "worker": "host-b:42"}


def test_retries_and_backoff_are_the_schedulers_decision(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock
) -> None:
    scheduler = _scheduler(virtual_clock, executor="scripted")

    def fail(fire: sts.Fire) -> sts.AttemptReport:
        return sts.AttemptReport(
            sts.Outcome.FAILED, error="RuntimeError: no", retry=True, retry_after=7.0
        )

    async def main() -> None:
        scheduler.schedule(Noop(), "every 1h", name="job", retries=2, backoff="1s")
        async with scheduler:
            scripted[0].script = fail
            record = await asyncio.wrap_future(scheduler.run_now("job"))
            assert record.attempt == 3 and record.retry_at is None

    virtual_clock.run(main())
    records = list(reversed(scheduler.store.history("job")))
    assert [r.attempt for r in records] == [1, 2, 3]
    first = records[0]
    assert first.retry_at is not None and first.finished_at is not None
    # The task asked for 7s (RetryAfter): more than the 1s backoff.
    assert (first.retry_at - first.finished_at).total_seconds() == 7.0
    assert [f.attempt for f in scripted[0].fires] == [1, 2, 3]
    assert len({f.idempotency_key for f in scripted[0].fires}) == 1


def test_overlap_counts_outstanding_remote_attempts(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock
) -> None:
    scheduler = _scheduler(virtual_clock, executor="scripted")

    async def main() -> None:
        scheduler.schedule(Noop(), "every 10s", name="job", overlap="skip")
        async with scheduler:
            scripted[0].delay = 25.0  # each attempt outstanding for 25s
            await asyncio.sleep(60)

    virtual_clock.run(main())
    outcomes = [r.outcome for r in reversed(scheduler.store.history("job", limit=100))]
    assert sts.Outcome.SKIPPED in outcomes
    assert outcomes.count(sts.Outcome.SKIPPED) >= 3


def test_a_missed_report_is_a_missed_record(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock
) -> None:
    scheduler = _scheduler(virtual_clock)

    async def main() -> None:
        scheduler.schedule(Noop(), "every 10s", name="job", executor="scripted")
        async with scheduler:
            await asyncio.sleep(10.5)
            scripted[0].script = lambda fire: sts.AttemptReport(
                sts.Outcome.MISSED, error="no worker started it within misfire_grace (60s)"
            )
            await asyncio.sleep(10)

    virtual_clock.run(main())
    missed = [r for r in scheduler.store.history("job") if r.outcome is sts.Outcome.MISSED]
    assert missed and missed[0].missed_count == 1 and missed[0].retry_at is None


def test_an_outcome_for_a_previous_process_is_recorded_reconciled(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock
) -> None:
    scheduler = _scheduler(virtual_clock, executor="scripted")
    fire = datetime.fromisoformat("2026-01-01T00:00:00+00:00")

    async def main() -> None:
        scheduler.schedule(Noop(), "every 1h", name="job")
        async with scheduler:
            await asyncio.wrap_future(scheduler.run_now("job"))
            report = sts.AttemptReport(sts.Outcome.SUCCEEDED, worker="w:1")
            await scripted[0].late("job", fire, 1, "abc", report)

    virtual_clock.run(main())
    (late,) = [r for r in scheduler.store.history("job") if r.run_id == "abc"]
    assert late.outcome is sts.Outcome.SUCCEEDED and late.fire_time == fire
    assert "reconciled" in late.output and late.output["worker"] == "w:1"


def _outcomes(store: Any, run_id: str) -> list[sts.Outcome]:
    return [r.outcome for r in reversed(store.history("job")) if r.run_id == run_id]


def test_a_late_outcome_is_recorded_once_however_many_restarts_ago_its_attempt_was_lost(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock, tmp_path: Path
) -> None:
    """A process dispatched the attempt and was killed (its start on disk, no record); the
    next start recorded it interrupted; the worker's outcome arrives at the start after."""
    path = tmp_path / "state.db"
    fire = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    with SQLiteStore(path, flush_interval=None) as killed:
        killed.run_started(sts.RunContext("abc", "job", fire, 1, fire))
    report = sts.AttemptReport(sts.Outcome.SUCCEEDED, worker="w:1")

    async def start(deliveries: int) -> None:
        with SQLiteStore(path, flush_interval=0.02) as store:
            scheduler = _scheduler(virtual_clock, executor="scripted", store=store)
            scheduler.schedule(Noop(), "every 1h", name="job")
            async with scheduler:
                late = scripted[-1].late
                # A worker that published its outcome twice, both copies here at once
                # (the store is read off the loop meanwhile), then a third copy later.
                await asyncio.gather(
                    *(late("job", fire, 1, "abc", report) for _ in range(deliveries))
                )
                if deliveries:
                    await late("job", fire, 1, "abc", report)

    virtual_clock.run(start(0))  # finds the attempt interrupted
    virtual_clock.run(start(2))
    with SQLiteStore(path, flush_interval=None) as store:
        assert _outcomes(store, "abc") == [sts.Outcome.INTERRUPTED, sts.Outcome.SUCCEEDED]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_late_outcome_of_an_attempt_recorded_cancelled_is_not_recorded_again(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock, tmp_path: Path, kind: str
) -> None:
    """A scheduler stopped past ``stop_grace`` while a worker ran the attempt recorded it
    cancelled; the worker's outcome reaching the next start adds no second record."""
    stores: list[Any] = []

    def scheduler() -> sts.TaskScheduler:
        if kind == "sqlite" or not stores:
            if stores:
                stores[-1].close()
            stores.append(MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "db"))
        made = _scheduler(virtual_clock, executor="scripted", store=stores[-1], stop_grace="1s")
        made.schedule(Noop(), "every 1h", name="job")
        return made

    async def _dispatched() -> sts.Fire:
        while not scripted[-1].fires:
            await asyncio.sleep(0.1)
        return scripted[-1].fires[-1]

    first = scheduler()

    async def run_and_stop() -> sts.Fire:
        async with first:
            scripted[-1].delay = 1000.0
            first.run_now("job")
            return await _dispatched()

    fire = virtual_clock.run(run_and_stop())
    report = sts.AttemptReport(sts.Outcome.SUCCEEDED, worker="w:1")
    second = scheduler()

    async def deliver() -> None:
        async with second:
            await scripted[-1].late("job", fire.fire_time, fire.attempt, fire.run_id, report)

    virtual_clock.run(deliver())
    assert _outcomes(second.store, fire.run_id) == [sts.Outcome.CANCELLED]
    stores[-1].close()


def test_a_late_outcome_of_an_attempt_its_backstop_found_lost_is_not_recorded_again(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock, tmp_path: Path
) -> None:
    """An executor that lost its worker reported the attempt ``interrupted`` itself (it
    saw it end: ``finished_at``), unlike the ``interrupted`` a restart makes: the worker,
    frozen then, reporting after a restart adds no second record (an attacker's find)."""
    path = tmp_path / "state.db"
    lost = sts.AttemptReport(sts.Outcome.INTERRUPTED, error="worker w:1 was lost")

    async def start(report: sts.AttemptReport | None) -> sts.Fire:
        with SQLiteStore(path, flush_interval=0.02) as store:
            scheduler = _scheduler(virtual_clock, executor="scripted", store=store)
            scheduler.schedule(Noop(), "every 1h", name="job")
            async with scheduler:
                if report is None:
                    scripted[-1].script = lambda fire: lost
                    await asyncio.wrap_future(scheduler.run_now("job"))
                    return scripted[-1].fires[-1]
                fire = fired[0]
                await scripted[-1].late("job", fire.fire_time, 1, fire.run_id, report)
                return fire

    fired = [virtual_clock.run(start(None))]
    virtual_clock.run(start(sts.AttemptReport(sts.Outcome.SUCCEEDED, worker="w:1")))
    with SQLiteStore(path, flush_interval=None) as store:
        assert _outcomes(store, fired[0].run_id) == [sts.Outcome.INTERRUPTED]


def test_a_late_outcome_is_recorded_when_the_store_cannot_say_what_it_holds(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock
) -> None:
    """A store that fails the read (a database down): the outcome is recorded (it may be a
    second record) rather than lost after the executor's deliveries run out."""

    class Unreadable(MemoryStore):
        def attempt_records(self, job: str, run_id: str, attempt: int) -> list[sts.RunRecord]:
            raise OSError("the database is down")

    store = Unreadable()
    scheduler = _scheduler(virtual_clock, executor="scripted", store=store)
    fire = datetime.fromisoformat("2026-01-01T00:00:00+00:00")

    async def main() -> None:
        scheduler.schedule(Noop(), "every 1h", name="job")
        async with scheduler:
            report = sts.AttemptReport(sts.Outcome.SUCCEEDED, worker="w:1")
            await scripted[0].late("job", fire, 1, "abc", report)

    virtual_clock.run(main())
    assert _outcomes(store, "abc") == [sts.Outcome.SUCCEEDED]


def test_an_unknown_executor_fails_the_attempt_naming_the_installed_ones(
    virtual_clock: VirtualClock,
) -> None:
    scheduler = _scheduler(virtual_clock)

    async def main() -> sts.RunRecord:
        scheduler.schedule(Noop(), "every 1h", name="job", executor="nosuch")
        async with scheduler:
            return await asyncio.wrap_future(scheduler.run_now("job"))

    record = virtual_clock.run(main())
    assert record.outcome is sts.Outcome.FAILED
    assert record.error is not None
    assert "no executor 'nosuch' is installed" in record.error and "local" in record.error


@pytest.mark.parametrize("bad", ["", "rabbit mq", ":gpu", "rabbitmq:", "a:b:c", "x/y"])
def test_a_bad_executor_value_is_refused_with_what_is_valid(bad: str) -> None:
    with pytest.raises(ValueError, match="expected NAME or NAME:TARGET"):
        sts.JobPolicy.build(executor=bad)
    with pytest.raises(ValueError, match="expected NAME or NAME:TARGET"):
        sts.TaskScheduler(executor=bad)


def test_local_is_the_default_and_runs_in_process(virtual_clock: VirtualClock) -> None:
    ran: list[str] = []

    class Here(sts.Task):
        async def run(self) -> None:
            ran.append(sts.current_run().worker)

    scheduler = _scheduler(virtual_clock, executor="local")

    async def main() -> None:
        scheduler.schedule(Here(), "every 10s", name="job")
        async with scheduler:
            await asyncio.sleep(25)

    virtual_clock.run(main())
    assert ran == ["", ""]
    assert "local" in sts.create_plugins().executors


def test_a_remote_error_and_traceback_are_redacted_like_a_local_run(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock
) -> None:
    from sts_core.service.secrets import EnvironmentSecrets

    secret = "hunter2-remote"
    sts.resolve_secrets("${secret:DB_PASSWORD}", [EnvironmentSecrets({"DB_PASSWORD": secret})])
    scheduler = _scheduler(virtual_clock)

    async def main() -> None:
        scheduler.schedule(Noop(), "every 10s", name="job", executor="scripted")
        async with scheduler:
            scripted[0].script = lambda fire: sts.AttemptReport(
                sts.Outcome.FAILED,
                error=f"OperationalError: password {secret} refused",
                traceback=f"Traceback ...\n  connect(password='{secret}')\nOperationalError",
            )
            await asyncio.sleep(10.5)

    virtual_clock.run(main())
    [failed] = [r for r in scheduler.store.history("job") if r.outcome is sts.Outcome.FAILED]
    assert failed.error == "OperationalError: password ******** refused"
    assert failed.traceback is not None and "connect(password='********')" in failed.traceback
    assert secret not in (failed.error + failed.traceback)


def test_a_remote_run_keeps_the_policy_it_started_with_across_a_reload(
    scripted: list[ScriptedExecutor], virtual_clock: VirtualClock
) -> None:
    scheduler = _scheduler(virtual_clock, executor="scripted")
    seen: list[tuple[int, float | None]] = []

    def fail(fire: sts.Fire) -> sts.AttemptReport:
        return sts.AttemptReport(sts.Outcome.FAILED, error="RuntimeError: no", retry=True)

    class Watching(ScriptedExecutor):
        async def execute(self, job: sts.Job, fire: sts.Fire) -> sts.AttemptReport:
            seen.append((job.policy.retry.retries, job.policy.timeout))
            return await super().execute(job, fire)

    async def main() -> None:
        scheduler.schedule(Noop(), "every 1h", name="job", retries=2, backoff="10s", timeout="1m")
        async with scheduler:
            scripted[0].script = fail
            scripted[0].__class__ = Watching
            done = scheduler.run_now("job")
            await asyncio.sleep(5)  # attempt 1 failed; attempt 2 waits for its backoff
            scheduler.schedule(
                Noop(), "every 1h", name="job", replace=True, retries=0, timeout="2m"
            )
            record = await asyncio.wrap_future(done)
            assert record.attempt == 3  # the run's retries: 2, as it started

    virtual_clock.run(main())
    assert seen == [(2, 60.0)] * 3
