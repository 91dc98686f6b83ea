"""Events that arrive while another screen is on top, or before the table is mounted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sts_tui.app import SchedulerApp
from sts_tui.detail import JobDetailScreen
from sts_tui.dialogs import ConfirmRemove, HelpScreen
from sts_tui.jobs_table import COLUMNS, JobsTable
from textual.app import App, ComposeResult

pytestmark = pytest.mark.asyncio
SIZE = (120, 36)
Until = Callable[..., Awaitable[None]]
Control = Callable[..., dict[str, Any]]


def _tick_successes(app: SchedulerApp) -> int:
    return sum("succeeded tick in" in entry for entry in app.event_log.entries)


async def test_run_events_under_the_detail_screen_and_a_dialog_keep_the_app_alive(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()  # tick and boom fire every 300 ms
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 3, "three jobs")
        app.table.move_cursor(row=app.table.get_row_index("hourly"))
        await pilot.press("enter")
        assert isinstance(app.screen, JobDetailScreen)
        detail = app.screen
        await until(pilot, lambda: detail.plan, "the detail's data")

        before = _tick_successes(app)
        await until(pilot, lambda: _tick_successes(app) >= before + 2, "runs under the detail")

        await pilot.press("x")  # the remove dialog, over the detail screen
        assert isinstance(app.screen, ConfirmRemove)
        before = _tick_successes(app)
        await asyncio.to_thread(control, process.path, "trigger", job="hourly")
        await until(pilot, lambda: _tick_successes(app) >= before + 2, "runs under a dialog")
        # The detail under the dialog reloads when its job ran.
        await until(pilot, lambda: len(detail.runs) == 1, "hourly's manual run in the detail")
        await pilot.press("n")
        assert app.screen is detail
        await pilot.press("escape")
        assert not isinstance(app.screen, (JobDetailScreen, ConfirmRemove))

        await pilot.press("question_mark")  # a dialog over the main screen
        assert isinstance(app.screen, HelpScreen)
        applied = app.events_applied
        await until(pilot, lambda: app.events_applied >= applied + 4, "events under help")
        await pilot.press("escape")

        # Alive, connected, and what arrived meanwhile is on the main screen.
        assert app.is_running and app.connection_state == "connected"
        await until(pilot, lambda: app.table.get_cell("hourly", "succeeded") == "1", "the row")
        assert int(str(app.table.get_cell("tick", "succeeded"))) >= 4
        assert any("hourly in" in entry and "(manual)" in entry for entry in app.event_log.entries)


class _TableApp(App[None]):
    def __init__(self, table: JobsTable) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table


def _row(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": "every 1h",
        "next_fire": None,
        "paused": False,
        "running": 0,
        "last_outcome": None,
        "succeeded": 0,
        "failed": 0,
        "mean_duration": None,
        "last_duration": None,
    }


async def test_jobs_loaded_and_updated_before_the_table_is_mounted_are_shown_once() -> None:
    table = JobsTable(lambda: datetime(2026, 1, 1, tzinfo=UTC))
    table.load([_row("a"), _row("b")])  # the connection can be faster than mounting
    table.upsert({**_row("c"), "succeeded": 3})
    table.upsert({**_row("a"), "failed": 2})
    table.discard("b")
    app = _TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        header = table.render_line(0).text
        assert all(label in header for _, label, _ in COLUMNS)
        assert table.order == ["a", "c"]
        assert str(table.get_cell("a", "failed")) == "2"
        assert table.get_cell("c", "succeeded") == "3"
        table.upsert(_row("d"))  # and once mounted, rows go straight in
        assert table.row_count == 3


async def test_a_reload_asked_before_the_detail_screen_is_mounted_waits_for_its_columns(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.jobs.get("boom", {}).get("failed"), "a failure")
        # The scheduler's real answers, handed back without suspending, so the reload
        # finishes before the screen could mount (a fast socket on a slow machine).
        answers = {
            "jobs": await asyncio.to_thread(control, process.path, "jobs", job="boom"),
            "history": await asyncio.to_thread(control, process.path, "history", job="boom"),
            "plan": await asyncio.to_thread(control, process.path, "plan", job="boom", count=10),
        }

        async def answer(command: str, **arguments: Any) -> dict[str, Any]:
            return answers[command]

        detail = JobDetailScreen("boom", answer)
        app.push_screen(detail)
        detail.action_reload()  # what apply_events does when boom runs meanwhile
        await until(pilot, lambda: detail.runs and detail.plan, "the detail's data")
        await pilot.pause()
        assert app.is_running and app.screen is detail
        assert detail.query_one("#runs").row_count == len(answers["history"]["runs"]) >= 1
