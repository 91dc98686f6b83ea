"""The UI against a real scheduler process on a temporary control socket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sts_tui.app import SchedulerApp
from sts_tui.detail import JobDetailScreen
from sts_tui.dialogs import ConfirmRemove, HelpScreen
from textual.widgets import DataTable

pytestmark = pytest.mark.asyncio
SIZE = (120, 36)
Until = Callable[..., Awaitable[None]]
Control = Callable[..., dict[str, Any]]


def _logged(app: SchedulerApp, text: str) -> bool:
    return any(text in entry for entry in app.event_log.entries)


def _cell(app: SchedulerApp, job: str, column: str) -> str:
    return str(app.table.get_cell(job, column))


async def _select(app: SchedulerApp, job: str) -> None:
    app.table.move_cursor(row=app.table.get_row_index(job))


async def test_jobs_appear_and_outcomes_reach_the_log(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 3, "three jobs")
        assert set(app.table.jobs) == {"tick", "boom", "hourly"}
        await until(pilot, lambda: _logged(app, "succeeded tick in"), "a success in the log")
        await until(pilot, lambda: _logged(app, "RuntimeError: boom"), "a failure in the log")
        await until(pilot, lambda: _cell(app, "boom", "failed") != "0", "boom's failure count")
        assert "failed" in _cell(app, "boom", "outcome")
        assert _cell(app, "hourly", "next").startswith(("in 59m", "in 1h 00m"))
        await until(
            pilot, lambda: "fires/min" in str(app.query_one("#stats-text").render()), "stats"
        )


async def test_run_now_key_creates_a_manual_run_in_the_history(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 3, "three jobs")
        await _select(app, "hourly")
        await pilot.press("r")
        await until(pilot, lambda: _logged(app, "hourly: manual run started"), "the manual run")
        history = await asyncio.to_thread(control, process.path, "history", job="hourly")
        runs = history["runs"]
        assert isinstance(runs, list) and [run["manual"] for run in runs] == [True]
        await until(pilot, lambda: _cell(app, "hourly", "succeeded") == "1", "the count")


async def test_pause_shows_the_marker_and_stops_fires(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)

    def tick_runs() -> int:
        runs = control(process.path, "history", job="tick", limit=1000)["runs"]
        assert isinstance(runs, list)
        return len(runs)

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 3, "three jobs")
        await _select(app, "tick")
        await pilot.press("p")
        await until(pilot, lambda: "paused" in _cell(app, "tick", "state"), "the paused marker")
        assert _cell(app, "tick", "next") == "paused"
        await until(pilot, lambda: _logged(app, "tick: paused"), "the log line")
        before = await asyncio.to_thread(tick_runs)
        await pilot.pause(1.0)  # three intervals of the job
        assert await asyncio.to_thread(tick_runs) - before <= 1  # one may have been under way
        await pilot.press("p")
        await until(pilot, lambda: "paused" not in _cell(app, "tick", "state"), "resumed")
        await until(pilot, lambda: tick_runs() > before + 1, "fires after resume")


async def test_remove_asks_first_and_removes_only_when_confirmed(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 3, "three jobs")
        await _select(app, "hourly")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmRemove)
        await pilot.press("n")
        await pilot.pause(0.2)
        assert "hourly" in app.table.jobs
        await pilot.press("x", "y")
        await until(pilot, lambda: "hourly" not in app.table.jobs, "the row to go")
        jobs = await asyncio.to_thread(control, process.path, "jobs")
        assert [job["name"] for job in jobs["jobs"]] == ["tick", "boom"]


async def test_a_stopped_scheduler_shows_reconnecting_and_the_ui_comes_back(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path, retry_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connection_state == "connected", "the connection")
        await asyncio.to_thread(process.stop)
        await until(pilot, lambda: app.connection_state == "reconnecting", "reconnecting")
        assert "The scheduler tui-test stopped" in app.status_text()
        assert "Reconnecting to" in app.status_text()
        assert _logged(app, "scheduler tui-test stopped: reconnecting")
        await asyncio.to_thread(process.start)
        await until(pilot, lambda: app.connection_state == "connected", "the reconnection")
        assert app.status_text() == ""
        await until(pilot, lambda: app.table.row_count == 3, "the jobs again")


async def test_without_a_scheduler_the_ui_says_how_to_start_one(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory(start=False)
    app = SchedulerApp(process.path, retry_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connection_state == "waiting", "the waiting state")
        text = app.status_text()
        assert f"No scheduler is listening on {process.path}" in text
        assert "sts run CONFIG" in text and "control_socket=True" in text
        await asyncio.to_thread(process.start)
        await until(pilot, lambda: app.table.row_count == 3, "the jobs once it runs")


async def test_the_detail_shows_recent_runs_with_traceback_and_the_next_fires(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 3, "three jobs")
        await until(pilot, lambda: _cell(app, "boom", "failed") != "0", "a failure of boom")
        await _select(app, "boom")
        await pilot.press("enter")
        assert isinstance(app.screen, JobDetailScreen)
        detail = app.screen
        await until(pilot, lambda: detail.runs and detail.plan, "the detail's data")
        assert detail.query_one("#runs", DataTable).row_count == len(detail.runs) >= 1
        details = str(detail.query_one("#run-text").render())
        assert "Traceback" in details and "RuntimeError: boom" in details
        assert detail.query_one("#plan", DataTable).row_count == 10
        await pilot.press("escape")
        assert not isinstance(app.screen, JobDetailScreen)


async def test_slash_filters_the_table_and_escape_clears_it(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 3, "three jobs")
        await pilot.press("slash", "t", "i")
        await until(pilot, lambda: app.table.row_count == 1, "the filter")
        assert app.table.order == ["tick"]
        await pilot.press("escape")
        await until(pilot, lambda: app.table.row_count == 3, "the filter cleared")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "q")
    assert app.return_code in (0, None)


BROKEN_JOB = """
from datetime import timedelta

