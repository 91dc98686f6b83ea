"""A burst is applied in turns: the loop (a key) runs between them, and what a batch's
parts carry reaches the screens as if it had come in one piece."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sts_tui.app import ROWS_PER_TURN, SchedulerApp
from sts_tui.detail import JobDetailScreen

pytestmark = pytest.mark.asyncio
SIZE = (120, 36)
Until = Callable[..., Awaitable[None]]
Control = Callable[..., dict[str, Any]]


def _row(name: str, revision: int = 1) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": "every 1h",
        "timezone": "UTC",
        "next_fire": None,
        "last_fire": None,
        "paused": False,
        "paused_reason": None,
        "running": 0,
        "last_outcome": "succeeded",
        "succeeded": 1,
        "failed": 0,
        "mean_duration": 0.1,
        "last_duration": 0.1,
        "revision": revision,
    }


def _batch(rows: list[dict[str, Any]], events: list[dict[str, Any]], count: int) -> dict[str, Any]:
    return {
        "event": "batch",
        "data": {"jobs": rows, "removed": [], "events": events, "count": count},
    }


async def test_a_burst_of_rows_is_put_in_turns_with_the_loop_running_between(
    tmp_path: Path,
) -> None:
    app = SchedulerApp(tmp_path / "nobody.sock")  # no scheduler: the rows come from here
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = [_row(f"job-{number:05d}") for number in range(ROWS_PER_TURN * 5 // 2)]
        turns = 0
        stop = asyncio.Event()

        async def count_turns() -> None:  # what a key waits for: a turn of the loop
            nonlocal turns
            while not stop.is_set():
                turns += 1
                await asyncio.sleep(0)

        counter = asyncio.create_task(count_turns())
        await asyncio.sleep(0)
        before = turns
        await app._apply_in_turns([_batch(rows, [], len(rows))])
        stop.set()
        await counter
        assert turns - before >= 2  # 2,500 rows: three turns, the loop ran between them
        assert app.table.row_count == len(rows) and app.events_applied == len(rows)


async def test_the_detail_reloads_when_its_row_came_in_an_earlier_part_of_the_batch(
    scheduler_factory: Callable[..., Any], control: Control, tmp_path: Path, until: Until
) -> None:
    process = scheduler_factory()
    ran = await asyncio.to_thread(control, process.path, "trigger", job="hourly", wait=True)
    answers = {
        "jobs": await asyncio.to_thread(control, process.path, "jobs", job="hourly"),
        "history": await asyncio.to_thread(control, process.path, "history", job="hourly"),
        "plan": await asyncio.to_thread(control, process.path, "plan", job="hourly", count=10),
    }
    asked: list[str] = []

    async def answer(command: str, **arguments: Any) -> dict[str, Any]:
        asked.append(command)
        return answers[command]

    app = SchedulerApp(tmp_path / "nobody.sock")  # the batch comes from here
    async with app.run_test(size=SIZE) as pilot:
        detail = JobDetailScreen("hourly", answer)
        app.push_screen(detail)
        await until(pilot, lambda: detail.plan, "the detail's data")
        asked.clear()
        (row,) = answers["jobs"]["jobs"]
        finished = {"event": "run_finished", "data": {"record": ran["run"]}}
        # hourly's row in the first part, the end of its run among the last part's events.
        rows = [_row(f"job-{number}") for number in range(2)]
        app.apply_events([_batch([row, *rows], [], 0)])
        assert not asked  # a part: its events are still to come
        app.apply_events([_batch(rows, [finished], 1)])
        await until(pilot, lambda: "history" in asked, "the detail reloaded")


async def test_the_table_takes_the_whole_lists_height_with_its_first_page(tmp_path: Path) -> None:
    # Each change of height is a layout pass of the whole screen: one per attach, not one
    # per page (and the scroll bar does not jump while the pages come in).
    app = SchedulerApp(tmp_path / "nobody.sock")
    async with app.run_test(size=SIZE) as pilot:
        rows = [_row(f"job-{number:04d}") for number in range(1000)]
        app.table.load(rows[:200], 1000)
        await pilot.pause()
        assert app.table.virtual_size.height == 1 + 1000
        assert app.table.render_line(1 + 500 - int(app.table.scroll_y)).text.strip() == ""
        for start in range(200, 1000, 300):
            app.table.extend(rows[start : start + 300])
            assert app.table.virtual_size.height == 1 + 1000
        app.table.discard("job-0999")  # removed meanwhile: the list ends shorter
        app.table.resort()
        assert app.table.virtual_size.height == 1 + 999


async def test_what_the_ui_holds_after_the_load_is_frozen_until_the_connection_ends(
    scheduler_factory: Callable[..., Any], until: Until
) -> None:
    import gc

    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.loaded, "the job list")
        assert gc.get_freeze_count() > 0 and gc.isenabled()
    for _ in range(100):  # the connection's worker ends after the app (cancelled)
        if not gc.get_freeze_count():
            break
        await asyncio.sleep(0.05)
    assert gc.get_freeze_count() == 0  # the app's objects can be collected again
