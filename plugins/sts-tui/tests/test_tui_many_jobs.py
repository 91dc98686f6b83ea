"""10,000 jobs: the table shows its first page at once and fills while the UI keeps
reading events, so a control server that drops slow readers never drops it.

These tests assert behaviour; the numbers (seconds, CPU) are measured by
``python -m bench.tui`` and reported in docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sts_tui.app import FIRST_PAGE, FilterInput, SchedulerApp

pytestmark = pytest.mark.asyncio

MANY_JOBS = """
async def work():
    pass

task = sts.FunctionTask(work, name="work")
for number in range(10_000):
    scheduler.schedule(task, "every 3s", name=f"job-{number:05d}")
"""


async def test_ten_thousand_jobs_load_in_pages_while_bursts_are_read_and_followed(
    scheduler_factory: Callable[..., Any], until: Callable[..., Awaitable[None]]
) -> None:
    # Every job fires every 3 s: 20,000 events (started and finished) per 3 s, each with
    # its job's row, from a server that drops a client 8 MiB behind. A UI that stopped
    # reading while it built its table (as it once did, for seconds) is dropped here.
    process = scheduler_factory(MANY_JOBS, small_buffer=True)
    app = SchedulerApp(process.path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.table.row_count >= FIRST_PAGE, "the first page")
        await until(pilot, lambda: app.loaded, "every page")
        assert app.table.row_count == 10_000
        assert app.table.order[:3] == ["job-00000", "job-00001", "job-00002"]  # by name
        await until(pilot, lambda: app.events_applied >= 20_000, "a burst of 20,000 events")
        assert app.table.updates >= 10_000  # rows taken one by one, no reload
        assert app.table.row_count == 10_000
        assert app.connection_state == "connected"
        assert not any("stopped" in entry for entry in app.event_log.entries)
        # The keyboard is answered during the bursts.
        await pilot.press("slash")
        app.query_one(FilterInput).value = "job-09999"  # typed at once: one filter
        await pilot.press("enter")
        await until(pilot, lambda: app.table.row_count == 1, "the filter")
        assert app.table.order == ["job-09999"]
        await until(pilot, lambda: app.events_applied >= 40_000, "the next bursts")
        assert app.connection_state == "connected"


async def test_only_the_rows_on_screen_are_drawn(
    scheduler_factory: Callable[..., Any], until: Callable[..., Awaitable[None]]
) -> None:
    process = scheduler_factory(MANY_JOBS)
    app = SchedulerApp(process.path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.loaded, "every page")
        drawn: list[str] = []
        draw = app.table._draw

        def counting(name: str | None, *arguments: Any) -> Any:
            drawn.append(name or "")
            return draw(name, *arguments)

        app.table._draw = counting  # type: ignore[method-assign,assignment]
        app.table.refresh()
        await pilot.pause()
        await pilot.press("end")  # to the last job: only the screen's rows are drawn again
        await pilot.pause()
        assert 0 < len(drawn) <= 2 * app.table.size.height
        assert "job-09999" in drawn and "job-05000" not in drawn