async def tick():
    pass

def stuck(after):
    return after - timedelta(seconds=1)  # a time already past: a broken trigger

first = [True]

def breaks_later(after):
    if first.pop() if first else False:
        return after + timedelta(milliseconds=300)
    return stuck(after)

scheduler.schedule(sts.FunctionTask(tick, name="tick"), "every 300ms", name="tick")
scheduler.schedule(sts.FunctionTask(tick, name="stuck"), breaks_later, name="stuck")
"""


async def test_a_job_set_aside_by_the_scheduler_shows_why(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory(BROKEN_JOB)
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 2, "two jobs")
        await until(pilot, lambda: "set aside" in _cell(app, "stuck", "state"), "set aside")
        (row,) = control(process.path, "jobs", job="stuck")["jobs"]
        assert row["paused"] and "broken trigger" in row["paused_reason"]
        assert _cell(app, "tick", "state") in ("", "▶ running")  # the other job fires on
        # The marker says why, in the table (as far as the column goes) and in the detail.
        reason = row["paused_reason"]
        state = _cell(app, "stuck", "state")
        assert state.startswith("‖ set aside: broken trigger 'breaks_later'")
        assert state.rstrip("…") in f"‖ set aside: {reason}"
        await pilot.pause()
        app.table.scroll_to(x=app.table.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()
        on_screen = app.table.render_line(1 + app.table.get_row_index("stuck")).text
        assert "‖ set aside: broken trigger" in on_screen  # scrolled to the right
        await _select(app, "stuck")
        await pilot.press("enter")
        assert isinstance(app.screen, JobDetailScreen)
        marker = app.screen.query_one("#detail-state")
        await until(pilot, lambda: marker.display, "the detail's paused marker")
        assert f"‖ set aside: {reason}" in str(marker.render())


REFUSED_NOTIFICATION = """
class Refused:
    async def notify(self, event):
        raise sts.PermanentError("550 no such user")

class Plugin:
    @sts.hookimpl
    def sts_register_notifiers(self, register):
        register("refusing", lambda target, **options: Refused())

scheduler.plugins.register(Plugin(), name="refusing-notifier")

async def boom():
    raise RuntimeError("boom")

scheduler.schedule(
    sts.FunctionTask(boom, name="boom"), "every 1h", name="boom", notify=["refusing:ops"]
)
"""


async def test_the_detail_lists_a_notification_that_was_not_delivered(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory(REFUSED_NOTIFICATION)
    control(process.path, "trigger", job="boom")  # it fails; its notification is refused

    def recorded() -> bool:
        runs = control(process.path, "history", job="boom")["runs"]
        return any(run["outcome"] == "notify_failed" for run in runs)

    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        # Written after the run's own record, and no event tells the UI (docs/tui.md).
        await until(pilot, recorded, "the notify_failed record")
        await until(pilot, lambda: app.table.row_count == 1, "the job")
        await pilot.press("enter")
        assert isinstance(app.screen, JobDetailScreen)
        detail = app.screen

        def outcomes() -> list[str]:
            return [run["outcome"] for run in detail.runs]

        await until(pilot, lambda: "notify_failed" in outcomes(), "the detail's runs")
        await pilot.pause(0.1)
        row = outcomes().index("notify_failed")
        assert str(detail.query_one("#runs", DataTable).get_cell_at((row, 1))) == "✉ notify failed"
