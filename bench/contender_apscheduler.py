"""The peer: APScheduler 3.11's ``AsyncIOScheduler`` with its memory job store."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from .contenders import Runs


class APScheduler:
    """APScheduler as its users run it: defaults, except where noted.

    A one-shot job gets ``misfire_grace_time=None``: with the default of one second, most
    of a 100,000-job burst would be dropped as missed instead of run.
    """

    name = "apscheduler"

    def __init__(self, runs: Runs) -> None:
        self._runs = runs
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    async def start(self) -> None:
        self._scheduler.start()

    async def _interval_job(self, anchor: float, interval: float) -> None:
        # APScheduler does not tell a job its scheduled time: it is the grid point
        # before now, exact as long as a run is less than an interval late.
        elapsed = time.time() - anchor
        self._runs.started(anchor + math.floor(elapsed / interval) * interval)

    async def _once_job(self, at: float) -> None:
        self._runs.started(at)

    def add_interval(self, name: str, interval: float, first: float | None) -> None:
        if first is None:
            self._scheduler.add_job(
                self._interval_job,
                "interval",
                seconds=interval,
                id=name,
                args=(time.time() + interval, interval),
            )
            return
        self._scheduler.add_job(
            self._interval_job,
            "interval",
            seconds=interval,
            start_date=datetime.fromtimestamp(first, UTC),
            id=name,
            args=(first, interval),
        )

    def add_once(self, name: str, at: float) -> None:
        self._scheduler.add_job(
            self._once_job,
            "date",
            run_date=datetime.fromtimestamp(at, UTC),
            id=name,
            args=(at,),
            misfire_grace_time=None,
        )

    def remove(self, name: str) -> None:
        self._scheduler.remove_job(name)

    async def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
