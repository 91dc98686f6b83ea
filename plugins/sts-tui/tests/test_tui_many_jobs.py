"""10,000 jobs: the table loads them once and then follows bursts of runs cell by cell."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sts_tui.app import FilterInput, SchedulerApp

pytestmark = pytest.mark.asyncio

MANY_JOBS = """
async def work():
    pass

task = sts.FunctionTask(work, name="work")
for number in range(10_000):
    scheduler.schedule(task, "every 3s", name=f"job-{number:05d}")
"""


async def test_ten_thousand_jobs_load_once_and_bursts_are_followed_incrementally(
    scheduler_factory: Callable[..., Any], until: Callable[..., Awaitable[None]]
) -> None:
    process = scheduler_factory(MANY_JOBS)
    app = SchedulerApp(process.path)
    async with app.run_test(size=(120, 36)) as pilot:
        started = time.monotonic()
        await until(pilot, lambda: app.table.row_count == 10_000, "10,000 rows")
        load_seconds = time.monotonic() - started
        # Every job fires within 3 s: a burst of 20,000 events (started and finished).
        await until(pilot, lambda: app.events_applied >= 20_000, "a burst of 20,000 events")
        follow_seconds = time.monotonic() - started - load_seconds
        assert app.table.updates >= 10_000  # cells written one by one, no reload
        assert app.table.row_count == 10_000
        # The UI still answers the keyboard at once.
        typed = time.monotonic()
        await pilot.press("slash")
        app.query_one(FilterInput).value = "job-09999"  # typed at once: one rebuild
        await pilot.press("enter")
        await until(pilot, lambda: app.table.row_count == 1, "the filter")
        filter_seconds = time.monotonic() - typed
        assert app.table.order == ["job-09999"]
    print(
        f"\n10,000 jobs: loaded in {load_seconds:.2f}s, 20,000 events followed in "
        f"{follow_seconds:.2f}s, filter applied in {filter_seconds:.2f}s"
    )
