"""The edges an operator meets: a scheduler with no jobs, a job removed (by someone else)
while its detail is open, the help that fits its box, and a "stopped at" that says when
the scheduler stopped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.text import Text
from sts_tui.app import SchedulerApp
from sts_tui.detail import JobDetailScreen
from sts_tui.dialogs import HELP, HelpScreen

pytestmark = pytest.mark.asyncio
SIZE = (120, 36)
Until = Callable[..., Awaitable[None]]
Control = Callable[..., dict[str, Any]]


async def test_a_scheduler_without_jobs_says_so_and_shows_the_first_one_added(
    scheduler_factory: Callable[..., Any], until: Until
) -> None:
    process = scheduler_factory("")
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.loaded, "the (empty) job list")
        assert app.table.row_count == 0 and app.table.selected_job is None
        assert "has no jobs yet" in app.table.render_line(1).text
        await pilot.press("r")  # nothing selected: a warning, not a crash
        await pilot.press("t")  # an empty timeline
        await pilot.press("escape")
        assert app.is_running
        await pilot.press("slash", "x", "enter")
        await until(pilot, lambda: "contains 'x'" in app.table.render_line(1).text, "why empty")


async def test_a_job_removed_while_its_detail_is_open_says_so_and_keeps_what_it_showed(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.table.row_count == 3, "three jobs")
        app.table.move_cursor(row=app.table.get_row_index("tick"))
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, JobDetailScreen)
        await until(pilot, lambda: screen.runs, "the runs")
        control(process.path, "remove", job="tick")  # from another terminal
        state = screen.query_one("#detail-state")
        await until(pilot, lambda: "removed from the scheduler" in str(state.render()), "it")
        assert screen.removed and screen.runs  # the last runs stay on screen
        await pilot.pause(1.0)  # later events reload nothing, and nothing fails
        assert "removed from the scheduler" in str(state.render())
        await pilot.press("escape")
        await until(pilot, lambda: "tick" not in app.table.jobs, "the row to go")


async def test_the_help_fits_its_box_without_ragged_wrapping(
    scheduler_factory: Callable[..., Any], until: Until
) -> None:
    process = scheduler_factory()
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        box = app.screen.query_one("#help")
        width = box.content_region.width
        lines = Text.from_markup(HELP).plain.splitlines()
        assert max(len(line) for line in lines) <= width
        # Every line of the text is one line on screen: none was wrapped.
        assert box.content_region.height == len(lines)


SLOW_JOB = """
import asyncio

async def slow():
    await asyncio.sleep(3)

scheduler.schedule(sts.FunctionTask(slow, name="slow"), "every 24h", name="slow")
"""


async def test_the_stopped_banner_gives_the_time_the_scheduler_stopped_not_when_it_hung_up(
    scheduler_factory: Callable[..., Any], until: Until, control: Control
) -> None:
    process = scheduler_factory(SLOW_JOB)
    app = SchedulerApp(process.path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.loaded, "the job")
        control(process.path, "trigger", job="slow")
        await until(pilot, lambda: app.table.jobs["slow"]["running"], "the run")
        assert process.process is not None
        process.process.terminate()  # it stops firing now, and waits 3 s for its run
        await until(pilot, lambda: app.stopping_at is not None, "the stopping event")
        assert app.stopping_at is not None
        assert _logged(app, "the scheduler is stopping, waiting for 1 runs to finish")
        await until(pilot, lambda: app.connection_state == "reconnecting", "the hang-up")
        noticed = datetime.now(UTC)
        assert (noticed - app.stopping_at).total_seconds() > 1.5  # the run held the socket
        stopped = app.stopping_at.astimezone(app.times.zone()).strftime("%H:%M:%S")
        assert f"stopped at {stopped}" in app.status_text()


def _logged(app: SchedulerApp, text: str) -> bool:
    return any(text in entry for entry in app.event_log.entries)
