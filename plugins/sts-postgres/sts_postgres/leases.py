"""Leases: which replicas of a group are alive, and what happens to a dead one's runs.

Each replica holds a row in ``sts_replicas`` whose ``expires_at`` it pushes ``lease``
ahead on every heartbeat (every third of ``lease``). A replica that finds another's lease
expired deletes the row (the delete locks it: one replica wins) and, in the same
transaction, records that replica's runs in flight, and its claimed fires that never
finished, as ``interrupted``. Lease times are the database's clock (``now()``), so the
replicas' own clocks may disagree.

A replica that comes back after its lease expired (a network partition, a paused VM)
finds its row gone, says so, and takes a new lease: its fires were claimed one by one, so
none runs twice; a run it finished meanwhile has both an ``interrupted`` record (written
by the replica that took over) and its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
import psycopg_pool

import sts

from . import sql
from .rows import interrupted, new_record_id

if TYPE_CHECKING:
    from .store import PostgresStore

logger = logging.getLogger("sts.postgres")

T = TypeVar("T")

#: Every how many heartbeats old claims are pruned and definitions compared.
HOUSEKEEPING_EVERY = 10
#: How often the list of live replicas (which fires to claim first) is read again.
LIVE_REFRESH = 1.0


class LeaseKeeper:
    """Takes, renews and gives up one replica's lease, and takes over expired ones."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._task: asyncio.Task[None] | None = None
        self._task_loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._beats = 0
        self._joined = False
        self._failing = False
        #: (job, other definition) pairs already reported, so each is logged once.
        self._mixed_reported: set[tuple[str, str]] = set()
        #: How many runs this replica recorded interrupted for others (for tests, bench).
        self.taken_over = 0

    @property
    def interval(self) -> float:
        return self._store.lease / 3

    def _parameters(self, **more: Any) -> dict[str, Any]:
        store = self._store
        return {"grp": store.group, "replica": store.replica, "now": store.now_parameter(), **more}

    # -- the lease ----------------------------------------------------------------------------

    async def join(self) -> None:
        """Take this replica's lease (on the store's loop)."""
        store = self._store
        async with store.connection() as connection:
            await connection.execute(
                sql.TAKE_LEASE,
                self._parameters(host=store.host, pid=os.getpid(), lease=store.lease),
            )
        self._joined = True
        await self.refresh_live()

    async def renew(self) -> None:
        store = self._store
        async with store.connection() as connection:
            cursor = await connection.execute(sql.RENEW_LEASE, self._parameters(lease=store.lease))
            if cursor.rowcount == 0:
                logger.warning(
                    "the lease of replica %s had expired (no heartbeat reached %s for %gs): "
                    "another replica may have recorded its runs interrupted; taking a new one",
                    store.replica,
                    store.where,
                    store.lease,
                )
                await connection.execute(
                    sql.TAKE_LEASE,
                    self._parameters(host=store.host, pid=os.getpid(), lease=store.lease),
                )

    async def refresh_live(self) -> None:
        rows = await self._store._fetch(sql.LIVE_REPLICAS, self._parameters())
        live = [row[0] for row in rows]
        if self._store.replica not in live:
            live = sorted([*live, self._store.replica])
        self._store.claims.live = live

    async def leave(self) -> None:
        """Give the lease up (a clean stop): nothing of this replica is left to take over."""
        if not self._joined:
            return
        self._joined = False
        async with self._store.connection() as connection:
            await connection.execute(sql.DROP_LEASE, self._parameters())

    # -- taking over ----------------------------------------------------------------------------

    async def take_over(self, *, include_dead_here: bool = False) -> list[sts.RunRecord]:
        """Record the runs of replicas whose lease expired (and, with ``include_dead_here``,
        of replicas on this host whose process is gone) as ``interrupted``; return them."""
        store = self._store
        async with store.connection() as connection, connection.transaction():
            cursor = await connection.execute(sql.EXPIRED_LEASES, self._parameters())
            dead = await cursor.fetchall()
            if include_dead_here:
                cursor = await connection.execute(
                    sql.REPLICAS_ON_HOST, self._parameters(host=store.host)
                )
                gone = [replica for replica, pid in await cursor.fetchall() if not _alive(pid)]
                if gone:
                    cursor = await connection.execute(
                        sql.DROP_REPLICAS, self._parameters(replicas=gone)
                    )
                    dead += await cursor.fetchall()
            if not dead:
                return []
            replicas = [row[0] for row in dead]
            described = {
                replica: f"replica {replica} (pid {pid} on {host}), whose lease expired at "
                f"{expires.isoformat(timespec='seconds')}"
                for replica, host, pid, expires in dead
            }
            cursor = await connection.execute(
                sql.ORPHANED_RUNS, self._parameters(replicas=replicas)
            )
            runs = await cursor.fetchall()
            cursor = await connection.execute(
                sql.ORPHANED_CLAIMS, self._parameters(replicas=replicas)
            )
            claims = await cursor.fetchall()
            records = _interrupted_records(runs, claims, described, store.replica)
            if records:
                await store.insert_records(
                    connection, [(record, store.replica) for record in records]
                )
        self.taken_over += len(records)
        for replica in replicas:
            logger.warning(
                "took over %s: %d run(s) recorded interrupted",
                described[replica],
                sum(1 for record in records if replica in (record.error or "")),
            )
        return records

    # -- the heartbeat ----------------------------------------------------------------------------

    async def beat(self) -> None:
        """One heartbeat: renew, take over expired leases, see who is alive, and now and
        then prune old claims and compare job definitions."""
        await self.renew()
        await self.take_over()
        await self.refresh_live()
        self._beats += 1
        if self._beats % HOUSEKEEPING_EVERY == 1:
            await self.housekeeping()

    async def housekeeping(self) -> None:
        store = self._store
        async with store.connection() as connection:
            await connection.execute(
                sql.PRUNE_CLAIMS, self._parameters(retention=store.claim_retention)
            )
            cursor = await connection.execute(sql.JOB_SCHEDULES, self._parameters())
            rows = await cursor.fetchall()
        for name, schedule, saved_by in rows:
            mine = store.schedules.get(name)
            if mine is None or mine == schedule or (name, schedule) in self._mixed_reported:
                continue
            self._mixed_reported.add((name, schedule))
            logger.error(
                "replicas of group %r disagree on job %s: this one (%s) has %r, replica %s "
                "saved %r. Each replica fires its own definition, and claims only keep "
                "fires of the same time from running twice: give every replica the same "
                "configuration",
                store.group,
                name,
                store.replica,
                mine,
                saved_by,
                schedule,
            )

    def start(self, engine_loop: asyncio.AbstractEventLoop | None) -> None:
        """Beat until :meth:`stop`: on the engine's loop when the store has a test clock
        (so that lease time is virtual time), else on the store's own loop."""
        store = self._store
        clock = store.clock
        if clock is not None and engine_loop is not None:
            wait_real = getattr(clock, "wait_real", None)

            def run(work: Coroutine[Any, Any, T]) -> Awaitable[T]:
                try:
                    submitted = store._thread.submit(work)
                except RuntimeError:  # the store's loop closed: the store is closed
                    work.close()
                    raise asyncio.CancelledError from None
                done = asyncio.wrap_future(submitted)
                return wait_real(done) if wait_real is not None else done

            self._task_loop = engine_loop
            self._task = engine_loop.create_task(self._beat_forever(run))
        else:

            def run_here(work: Coroutine[Any, Any, T]) -> Awaitable[T]:
                return work

            loop = store._thread.loop
            self._task_loop = loop

            def create() -> None:
                self._task = loop.create_task(self._beat_forever(run_here))

            loop.call_soon_threadsafe(create)
        # Who is alive decides which fires this replica claims first: looked up more often
        # than the lease is renewed, so a replica that joins or leaves gets its share soon.
        store._thread.loop.call_soon_threadsafe(self._watch_live)

    def _watch_live(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._refresh_live_forever())

    async def _refresh_live_forever(self) -> None:
        while True:
            await asyncio.sleep(LIVE_REFRESH)
            with contextlib.suppress(psycopg.Error, psycopg_pool.PoolTimeout, OSError):
                await self.refresh_live()

    async def _beat_forever(
        self, run: Callable[[Coroutine[Any, Any, None]], Awaitable[None]]
    ) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await run(self.beat())
            except (psycopg.Error, psycopg_pool.PoolTimeout, OSError) as error:
                if not self._failing:
                    logger.error(
                        "replica %s cannot renew its lease on %s (%s): it claims no fire "
                        "until the database answers, and tries again every %gs",
                        self._store.replica,
                        self._store.where,
                        str(error).strip().splitlines()[0] if str(error).strip() else error,
                        self.interval,
                    )
                self._failing = True
            else:
                if self._failing:
                    logger.warning("replica %s renews its lease again", self._store.replica)
                self._failing = False

    def stop(self) -> None:
        """Stop beating (from any thread)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None and not self._store._thread.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._store._thread.loop.call_soon_threadsafe(watcher.cancel)
        task, loop = self._task, self._task_loop
        self._task = None
        if task is None or loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(task.cancel)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def _interrupted_records(
    runs: list[tuple[Any, ...]],
    claims: list[tuple[Any, ...]],
    described: dict[str, str],
    by: str,
) -> list[sts.RunRecord]:
    records: list[sts.RunRecord] = []
    started: set[tuple[str, datetime]] = set()
    for run_id, job, fire_time, attempt, started_at, manual, replica in runs:
        started.add((job, fire_time))
        records.append(
            interrupted(
                run_id,
                job,
                fire_time,
                attempt,
                started_at,
                manual,
                f"interrupted: {described[replica]}, stopped before the run finished; "
                f"recorded by replica {by}",
            )
        )
    for job, fire_time, replica in claims:
        if (job, fire_time) in started:
            continue
        records.append(
            interrupted(
                new_record_id(),
                job,
                fire_time,
                1,
                None,
                False,
                f"interrupted: {described[replica]}, claimed this fire and stopped before "
                f"its run finished (or started); recorded by replica {by}",
            )
        )
    return records
