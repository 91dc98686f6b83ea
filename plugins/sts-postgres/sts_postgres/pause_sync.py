"""Pause is the group's: a job paused or resumed on one replica is paused or resumed on
every replica within ``PAUSE_SYNC`` seconds.

Claims already refuse a job paused in the group, so a pause acts at once for firing; this
brings each replica's own view (``sts jobs``, the TUI, and whether its fire loop fires the
job at all) in line with the shared flag, so that a job resumed on a replica that then
dies is still fired by the others. Runs on the scheduler's loop, through the
``sts_scheduler_lifespan`` hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import psycopg
import psycopg_pool

import sts

from . import sql
from .store import PostgresStore

logger = logging.getLogger("sts.postgres")

T = TypeVar("T")

#: How often each replica reads the group's pause flags.
PAUSE_SYNC = 2.0


@contextlib.asynccontextmanager
async def follow_group_pauses(
    scheduler: sts.TaskScheduler, store: PostgresStore
) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(_follow(scheduler, store))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _follow(scheduler: sts.TaskScheduler, store: PostgresStore) -> None:
    wait_real = getattr(scheduler.clock, "wait_real", None)

    def real(work: Awaitable[T]) -> Awaitable[T]:
        return wait_real(work) if wait_real is not None else work

    while True:
        await asyncio.sleep(PAUSE_SYNC)
        if store.closed:
            return
        fetch = store._fetch(sql.PAUSED_JOBS, {"grp": store.group})
        try:
            submitted = store._thread.submit(fetch)
        except RuntimeError:  # the store's loop closed meanwhile
            fetch.close()
            return
        try:
            rows: list[tuple[Any, ...]] = await real(asyncio.wrap_future(submitted))
        except (psycopg.Error, psycopg_pool.PoolTimeout, OSError):
            continue  # the store says the database is gone; claims stop meanwhile
        apply_pauses(scheduler, store, {name: paused for name, paused in rows})


def apply_pauses(
    scheduler: sts.TaskScheduler, store: PostgresStore, flags: dict[str, bool]
) -> None:
    """Pause or resume the scheduler's jobs whose group flag differs from theirs."""
    for job in scheduler.jobs:
        shared = flags.get(job.name)
        if shared is None or shared == job.paused or job.paused_reason is not None:
            continue
        # Seen as the group's already: the save the change makes must not write the flag
        # back, over a newer change another replica made meanwhile.
        store._paused_seen[job.name] = shared
        (scheduler.pause if shared else scheduler.resume)(job)
        logger.info(
            "job %s %s by another replica of group %r",
            job.name,
            "paused" if shared else "resumed",
            store.group,
        )
