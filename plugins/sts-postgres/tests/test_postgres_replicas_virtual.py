"""Replicas in one process on the virtual clock: minutes of schedule in a second. Each
nominal fire runs once across the replicas; a replica that dies leaves its runs under a
lease, which another replica takes over once it expires, while the schedule goes on."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

from sts_postgres import PostgresStore

import sts
from sts.testing import VirtualClock

JOBS = 5


def replica(
    dsn: str,
    clock: VirtualClock,
    ran: list[tuple[str, datetime, int]],
    number: int,
    **options: object,
) -> sts.TaskScheduler:
    store = PostgresStore(dsn, group="virtual", clock=clock, **options)  # type: ignore[arg-type]
    scheduler = sts.TaskScheduler(name="virtual", clock=clock, store=store)
    for job in range(JOBS):

        async def run(job: int = job) -> None:
            context = sts.current_run()
            ran.append((context.job, context.fire_time, number))

        scheduler.schedule(sts.FunctionTask(run, name=f"job{job}"), "every 1s")
    return scheduler


async def close_stores(*schedulers: sts.TaskScheduler) -> None:
    """Close what the schedulers' stores hold (connections, the lease), as ``sts run`` does
    after the scheduler stops."""
    for scheduler in schedulers:
        await asyncio.to_thread(scheduler.store.close)


def test_every_fire_runs_once_across_replicas(dsn: str, virtual_clock: VirtualClock) -> None:
    ran: list[tuple[str, datetime, int]] = []

    async def main() -> None:
        first = replica(dsn, virtual_clock, ran, 0)
        second = replica(dsn, virtual_clock, ran, 1)
        async with first, second:
            await asyncio.sleep(30.5)
        await close_stores(first, second)

    virtual_clock.run(main())
    fires = Counter((job, fire) for job, fire, _ in ran)
    assert set(fires.values()) == {1}  # none doubled
    for job in range(JOBS):  # none lost: every second from the first fire to the last
        seconds = sorted(int(fire.timestamp()) for name, fire in fires if name == f"job{job}")
        assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))
        assert len(seconds) >= 30
    shares = Counter(number for _, _, number in ran)
    assert min(shares.values()) > 30 * JOBS // 4, shares  # both did a fair part


def test_a_dead_replicas_runs_are_taken_over_when_its_lease_expires(
    dsn: str, virtual_clock: VirtualClock
) -> None:
    ran: list[tuple[str, datetime, int]] = []
    blocked = asyncio.Event()

    async def main() -> list[sts.RunRecord]:
        doomed_store = PostgresStore(dsn, group="virtual", clock=virtual_clock, lease=30)
        doomed = sts.TaskScheduler(name="virtual", clock=virtual_clock, store=doomed_store)

        async def hang() -> None:
            blocked.set()
            await asyncio.sleep(3600)

        soon = sts.DateTrigger(virtual_clock.now() + timedelta(seconds=2))
        doomed.schedule(sts.FunctionTask(hang, name="long"), soon)
        survivor = replica(dsn, virtual_clock, ran, 1, lease=30)
        async with survivor:
            await doomed.start()
            await asyncio.wait_for(blocked.wait(), 60)
            # kill -9, as far as the group can tell: no more heartbeats, claims or writes.
            doomed_store.abandon()
            died = virtual_clock.now()
            await asyncio.sleep(20)
            assert survivor.store.history("long") == []  # the lease still holds
            await asyncio.sleep(25)  # past 30s without a heartbeat
            records = survivor.store.history("long")
            await doomed.stop(grace=0)
        await close_stores(survivor)
        assert {fire for job, fire, _ in ran if job == "job0" and fire > died}, "schedule stopped"
        return records

    records = virtual_clock.run(main())
    [taken] = records
    assert taken.outcome is sts.Outcome.INTERRUPTED
    assert "whose lease expired" in (taken.error or "")


def test_a_pause_on_one_replica_reaches_the_others(dsn: str, virtual_clock: VirtualClock) -> None:
    ran: list[tuple[str, datetime, int]] = []

    async def main() -> tuple[bool, bool, int, bool]:
        first = replica(dsn, virtual_clock, ran, 0)
        second = replica(dsn, virtual_clock, ran, 1)
        async with first, second:
            await asyncio.sleep(3)
            first.pause("job0")
            # Written at once (the store's writer works in real time, which the virtual
            # clock outruns), then the pause reaches the second replica.
            await asyncio.to_thread(first.store.flush)
            await asyncio.sleep(5)
            paused_there = second.get_job("job0").paused
            paused_at = virtual_clock.now()
            await asyncio.sleep(3)
            fired_while_paused = sum(
                1 for job, fire, _ in ran if job == "job0" and fire > paused_at
            )
            second.resume("job0")  # resumed on the other replica
            await asyncio.to_thread(second.store.flush)
            await asyncio.sleep(5)
            resumed_here = not first.get_job("job0").paused
            first_store = first.store
            assert isinstance(first_store, PostgresStore)
            stored = first_store.load_jobs()["job0"].paused
        await close_stores(first, second)
        return paused_there, resumed_here, fired_while_paused, stored

    paused_there, resumed_here, fired_while_paused, stored = virtual_clock.run(main())
    assert paused_there and resumed_here and not stored
    assert fired_while_paused == 0
